/**
 * cache-core benchmarks against lru-cache, bentocache and cache-manager (real libraries,
 * devDependencies). 1,000 entries, the same string keys for every library, random access
 * through a precomputed index sequence (so the random generator is not measured).
 */
import { getHeapStatistics } from 'node:v8';
import {
  benchmark,
  createRng,
  defineBenchSuite,
  ratioMeasurement,
  suite,
  timeMeasurement,
  type Measurement,
} from '@peaktrade/bench-harness';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache } from 'cache-manager';
import { LRUCache } from 'lru-cache';
import { cached, LruCache, MultiLevelCache } from '../src/index.js';

const N = 1000;
const TTL_MS = 3_600_000;
const SEQ = 1 << 14;

const keys = Array.from({ length: 2 * N }, (_, i) => `bars:BTC-USD:1m:${i}`);
const values = Array.from({ length: 2 * N }, (_, i) => ({ close: i * 1.5, volume: i }));
const next = createRng(42);
/** Random indices into the first N keys (hits). */
const hitSeq = Uint32Array.from({ length: SEQ }, () => Math.floor(next() * N));
/** Random indices into 2N keys (set with eviction: about half the writes are new keys). */
const setSeq = Uint32Array.from({ length: SEQ }, () => Math.floor(next() * 2 * N));
const MASK = SEQ - 1;

/** Bytes allocated per call of `fn`, from heap growth over `calls` calls with no GC in between (min of 5 tries). */
function bytesPerCall(fn: () => void, calls: number): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  let best = Infinity;
  for (let attempt = 0; attempt < 5; attempt++) {
    gc?.();
    const before = getHeapStatistics().used_heap_size;
    for (let i = 0; i < calls; i++) fn();
    const after = getHeapStatistics().used_heap_size;
    if (after >= before) best = Math.min(best, (after - before) / calls);
  }
  return best === Infinity ? Number.NaN : best;
}

