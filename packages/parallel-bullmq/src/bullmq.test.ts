import { randomBytes } from 'node:crypto';
import { backtest, generateOhlcv } from '@peaktrade/backtest';
import { StrategyFailedError, parallelBacktest } from '@peaktrade/parallel';
import { deleteKeys, requireRedis, startPrivateRedis, type TestRedis } from '@peaktrade/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  runCli,
  startWorkerProcess,
  tasksModule,
  workerCliArgs,
  type WorkerProcess,
} from '../test/workers.js';
import {
  NoWorkersError,
  RedisUnavailableError,
  bullmqBackend,
  type BullmqBackend,
} from './index.js';

let redis: TestRedis | undefined;
const tag = randomBytes(4).toString('hex');
const queue = `pt-test-${tag}`;
const prefix = `pt-test-bq:${tag}`;
const data = generateOhlcv({ bars: 3000, seed: 11 });
const strategies = Array.from({ length: 500 }, (_, i) => ({
  fast: 2 + (i % 25),
  slow: 30 + Math.floor(i / 25),
}));
const serial = strategies.map(
  (s) => backtest(data, { kind: 'sma-cross', fast: s.fast, slow: s.slow }, {}).metrics,
);
let workers: WorkerProcess[] = [];
let backend: BullmqBackend;

const workerArgs = (url: string) =>
  workerCliArgs({ redis: url, queue, prefix, concurrency: 2, lockMs: 2000 });
const fn = { module: tasksModule, export: 'run' };

beforeAll(async () => {
  redis = await requireRedis();
  if (!redis) return;
  workers = await Promise.all([
    startWorkerProcess(workerArgs(redis.url)),
    startWorkerProcess(workerArgs(redis.url)),
  ]);
  backend = bullmqBackend({
    connection: redis.url,
    queueName: queue,
    keyPrefix: prefix,
    chunkSize: 20,
  });
}, 60_000);

afterAll(async () => {
  await backend?.close();
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  if (redis) {
    await deleteKeys(redis.url, `${prefix}:*`, `bull:${queue}:*`);
    await redis.stop();
  }
});

