import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backtest, generateOhlcv } from '@peaktrade/backtest';
import { parallelBacktest } from '@peaktrade/parallel';
import { deleteKeys, requireRedis, type TestRedis } from '@peaktrade/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  runCli,
  startWorkerProcess,
  tasksModule,
  workerCliArgs,
  type WorkerProcess,
} from '../test/workers.js';
import { keys } from './protocol.js';
import { bullmqBackend, encodeDataset, uploadDataset, type BullmqBackend } from './index.js';

// Own queues and key prefix: other test runs may use the same Redis at the same time.
const tag = randomBytes(4).toString('hex');
const prefix = `pt-test-rb:${tag}`;
const queueOf = (name: string) => `pt-test-rb-${tag}-${name}`;
let redis: TestRedis | undefined;
let client: Redis;
const started: WorkerProcess[] = [];
const backends: BullmqBackend[] = [];
const dir = mkdtempSync(join(tmpdir(), 'pt-bullmq-'));

const workerArgs = (queue: string, extra: string[] = []) =>
  workerCliArgs({ redis: redis!.url, queue, prefix, lockMs: 2000, extra });
const startWorker = async (queue: string, extra: string[] = []) => {
  const w = await startWorkerProcess(workerArgs(queue, extra));
  started.push(w);
  return w;
};
const backendOn = (queue: string, extra: Partial<Parameters<typeof bullmqBackend>[0]> = {}) => {
  const b = bullmqBackend({
    connection: redis!.url,
    queueName: queue,
    keyPrefix: prefix,
    ...extra,
  });
  backends.push(b);
  return b;
};
const metrics = (data: ReturnType<typeof generateOhlcv>, s: { fast: number; slow: number }) =>
  backtest(data, { kind: 'sma-cross', fast: s.fast, slow: s.slow }, {}).metrics;
/** Resolves when `check` is true, polled; rejects after `ms` (generous: the machine is shared). */
const until = async (check: () => boolean, ms: number, what: string) => {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  redis = await requireRedis();
  if (redis) client = new Redis(redis.url);
});

afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await Promise.all(started.map((w) => w.stop('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
  if (redis) {
    await deleteKeys(redis.url, `${prefix}:*`, `bull:pt-test-rb-${tag}-*`);
    client.disconnect();
    await redis.stop();
  }
});

describe('peaktrade-worker start-up and shutdown', () => {
  it('exits with an error on a queue name or thread count it cannot use, instead of hanging', async () => {
    // Both were refused only after Redis was connected (and the pool started), which kept the
    // process alive after the error: runCli had to kill it (code null).
    const badQueue = await runCli(workerArgs('bad:name'));
    expect(badQueue.code).toBe(1);
    expect(badQueue.stderr).toContain('queueName');
    const badThreads = await runCli([
      '--redis',
      redis!.url,
      '--module',
      tasksModule,
      '--threads',
      '5000',
    ]);
    expect(badThreads.code).toBe(1);
    expect(badThreads.stderr).toContain('maxWorkers');
  }, 60_000);

  it('a second SIGTERM hands the active job back at once, without using up an attempt', async () => {
    const queue = queueOf('sigterm');
    const hold = join(dir, 'hold-sigterm');
    writeFileSync(hold, '');
    const a = await startWorker(queue, ['--concurrency', '1']);
    // One attempt: a job the forced stop counted as failed could not be retried.
    const backend = backendOn(queue, { attempts: 1, chunkSize: 1 });
    const data = generateOhlcv({ bars: 1500, seed: 5 });
    const strategy = { fast: 5, slow: 40, hold };
    const run = parallelBacktest(
      [strategy],
      data,
      { module: tasksModule, export: 'hold' },
      {
        backend,
      },
    );
    try {
      await until(() => existsSync(`${hold}.started`), 30_000, 'the job to start');
      const exited = new Promise<number | null>((resolve) => a.child.once('exit', resolve));
      a.child.kill('SIGTERM');
      await until(() => a.log().includes('stopping: finishing'), 30_000, 'the first signal');
      a.child.kill('SIGTERM');
      // The job is still held: only a hand-back lets the worker exit now.
      const code = await Promise.race([
        exited,
        new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000)),
      ]);
      expect(code).toBe(0);
      rmSync(hold);
      await startWorker(queue, ['--concurrency', '1']);
      const outcomes = await run;
      expect(outcomes.map((o) => (o.ok ? o.value : o.error.message))).toEqual([
        metrics(data, strategy),
      ]);
    } finally {
      rmSync(hold, { force: true });
      await run.catch(() => undefined);
    }
  }, 120_000);
});

describe('bullmqBackend', () => {
  it('an abort while waiting for a worker ends the run at once with AbortError', async () => {
    const backend = backendOn(queueOf('no-workers'), { waitForWorkersMs: 60_000 });
    const controller = new AbortController();
    const data = generateOhlcv({ bars: 500, seed: 6 });
    const t0 = performance.now();
    const run = parallelBacktest(
      [{ fast: 5, slow: 40 }],
      data,
      { module: tasksModule, export: 'run' },
      {
        backend,
        signal: controller.signal,
      },
    );
    setTimeout(() => controller.abort(), 200);
    // Before, the abort was seen only after the wait: a NoWorkersError a minute later.
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - t0).toBeLessThan(30_000);
  }, 90_000);

  it('uploads a dataset again when Redis holds its meta key but lost one of its parts', async () => {
    const queue = queueOf('parts');
    await startWorker(queue);
    const backend = backendOn(queue, { backoffMs: 50 });
    // Content no worker has cached, so the workers must download it.
    const data = generateOhlcv({ bars: 2000, seed: 77 });
    const { bytes, hash } = encodeDataset(data);
    expect(await uploadDataset(client, prefix, hash, bytes, 3_600_000)).toBe(true);
    // Evicted, say: the part is gone, the meta key (written last, so expiring last) is not.
    await client.del(keys.dataPart(prefix, hash, 0));
    const strategies = Array.from({ length: 6 }, (_, i) => ({ fast: 3 + i, slow: 30 + i }));
    const outcomes = await parallelBacktest(
      strategies,
      data,
      { module: tasksModule, export: 'run' },
      {
        backend,
      },
    );
    expect(outcomes.map((o) => (o.ok ? o.value : o.error.message))).toEqual(
      strategies.map((s) => metrics(data, s)),
    );
    expect(backend.stats().uploads).toBe(1);
  }, 90_000);
});