export default defineBenchSuite({
  name: 'cache-core',
  description:
    'LruCache / MultiLevelCache / cached() vs lru-cache, bentocache, cache-manager (1,000 entries, random access)',
  async run(ctx): Promise<readonly Measurement[]> {
    const timeMs = ctx.quick ? Math.min(ctx.timeMs, 100) : ctx.timeMs;
    const rounds = ctx.quick ? 3 : 8;
    const out: Measurement[] = [];

    // ---------------------------------------------------------------- sync get hit
    const ours = new LruCache<string, unknown>({ max: N, ttlMs: TTL_MS });
    const theirs = new LRUCache<string, object>({ max: N, ttl: TTL_MS });
    for (let i = 0; i < N; i++) {
      ours.set(keys[i]!, values[i]);
      theirs.set(keys[i]!, values[i]);
    }
    let gi = 0;
    let gj = 0;
    ctx.log('LruCache.get hit vs lru-cache get (ttl)');
    const getSuite = await suite(
      'cache-core.get',
      {
        'lru-cache.get': () => theirs.get(keys[hitSeq[(gi = (gi + 1) & MASK)]!]!),
        'LruCache.get': () => ours.get(keys[hitSeq[(gj = (gj + 1) & MASK)]!]!),
      },
      { baseline: 'lru-cache.get', timeMs, rounds },
    );
    out.push(
      ratioMeasurement(
        'cache-core.lru.get.ratio',
        'LruCache.get hit / lru-cache get (ttl)',
        getSuite,
        'LruCache.get',
      ),
      timeMeasurement(
        'cache-core.lru.get.ns',
        'LruCache.get hit',
        getSuite.results['LruCache.get']!,
        'ns',
      ),
      timeMeasurement(
        'cache-core.lru-cache.get.ns',
        'lru-cache get hit (ttl)',
        getSuite.results['lru-cache.get']!,
        'ns',
      ),
    );
    let ai = 0;
    const perHit = bytesPerCall(
      () => void ours.get(keys[hitSeq[(ai = (ai + 1) & MASK)]!]!),
      ctx.quick ? 200_000 : 1_000_000,
    );
    out.push({
      id: 'cache-core.lru.get.bytesPerHit',
      label: 'LruCache.get heap bytes allocated per hit',
      value: perHit,
      unit: 'bytes',
      detail:
        'V8 used_heap_size growth over a GC-free run of hits, divided by the hits (min of 5 runs)',
    });

    // ---------------------------------------------------------------- set with eviction
    const oursSet = new LruCache<string, unknown>({ max: N, ttlMs: TTL_MS });
    const theirsSet = new LRUCache<string, object>({ max: N, ttl: TTL_MS });
    for (let i = 0; i < N; i++) {
      oursSet.set(keys[i]!, values[i]);
      theirsSet.set(keys[i]!, values[i]);
    }
    let si = 0;
    let sj = 0;
    ctx.log('LruCache.set with eviction vs lru-cache set');
    const setSuite = await suite(
      'cache-core.set',
      {
        'lru-cache.set': () => {
          const k = setSeq[(si = (si + 1) & MASK)]!;
          theirsSet.set(keys[k]!, values[k]);
        },
        'LruCache.set': () => {
          const k = setSeq[(sj = (sj + 1) & MASK)]!;
          oursSet.set(keys[k]!, values[k]);
        },
      },
      { baseline: 'lru-cache.set', timeMs, rounds },
    );
    out.push(
      ratioMeasurement(
        'cache-core.lru.set.ratio',
        'LruCache.set with eviction / lru-cache set',
        setSuite,
        'LruCache.set',
      ),
      timeMeasurement(
        'cache-core.lru.set.ns',
        'LruCache.set with eviction',
        setSuite.results['LruCache.set']!,
        'ns',
      ),
    );

    // ---------------------------------------------------------------- async L1 hits
    const mlc = new MultiLevelCache({ name: 'bench', l1: { max: N }, ttlMs: TTL_MS });
    const bento = new BentoCache({
      default: 'memory',
      stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: N })) },
    });
    const manager = createCache({ ttl: TTL_MS });
    const getOrSetOptions = { ttlMs: TTL_MS };
    for (let i = 0; i < N; i++) {
      const k = keys[i]!;
      const v = values[i];
      await mlc.set(k, v);
      await bento.set({ key: k, value: v, ttl: TTL_MS });
      await manager.set(k, v);
    }
    const loader = (): unknown => undefined;
    // cached() gets its own cache so its 1,000 entries do not evict the getOrSet ones.
    const mlc2 = new MultiLevelCache({ name: 'bench-cached', l1: { max: N }, ttlMs: TTL_MS });
    const fn = cached((id: number): Promise<unknown> => Promise.resolve(values[id]), {
      name: 'bars',
      cache: mlc2,
      ttl: TTL_MS / 1000,
    });
    for (let i = 0; i < N; i++) await fn(i);
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let a4 = 0;
    let a5 = 0;
    let a6 = 0;
    // Two suites: cache-core against the bare awaited L1 gets, then against the other libraries
    // (whose allocations and timers would otherwise disturb the first comparison).
    ctx.log('MultiLevelCache.getOrSet / cached() L1 hit vs await lru.get');
    const asyncSuite = await suite(
      'cache-core.getOrSet',
      {
        // The baseline the issue names: awaiting a synchronous lru-cache get.
        // eslint-disable-next-line @typescript-eslint/await-thenable
        'await lru-cache.get': async () => await theirs.get(keys[hitSeq[(a0 = (a0 + 1) & MASK)]!]!),
        'MultiLevelCache.getOrSet': async () =>
          await mlc.getOrSet(keys[hitSeq[(a1 = (a1 + 1) & MASK)]!]!, loader, getOrSetOptions),
        'cached()': async () => await fn(hitSeq[(a4 = (a4 + 1) & MASK)]!),
        'await LruCache.get': async () => await ours.get(keys[hitSeq[(a5 = (a5 + 1) & MASK)]!]!),
      },
      { baseline: 'await lru-cache.get', timeMs, rounds },
    );
    ctx.log('MultiLevelCache.getOrSet L1 hit vs bentocache getOrSet and cache-manager wrap');
    const libSuite = await suite(
      'cache-core.libraries',
      {
        'MultiLevelCache.getOrSet': async () =>
          await mlc.getOrSet(keys[hitSeq[(a6 = (a6 + 1) & MASK)]!]!, loader, getOrSetOptions),
        'bentocache.getOrSet': async () =>
          await bento.getOrSet({
            key: keys[hitSeq[(a2 = (a2 + 1) & MASK)]!]!,
            factory: loader,
            ttl: TTL_MS,
          }),
        'cache-manager.wrap': async () =>
          await manager.wrap(keys[hitSeq[(a3 = (a3 + 1) & MASK)]!]!, loader, TTL_MS),
      },
      { baseline: 'MultiLevelCache.getOrSet', timeMs, rounds },
    );
    const r = asyncSuite.results;
    const lib = libSuite.results;
    const bentoRatio = libSuite.ratios['bentocache.getOrSet']!;
    const managerRatio = libSuite.ratios['cache-manager.wrap']!;
    out.push(
      ratioMeasurement(
        'cache-core.getOrSet.l1.ratio',
        'MultiLevelCache.getOrSet L1 hit / await lru-cache get',
        asyncSuite,
        'MultiLevelCache.getOrSet',
      ),
      {
        id: 'cache-core.getOrSet.bentocache.ratio',
        label: 'MultiLevelCache.getOrSet L1 hit / bentocache getOrSet L1 hit',
        value: 1 / bentoRatio.ratio,
        unit: 'x',
        ci: [1 / bentoRatio.ci95[1], 1 / bentoRatio.ci95[0]],
        detail:
          'median(MultiLevelCache) / median(bentocache), interleaved; ≤ 0.2 means ≥ 5× faster',
      },
      {
        id: 'cache-core.getOrSet.vsBentocache',
        label: 'bentocache getOrSet L1 hit / MultiLevelCache.getOrSet L1 hit (speed-up)',
        value: bentoRatio.ratio,
        unit: 'x',
        ci: [bentoRatio.ci95[0], bentoRatio.ci95[1]],
        detail: 'median(bentocache) / median(MultiLevelCache); > 1 means cache-core is faster',
      },
      {
        id: 'cache-core.getOrSet.vsCacheManager',
        label: 'cache-manager wrap hit / MultiLevelCache.getOrSet L1 hit (speed-up)',
        value: managerRatio.ratio,
        unit: 'x',
        ci: [managerRatio.ci95[0], managerRatio.ci95[1]],
        detail: 'median(cache-manager) / median(MultiLevelCache); > 1 means cache-core is faster',
      },
      timeMeasurement(
        'cache-core.l1.get.ns',
        'L1 hit (MultiLevelCache.getOrSet, awaited)',
        r['MultiLevelCache.getOrSet']!,
        'ns',
      ),
      timeMeasurement(
        'cache-core.bentocache.getOrSet.ns',
        'bentocache getOrSet L1 hit',
        lib['bentocache.getOrSet']!,
        'ns',
      ),
      timeMeasurement(
        'cache-core.cache-manager.wrap.ns',
        'cache-manager wrap hit',
        lib['cache-manager.wrap']!,
        'ns',
      ),
      timeMeasurement('cache-core.cached.hit.ns', 'cached() hit (awaited)', r['cached()']!, 'ns'),
      {
        id: 'cache-core.cached.overhead',
        label: 'cached() hit / await LruCache.get (bare L1 get)',
        value: r['cached()']!.stats.median / r['await LruCache.get']!.stats.median,
        unit: 'x',
        detail: 'median(cached() hit) / median(await LruCache.get hit), same suite; report only',
      },
    );

    // A cold single-flight burst: 1,000 concurrent getOrSet on one cold key, one loader call.
    const burstCache = new MultiLevelCache({ name: 'bench-burst', l1: { max: 64 } });
    let burst = 0;
    const burstResult = await benchmark(
      async () => {
        const key = `burst:${burst++}`;
        const ps: Promise<unknown>[] = [];
        for (let i = 0; i < 1000; i++)
          ps.push(burstCache.getOrSet(key, () => Promise.resolve(1), getOrSetOptions));
        await Promise.all(ps);
      },
      { name: 'single-flight burst', timeMs },
    );
    out.push(
      timeMeasurement(
        'cache-core.singleflight.1000.us',
        '1,000 concurrent cold getOrSet of one key',
        burstResult,
        'us',
      ),
    );

    const stats = mlc.stats();
    if (stats.l1!.evictions !== 0 || stats.l1!.misses !== 0 || stats.loads !== 0) {
      ctx.log(`warning: the L1 hit benchmarks missed: ${JSON.stringify(stats.l1)}`);
    }
    if (burstCache.stats().loads !== burst)
      ctx.log('warning: single-flight burst made extra loader calls');
    await burstCache.close();
    await mlc.close();
    await mlc2.close();
    await bento.disconnectAll();
    await manager.disconnect();
    return out;
  },
});