describe('bullmqBackend with two real worker processes', () => {
  it('2 workers × 500 strategies give results identical to a local serial run, in order', async () => {
    const progress: number[] = [];
    const outcomes = await parallelBacktest(strategies, data, fn, {
      backend,
      onProgress: (d) => progress.push(d),
    });
    expect(outcomes).toHaveLength(500);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(outcomes.map((o) => (o.ok ? o.value : undefined))).toEqual(serial);
    expect(outcomes.map((o) => o.index)).toEqual(strategies.map((_, i) => i));
    expect(progress[progress.length - 1]).toBe(500);
  });

  it('uploads a dataset once, and each worker downloads it at most once', async () => {
    const before = backend.stats().uploads;
    await parallelBacktest(strategies.slice(0, 50), data, fn, { backend });
    await parallelBacktest(strategies.slice(50, 100), data, fn, { backend });
    expect(backend.stats().uploads).toBe(before);
    for (const w of workers)
      expect(w.log().match(/downloaded dataset/g)?.length ?? 0).toBeLessThanOrEqual(1);
  });

  it('does not re-encode or re-hash a dataset object it already uploaded', async () => {
    const own = { ...data, close: data.close.slice() };
    const before = backend.stats();
    await parallelBacktest(strategies.slice(0, 40), own, fn, { backend });
    const first = backend.stats();
    expect(first.encodes).toBe(before.encodes + 1);
    await parallelBacktest(strategies.slice(40, 80), own, fn, { backend });
    await parallelBacktest(strategies.slice(80, 120), own, fn, { backend });
    const after = backend.stats();
    expect(after.encodes).toBe(first.encodes);
    expect(after.uploads).toBe(first.uploads);
  });

  it('notices a dataset changed in place between runs and sends the new data', async () => {
    const own = { ...data, close: data.close.slice() };
    const first = await parallelBacktest(strategies.slice(0, 30), own, fn, { backend });
    expect(first.map((o) => (o.ok ? o.value : o.error.message))).toEqual(serial.slice(0, 30));
    const before = backend.stats();
    for (let i = 0; i < own.close.length; i += 7) own.close[i] = own.close[i]! * 1.01;
    const second = await parallelBacktest(strategies.slice(0, 30), own, fn, { backend });
    const after = backend.stats();
    expect(after.encodes).toBe(before.encodes + 1);
    expect(after.uploads).toBe(before.uploads + 1);
    const expected = strategies
      .slice(0, 30)
      .map((s) => backtest(own, { kind: 'sma-cross', fast: s.fast, slow: s.slow }, {}).metrics);
    expect(second.map((o) => (o.ok ? o.value : o.error.message))).toEqual(expected);
    expect(expected).not.toEqual(serial.slice(0, 30));
  });

  it('uploads a remembered dataset again when Redis no longer holds it', async () => {
    const own = { ...data, open: data.open.slice() };
    await parallelBacktest(strategies.slice(0, 20), own, fn, { backend });
    const before = backend.stats();
    await deleteKeys(redis!.url, `${prefix}:data:*`);
    const outcomes = await parallelBacktest(strategies.slice(0, 20), own, fn, { backend });
    expect(outcomes.map((o) => (o.ok ? o.value : o.error.message))).toEqual(serial.slice(0, 20));
    expect(backend.stats().uploads).toBe(before.uploads + 1);
  });

  it('isolates a failing strategy, and failFast stops the batch', async () => {
    const mixed = strategies.slice(0, 60).map((s, i) => (i === 33 ? { ...s, fail: true } : s));
    const outcomes = await parallelBacktest(mixed, data, fn, { backend });
    expect(outcomes.filter((o) => !o.ok).map((o) => o.index)).toEqual([33]);
    const bad = outcomes[33]!;
    expect(bad.ok ? '' : bad.error.message).toContain('failed on purpose');
    expect(outcomes.filter((o) => o.ok).map((o) => (o.ok ? o.value : 0))).toEqual(
      serial.slice(0, 60).filter((_, i) => i !== 33),
    );
    await expect(
      parallelBacktest(mixed, data, fn, { backend, failFast: true }),
    ).rejects.toBeInstanceOf(StrategyFailedError);
  });

  it('discards the results of a task that writes to the shared market data', async () => {
    const quick = bullmqBackend({
      connection: redis!.url,
      queueName: queue,
      keyPrefix: prefix,
      backoffMs: 50,
    });
    const outcomes = await parallelBacktest(
      strategies.slice(0, 5),
      data,
      { module: tasksModule, export: 'mutate' },
      { backend: quick },
    );
    expect(outcomes.every((o) => !o.ok)).toBe(true);
    for (const o of outcomes)
      expect(o.ok ? '' : o.error.message).toContain('modified the shared market data');
    // Clean data again afterwards: the same strategies through the well-behaved export agree with the serial run.
    const clean = await parallelBacktest(strategies.slice(0, 5), data, fn, { backend: quick });
    expect(clean.map((o) => (o.ok ? o.value : o.error.message))).toEqual(serial.slice(0, 5));
    await quick.close();
  });

  it('survives kill -9 of a worker mid-run: every result arrives exactly once', async () => {
    const extra = await startWorkerProcess(workerArgs(redis!.url));
    const slowFn = { module: tasksModule, export: 'slow' };
    let killed = false;
    const run = parallelBacktest(strategies.slice(0, 200), data, slowFn, {
      backend,
      onProgress: (done) => {
        if (!killed && done >= 20) {
          killed = true;
          extra.child.kill('SIGKILL');
        }
      },
    });
    const outcomes = await run;
    expect(killed).toBe(true);
    expect(outcomes.map((o) => (o.ok ? o.value : o.error.message))).toEqual(serial.slice(0, 200));
  }, 90_000);

  it('an AbortSignal stops the run, and the workers move on to the next run', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const run = parallelBacktest(
      strategies.slice(0, 300),
      data,
      { module: tasksModule, export: 'slow' },
      {
        backend,
        signal: controller.signal,
        onProgress: (done) => {
          if (done > 0) controller.abort();
        },
      },
    );
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - started).toBeLessThan(20_000);
    const next = await parallelBacktest(strategies.slice(0, 40), data, fn, { backend });
    expect(next.map((o) => (o.ok ? o.value : o.error.message))).toEqual(serial.slice(0, 40));
  }, 30_000);

  it('says clearly when no worker offers the export', async () => {
    const quick = bullmqBackend({
      connection: redis!.url,
      queueName: queue,
      keyPrefix: prefix,
      waitForWorkersMs: 300,
    });
    await expect(
      parallelBacktest(
        strategies.slice(0, 5),
        data,
        { module: tasksModule, export: 'nope' },
        { backend: quick },
      ),
    ).rejects.toThrow(NoWorkersError);
    await quick.close();
  });

  it('close() closes every Redis connection the backend opened (BullMQ does not close a client it is handed)', async () => {
    // A private server, so every client connected to it is ours.
    const priv = await startPrivateRedis();
    const clients = async (): Promise<number> => {
      const admin = new Redis(priv.url);
      try {
        const info = await admin.info('clients');
        return Number(/connected_clients:(\d+)/.exec(info)?.[1]) - 1; // minus this admin client
      } finally {
        admin.disconnect();
      }
    };
    try {
      expect(await clients()).toBe(0);
      const b = bullmqBackend({
        connection: priv.url,
        queueName: queue,
        keyPrefix: prefix,
        waitForWorkersMs: 200,
      });
      await expect(
        parallelBacktest(
          strategies.slice(0, 2),
          data,
          { module: tasksModule, export: 'nope' },
          { backend: b },
        ),
      ).rejects.toThrow(NoWorkersError);
      expect(await clients()).toBeGreaterThanOrEqual(3); // its client, the Queue's, the QueueEvents'
      await b.close();
      // Redis drops a closed client when it reads the close: wait for that, not a fixed second.
      let left = await clients();
      const deadline = performance.now() + 10_000;
      while (left > 0 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        left = await clients();
      }
      expect(left).toBe(0);
    } finally {
      await priv.stop();
    }
  });
});

