import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { backtest, generateOhlcv } from '@peaktrade/backtest';
import { LruCache, MultiLevelCache, type CacheTier } from '@peaktrade/cache-core';
import { DiskTier } from '@peaktrade/cache-disk';
import { RedisTier } from '@peaktrade/cache-redis';
import { WorkerPool, taskRef } from '@peaktrade/parallel';
import type { StressOutcome } from './report.js';
// The same function the workers run, called here to check their answers.
import { spin } from './stress-tasks.js';

/** Settings of the stress runs. */
export interface StressSettings {
  readonly redisUrl: string | undefined;
  readonly quick: boolean;
  readonly tmpRoot: string;
  log(message: string): void;
}

interface StressRun {
  readonly name: string;
  readonly checked: string;
  /** Resolve a detail line when every check held; throw with the reason when one did not. */
  run(settings: StressSettings, dir: string): Promise<string>;
}

/** Fail a stress check with a reason. */
function check(condition: boolean, reason: string): void {
  if (!condition) throw new Error(reason);
}

function getGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const runs: StressRun[] = [
  {
    name: 'getOrSet storm',
    checked:
      '100k concurrent getOrSet on one cold key make exactly one loader call; 100k on 1,000 hot keys make none, and every caller gets the right value',
    async run() {
      const cache = new MultiLevelCache({ l1: { max: 2000 } });
      let loads = 0;
      const cold = await Promise.all(
        Array.from({ length: 100_000 }, () =>
          cache.getOrSet('cold', async () => {
            loads++;
            await new Promise((r) => setTimeout(r, 5));
            return 42;
          }),
        ),
      );
      check(loads === 1, `cold key: ${loads} loader calls, expected 1`);
      check(
        cold.every((v) => v === 42),
        'cold key: a caller got a wrong value',
      );
      for (let k = 0; k < 1000; k++) await cache.set(`hot${k}`, k);
      let hotLoads = 0;
      const hot = await Promise.all(
        Array.from({ length: 100_000 }, (_, i) =>
          cache.getOrSet(`hot${i % 1000}`, () => ++hotLoads),
        ),
      );
      check(hotLoads === 0, `hot keys: ${hotLoads} loader calls, expected 0`);
      check(
        hot.every((v, i) => v === i % 1000),
        'hot keys: a caller got a wrong value',
      );
      await cache.close();
      return 'cold: 1 loader call for 100,000 callers; hot: 0 loader calls, 100,000 correct values';
    },
  },
  {
    name: 'mixed load L1 + L3 (+ L2)',
    checked:
      'a mixed get/set load never surfaces a tier error to a caller, and reads see the last write',
    async run(settings, dir) {
      const ops = settings.quick ? 100_000 : 1_000_000;
      const keys = 20_000;
      const l3 = new DiskTier({ file: join(dir, 'l3.sqlite') });
      const tiers: CacheTier[] = [];
      let l2: RedisTier | undefined;
      if (settings.redisUrl) {
        l2 = await new RedisTier({
          url: settings.redisUrl,
          keyPrefix: `pt-stress:${process.pid}:`,
          commandTimeoutMs: 200,
          bus: false,
        }).ready();
        tiers.push(l2);
      }
      tiers.push(l3);
      const cache = new MultiLevelCache({
        l1: new LruCache({ max: 5000 }),
        tiers,
        tierTimeoutMs: 1000,
      });
      const last = new Int32Array(keys).fill(-1);
      let errors = 0;
      let stale = 0;
      const batch = 1000;
      // Skewed access (a few hot keys, a long tail), from a seeded generator.
      let seed = 12345;
      const rand = () => (seed = (seed * 1_664_525 + 1_013_904_223) >>> 0) / 2 ** 32;
      for (let start = 0; start < ops; start += batch) {
        const work: Promise<unknown>[] = [];
        for (let i = start; i < Math.min(ops, start + batch); i++) {
          const k = Math.floor(keys * rand() ** 3);
          if (i % 5 === 0) {
            last[k] = i;
            work.push(cache.set(`m${k}`, i).catch(() => errors++));
          } else {
            const expected = last[k]!;
            work.push(
              cache.get(`m${k}`).then(
                (v) => {
                  if (expected !== -1 && v !== undefined && (v as number) < expected) stale++;
                },
                () => errors++,
              ),
            );
          }
        }
        await Promise.all(work);
        if (start % (batch * 100) === 0) settings.log(`mixed load ${start}/${ops}`);
      }
      await cache.idle();
      const stats = cache.stats();
      // Leave nothing behind in a shared Redis (the L3 file goes with the run's temporary folder).
      await l2?.clear();
      await cache.close();
      check(errors === 0, `${errors} operations rejected`);
      check(stale === 0, `${stale} reads returned an older value than the last completed write`);
      return `${ops.toLocaleString('en-US')} ops over ${keys.toLocaleString('en-US')} keys (20% writes), tiers: L1${l2 ? ' + L2 Redis' : ''} + L3 SQLite; 0 errors, 0 stale reads; L1 hit ratio ${(((stats.l1?.hits ?? 0) / Math.max(1, (stats.l1?.hits ?? 0) + (stats.l1?.misses ?? 0))) * 100).toFixed(0)}%`;
    },
  },
  {
    name: 'worker-pool saturation',
    checked:
      '10k CPU tasks saturate the pool; aborting midway rejects the rest with AbortError, finished results are right, and no worker is left',
    async run() {
      const pool = new WorkerPool({ maxWorkers: 2, maxQueue: 10_000 });
      const task = taskRef(new URL('./stress-tasks.js', import.meta.url), 'spin');
      const controller = new AbortController();
      // 10k tasks share one signal on purpose; each registers an abort listener.
      setMaxListeners(20_000, controller.signal);
      let done = 0;
      const results = Array.from({ length: 10_000 }, (_, i) =>
        pool.run(task, [i], { signal: controller.signal }).then(
          (v) => {
            done++;
            return { ok: true as const, v: v as number };
          },
          (e: unknown) => ({ ok: false as const, e }),
        ),
      );
      while (done < 2000) await new Promise((r) => setTimeout(r, 5));
      controller.abort();
      const settled = await Promise.all(results);
      const ok = settled.filter((s) => s.ok);
      const aborted = settled.filter((s) => !s.ok && (s.e as Error).name === 'AbortError').length;
      const other = settled.length - ok.length - aborted;
      const wrong = settled.filter((s, i) => s.ok && s.v !== spin(i)).length;
      await pool.close();
      const metrics = pool.metrics();
      check(other === 0, `${other} tasks failed with something other than AbortError`);
      check(wrong === 0, `${wrong} finished tasks returned a wrong result`);
      check(aborted > 0, 'the abort came too late to cancel anything');
      check(metrics.threads === 0, `${metrics.threads} worker threads still alive after close()`);
      return `${ok.length} finished correctly, ${aborted} cancelled by the abort, 0 other failures, 0 workers left`;
    },
  },
  {
    name: 'memory soak',
    checked:
      'repeated backtests and cache churn keep the retained heap bounded (growth < 16 MiB after warm-up)',
    async run(settings) {
      const gc = getGc();
      const data = generateOhlcv({ bars: 10_000, seed: 3 });
      const cache = new MultiLevelCache({ l1: { max: 1000 } });
      const rounds = settings.quick ? 5 : 20;
      const perRound = 200;
      const heaps: number[] = [];
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < perRound; i++) {
          const fast = 5 + (i % 20);
          const result = await cache.getOrSet(
            `bt:${r}:${i}`,
            () =>
              backtest(data, { kind: 'sma-cross', fast, slow: fast + 20 }, { equity: true })
                .metrics,
          );
          if (typeof result !== 'object') throw new Error('backtest returned no metrics');
        }
        gc();
        heaps.push(process.memoryUsage().heapUsed);
      }
      await cache.close();
      const growth = heaps[heaps.length - 1]! - heaps[1]!;
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      check(
        growth < 16 * 2 ** 20,
        `heap grew by ${mib(growth)} between round 2 and round ${rounds}`,
      );
      return `${rounds * perRound} backtests with cache churn; retained heap ${mib(heaps[1]!)} -> ${mib(heaps[heaps.length - 1]!)}`;
    },
  },
];

