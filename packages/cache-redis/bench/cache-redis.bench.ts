// Benchmarks of the Redis L2 tier against raw ioredis, in the same run, on the same Redis.
import { randomBytes } from 'node:crypto';
import {
  benchmark,
  defineBenchSuite,
  ratioMeasurement,
  suite,
  type Measurement,
} from '@peaktrade/bench-harness';
import { decode } from '@peaktrade/serialize';
import { Redis } from 'ioredis';
import { RedisTier } from '../src/index.js';

export default defineBenchSuite({
  name: 'cache-redis',
  description:
    'L2 get overhead, getMany vs sequential gets, 64-caller throughput, against raw ioredis',
  requires: ['redis'],
  async run(ctx) {
    const url = ctx.redisUrl!;
    const prefix = `pt-bench:${randomBytes(4).toString('hex')}:`;
    const tier = await new RedisTier({
      url,
      keyPrefix: prefix,
      commandTimeoutMs: 1000,
      bus: false,
    }).ready();
    // Same client settings as the tier's own connection (no auto-pipelining, the same per-command
    // timeout), so only the tier's work differs.
    const raw = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1000,
    });
    // And one without the per-command timeout, as plain ioredis is often run: what the tier's
    // timeouts cost is reported beside the tier's own overhead.
    const bare = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    await Promise.all(
      [raw, bare].map((c) => new Promise<void>((resolve) => c.once('ready', () => resolve()))),
    );
    const out: Measurement[] = [];
    try {
      // A realistic cached value: a small result object with a price column (about 1 KiB).
      const value = {
        symbol: 'AAPL',
        px: new Float64Array(100).map((_, i) => 100 + i / 10),
        at: new Date(0),
      };
      const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
      await tier.setMany(keys.map((key) => ({ key, value })));
      const rawKey = tier.keyOf('k0');

      ctx.log('get vs raw GET + decode');
      const get = await suite(
        'l2 get',
        {
          'raw ioredis GET + decode': async () => decode((await raw.getBuffer(rawKey))!),
          'RedisTier.get': () => tier.get('k0'),
          'raw, no commandTimeout': async () => decode((await bare.getBuffer(rawKey))!),
        },
        // One loopback round trip (~85 µs) jitters by more than the overhead being measured: give
        // the medians more samples than the default budget.
        { baseline: 'raw ioredis GET + decode', timeMs: Math.max(ctx.timeMs * 4, 1000) },
      );
      out.push(
        ratioMeasurement(
          'cache-redis.get.vsRaw',
          'L2 get time vs raw ioredis GET + decode',
          get,
          'RedisTier.get',
        ),
      );
      const overheadUs =
        (get.results['RedisTier.get']!.stats.median -
          get.results['raw ioredis GET + decode']!.stats.median) /
        1e3;
      out.push({
        id: 'cache-redis.get.vsRawNoTimeout',
        label: 'L2 get time vs raw ioredis GET + decode on a client without commandTimeout',
        value:
          get.results['RedisTier.get']!.stats.median /
          get.results['raw, no commandTimeout']!.stats.median,
        unit: 'x',
        detail:
          'median ratio, same interleaved suite; the difference from cache-redis.get.vsRaw is the cost of the per-command timeout',
      });
      out.push({
        id: 'cache-redis.get.overheadUs',
        label: 'L2 get overhead over raw GET + decode (median difference)',
        value: overheadUs,
        unit: 'us',
        detail: 'goal: at most max(10%, 5 µs)',
      });

      ctx.log('getMany(100) vs 100 sequential gets');
      const many = await suite(
        'getMany',
        {
          '100 sequential get': async () => {
            for (const k of keys) await tier.get(k);
          },
          'getMany(100)': () => tier.getMany(keys),
        },
        { baseline: '100 sequential get', timeMs: ctx.timeMs },
      );
      out.push(
        ratioMeasurement(
          'cache-redis.getMany.vsSequential',
          'getMany(100) time vs 100 sequential gets',
          many,
          'getMany(100)',
        ),
      );

      ctx.log('64 concurrent callers');
      const perCaller = ctx.quick ? 20 : 50;
      const storm = (fn: (k: string) => Promise<unknown>) => () =>
        Promise.all(
          Array.from({ length: 64 }, async (_, c) => {
            for (let i = 0; i < perCaller; i++) await fn(keys[(c + i) % keys.length]!);
          }),
        );
      const rawStorm = await benchmark(
        storm(async (k) => decode((await raw.getBuffer(tier.keyOf(k)))!)),
        { name: 'raw 64', timeMs: ctx.timeMs },
      );
      const tierStorm = await benchmark(
        storm((k) => tier.get(k)),
        { name: 'tier 64', timeMs: ctx.timeMs },
      );
      const ops = 64 * perCaller;
      out.push({
        id: 'cache-redis.concurrent64.opsPerSec',
        label: 'L2 gets/s with 64 concurrent callers',
        value: (ops * 1e9) / tierStorm.stats.median,
        unit: 'ops/s',
      });
      out.push({
        id: 'cache-redis.concurrent64.rawOpsPerSec',
        label: 'Raw ioredis GET + decode/s with 64 concurrent callers',
        value: (ops * 1e9) / rawStorm.stats.median,
        unit: 'ops/s',
      });
      out.push({
        id: 'cache-redis.concurrent64.vsRaw',
        label: 'L2 throughput relative to raw ioredis, 64 callers',
        value: rawStorm.stats.median / tierStorm.stats.median,
        unit: 'x',
        detail: 'median(raw batch time) / median(tier batch time): 1 = same throughput',
      });
      return out;
    } finally {
      await tier.clear().catch(() => undefined);
      await tier.close();
      raw.disconnect();
      bare.disconnect();
    }
  },
});