describe('start-up errors', () => {
  it('a bad module path makes the CLI exit with a clear error', async () => {
    const { code, stderr } = await runCli([
      '--redis',
      redis!.url,
      '--module',
      './does/not/exist.js',
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain('Cannot load --module ./does/not/exist.js');
  });

  it('an unreachable Redis makes the CLI and the backend fail clearly', async () => {
    const { code, stderr } = await runCli([
      '--redis',
      'redis://127.0.0.1:1',
      '--module',
      tasksModule,
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain('redis://127.0.0.1:1 is not reachable');
    const dead = bullmqBackend({ connection: 'redis://127.0.0.1:1', queueName: queue });
    await expect(
      parallelBacktest(strategies.slice(0, 2), data, fn, { backend: dead }),
    ).rejects.toBeInstanceOf(RedisUnavailableError);
    await dead.close();
  });

  it('a missing --module is a usage error', async () => {
    const { code, stderr } = await runCli(['--redis', redis!.url]);
    expect(code).toBe(2);
    expect(stderr).toContain('--module is required');
  });
});

describe('Redis restarted in the middle of a run', () => {
  it('the run completes or fails with a clear error within a bounded time, never hangs', async () => {
    const priv = await startPrivateRedis();
    const port = priv.port;
    const w = await startWorkerProcess(workerArgs(priv.url));
    const b = bullmqBackend({
      connection: priv.url,
      queueName: queue,
      keyPrefix: prefix,
      redisDownTimeoutMs: 5_000,
      chunkSize: 10,
    });
    let restarted: TestRedis | undefined;
    const started = performance.now();
    let restartedOnce = false;
    const run = parallelBacktest(
      strategies.slice(0, 200),
      data,
      { module: tasksModule, export: 'slow' },
      {
        backend: b,
        onProgress: (done) => {
          if (!restartedOnce && done >= 10) {
            restartedOnce = true;
            void priv.stop().then(async () => {
              restarted = await startPrivateRedis({ port });
            });
          }
        },
      },
    );
    const settled = await run.then(
      (outcomes) => ({ ok: true as const, outcomes }),
      (error: unknown) => ({ ok: false as const, error: error as Error }),
    );
    const elapsed = performance.now() - started;
    expect(restartedOnce).toBe(true);
    expect(elapsed).toBeLessThan(30_000);
    if (settled.ok) expect(settled.outcomes).toHaveLength(200);
    else expect(settled.error.name).toMatch(/RunLostError|RedisUnavailableError/);
    await b.close();
    await w.stop('SIGKILL');
    await restarted?.stop();
  }, 60_000);
});