/**
 * A TCP relay on 127.0.0.1 in front of `target` that can stall: while stalled it reads nothing from
 * either side, so commands sent through it hang as they would behind a frozen server or a dead
 * link. Only connections made through the relay are affected; other clients of the server are not.
 */
async function stallableRelay(target: {
  host: string;
  port: number;
}): Promise<{ port: number; stall(ms: number): void; close(): Promise<void> }> {
  const pairs = new Set<[Socket, Socket]>();
  let stalledUntil = 0;
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        const wait = stalledUntil - performance.now();
        if (wait <= 0) {
          to.write(chunk);
          return;
        }
        from.pause();
        setTimeout(() => {
          to.write(chunk);
          from.resume();
        }, wait);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) socket.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(0, '127.0.0.1', resolve),
  );
  return {
    port: (server.address() as AddressInfo).port,
    stall(ms) {
      // The next bytes from either side are held (and their socket paused) until the stall ends.
      stalledUntil = performance.now() + ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [client, upstream] of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

const redisOutage: StressRun = {
  name: 'Redis outage under load',
  checked:
    'the link to Redis stalls for 400 ms in the middle of a read load (through a relay, so other clients of the server are untouched): no caller sees an error and the values stay right',
  async run(settings) {
    const prefix = `pt-stress-outage:${process.pid}:`;
    const direct = new URL(settings.redisUrl!);
    if (direct.protocol !== 'redis:')
      throw new Error(
        `the outage stress relays plain TCP and needs a redis:// URL, got ${direct.protocol}//`,
      );
    const relay = await stallableRelay({
      host: direct.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: Number(direct.port || 6379),
    });
    try {
      const viaRelay = new URL(direct.href);
      viaRelay.hostname = '127.0.0.1';
      viaRelay.port = String(relay.port);
      const tier = await new RedisTier({
        url: viaRelay.href,
        keyPrefix: prefix,
        commandTimeoutMs: 50,
        bus: false,
        breaker: { failureThreshold: 3, cooldownMs: 200 },
      }).ready();
      const states: string[] = [];
      tier.on('breaker', (s) => states.push(s));
      const cache = new MultiLevelCache({ l1: false, tiers: [{ tier, timeoutMs: 50 }] });
      for (let k = 0; k < 50; k++) await cache.set(`o${k}`, k);
      await cache.idle();
      let errors = 0;
      let wrong = 0;
      let reads = 0;
      const end = performance.now() + 1500;
      let paused = false;
      while (performance.now() < end) {
        if (!paused && performance.now() > end - 1200) {
          paused = true;
          // Stall our link to Redis for 400 ms: commands hang until the tier's timeout.
          relay.stall(400);
        }
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            cache
              .getOrSet(`o${i}`, () => i)
              .then(
                (v) => {
                  reads++;
                  if (v !== i) wrong++;
                },
                () => errors++,
              ),
          ),
        );
        await new Promise((r) => setTimeout(r, 5));
      }
      await tier.clear().catch(() => undefined);
      const absorbed = tier.stats().errors;
      await cache.close();
      check(errors === 0, `${errors} reads rejected during the outage`);
      check(wrong === 0, `${wrong} reads returned a wrong value`);
      // Without timed-out commands the stall never reached the tier, and nothing above was tested.
      check(absorbed > 0, 'the stalled link caused no Redis errors: the outage did not happen');
      return `${reads} reads, 0 errors, 0 wrong values; breaker went ${states.join(' -> ') || 'nowhere (no failures counted)'}; ${absorbed} Redis errors absorbed`;
    } finally {
      await relay.close();
    }
  },
};

/** Run the bounded stress tests. Each stops by itself and states what it checked. */
export async function runStress(settings: StressSettings): Promise<StressOutcome[]> {
  const all = settings.redisUrl ? [...runs, redisOutage] : runs;
  const out: StressOutcome[] = [];
  for (const run of all) {
    settings.log(run.name);
    const dir = mkdtempSync(join(tmpdir(), 'pt-stress-'));
    const started = performance.now();
    try {
      const detail = await run.run(settings, dir);
      out.push({
        name: run.name,
        checked: run.checked,
        ok: true,
        detail,
        durationMs: performance.now() - started,
      });
    } catch (error) {
      out.push({
        name: run.name,
        checked: run.checked,
        ok: false,
        detail: (error as Error).message,
        durationMs: performance.now() - started,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (!settings.redisUrl) {
    out.push({
      name: redisOutage.name,
      checked: redisOutage.checked,
      ok: true,
      skipped: true,
      detail: 'no Redis answered (set REDIS_URL or start redis-server on 127.0.0.1:6379)',
      durationMs: 0,
    });
  }
  return out;
}
