import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isCacheEnvelope } from './envelope.js';
import {
  CacheClosedError,
  CacheKeyError,
  CacheLevelUnavailableError,
  CacheOptionError,
} from './errors.js';
import { LruCache } from './lru.js';
import { MultiLevelCache } from './multi-level.js';
import {
  EVENT_CHANNEL,
  STATS_CHANNEL,
  TIER_CHANNEL,
  type CacheEvent,
  type TierEvent,
} from './stats.js';
import { MemoryTier } from './test-utils/memory-tier.js';

const open: MultiLevelCache[] = [];
function make(...args: ConstructorParameters<typeof MultiLevelCache>): MultiLevelCache {
  const c = new MultiLevelCache(...args);
  open.push(c);
  return c;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(open.splice(0).map((c) => c.close()));
});

function deferred<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Starts `getOrSet(key)` with a loader that waits on a gate, and resolves once the loader runs
 * (the tiers were read and missed): the caller can then change the cache before opening the gate.
 */
async function gatedLoad(
  c: MultiLevelCache,
  key: string,
  options?: Parameters<MultiLevelCache['getOrSet']>[2],
): Promise<{ gate: ReturnType<typeof deferred<string>>; loading: Promise<unknown> }> {
  const gate = deferred<string>();
  const started = deferred<void>();
  const loading = c.getOrSet(
    key,
    () => {
      started.resolve();
      return gate.promise;
    },
    options,
  );
  await started.promise;
  return { gate, loading };
}

describe('MultiLevelCache read-through and backfill', () => {
  it('reads through the tiers in order and backfills the faster ones', async () => {
    const l2 = new MemoryTier('l2-redis');
    const l3 = new MemoryTier('l3-disk');
    const c = make({ tiers: [l2, l3] });
    await c.set('k', 'v', { cacheLevel: ['disk'] });
    expect(l2.data.has('k')).toBe(false);
    expect(c.l1?.has('k')).toBe(false);

    expect(await c.get('k')).toBe('v');
    await c.idle();
    expect(l2.data.has('k')).toBe(true); // backfilled
    expect(c.l1?.has('k')).toBe(true);
    const getsBefore = l3.calls.get;
    expect(await c.get('k')).toBe('v'); // now an L1 hit
    expect(l3.calls.get).toBe(getsBefore);
    const s = c.stats();
    expect(s.tiers.map((t) => [t.name, t.level, t.hits, t.misses])).toEqual([
      ['l2-redis', 'redis', 0, 1],
      ['l3-disk', 'disk', 1, 0],
    ]);
  });

  it('stores envelopes in tiers with a physical TTL of ttl + max(grace, staleIfError)', async () => {
    vi.useFakeTimers();
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    await c.set('k', 42, { ttlMs: 1000, graceMs: 500, staleIfErrorMs: 2000 });
    const stored = l2.data.get('k')!;
    expect(isCacheEnvelope(stored.value)).toBe(true);
    expect(stored.value).toMatchObject({
      v: 42,
      e: Date.now() + 1000,
      g: Date.now() + 1500,
      s: Date.now() + 3000,
    });
    expect(stored.expiresAt - Date.now()).toBe(3000);
  });

  it('getOrSet writes the loaded value to every tier of the level (tiers write-behind)', async () => {
    const l2 = new MemoryTier('l2-redis');
    const l3 = new MemoryTier('l3-disk');
    const c = make({ tiers: [l2, l3] });
    expect(await c.getOrSet('k', () => 7)).toBe(7);
    expect(c.l1!.has('k')).toBe(true); // L1 at once, the tiers write-behind
    await c.idle();
    expect(l2.data.has('k') && l3.data.has('k')).toBe(true);
    expect(await c.getOrSet('m', () => 8, { cacheLevel: 'memory' })).toBe(8);
    expect(l2.data.has('m') || l3.data.has('m')).toBe(false);
    expect(await c.getOrSet('r', () => 9, { cacheLevel: 'redis' })).toBe(9);
    await c.idle();
    expect([c.l1!.has('r'), l2.data.has('r'), l3.data.has('r')]).toEqual([false, true, false]);
  });

  it('getMany uses getMany of the tiers, backfills, and answers duplicates and misses', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    await c.set('a', 1, { cacheLevel: 'redis' });
    await c.set('b', 2);
    expect(await c.getMany(['a', 'b', 'x', 'a'])).toEqual([1, 2, undefined, 1]);
    expect(l2.calls.getMany).toBe(1);
    expect(l2.calls.get).toBe(0);
    expect(c.l1!.has('a')).toBe(true);
  });

  it('delete removes the key from every tier', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    await c.set('k', 1);
    expect(await c.delete('k')).toBe(true);
    expect(await c.get('k')).toBeUndefined();
    expect(l2.data.size).toBe(0);
    expect(await c.delete('k')).toBe(false);
  });

  it('drops keys from L1 when a shared tier reports an invalidation, and flushes L1 on all', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    await c.set('a', 1);
    await c.set('b', 2);
    l2.emitInvalidate(['a']);
    expect(c.l1!.has('a')).toBe(false);
    expect(c.l1!.has('b')).toBe(true);
    l2.emitInvalidate('all');
    expect(c.l1!.size).toBe(0);
    expect(await c.get('b')).toBe(2); // still in L2
    await c.close();
    expect(l2.listenerCount).toBe(0);
  });
});

describe('MultiLevelCache single-flight', () => {
  it.each([10, 1_000, 100_000])(
    '%i concurrent getOrSet on a cold key make exactly one loader call',
    async (n) => {
      const l2 = new MemoryTier('l2-redis');
      const c = make({ tiers: [l2] });
      let calls = 0;
      const loader = async (): Promise<{ n: number }> => {
        calls++;
        await new Promise((r) => setTimeout(r, 5));
        return { n: 1 };
      };
      const ps = new Array<Promise<{ n: number }>>(n);
      for (let i = 0; i < n; i++) ps[i] = c.getOrSet('cold', loader);
      const values = await Promise.all(ps);
      expect(calls).toBe(1);
      expect(l2.calls.get).toBe(1);
      const first = values[0];
      expect(values.every((v) => v === first)).toBe(true);
      expect(first).toEqual({ n: 1 });
      expect(c.stats().coalesced).toBe(n - 1);
    },
  );

  it('a loader rejection reaches every waiter exactly once, and the next call retries', async () => {
    const c = make();
    let calls = 0;
    const gate = deferred<number>();
    const failing = (): Promise<number> => {
      calls++;
      return gate.promise;
    };
    const outcomes: string[] = [];
    const ps = Array.from({ length: 50 }, () =>
      c.getOrSet('k', failing).then(
        () => outcomes.push('ok'),
        (e: Error) => outcomes.push(e.message),
      ),
    );
    gate.reject(new Error('boom'));
    await Promise.all(ps);
    expect(calls).toBe(1);
    expect(outcomes).toEqual(Array.from({ length: 50 }, () => 'boom'));
    expect(await c.getOrSet('k', () => 5)).toBe(5);
    expect(c.stats()).toMatchObject({ loads: 2, loadErrors: 1 });
  });

  it('a get that joins a failing load sees a miss; the loader error goes to the getOrSet caller', async () => {
    const c = make({ tiers: [new MemoryTier('l2-redis')] });
    const gate = deferred<number>();
    const loading = c.getOrSet('k', () => gate.promise);
    await Promise.resolve();
    const reading = c.get('k');
    gate.reject(new Error('loader failed'));
    await expect(loading).rejects.toThrow('loader failed');
    expect(await reading).toBeUndefined();
  });

  it('concurrent get calls share one tier read, and getOrSet joining a read-only flight still loads once', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    const reads = [c.get('x'), c.get('x'), c.get('x')];
    let calls = 0;
    const loads = Array.from({ length: 20 }, () => c.getOrSet('x', () => ++calls));
    expect(await Promise.all(reads)).toEqual([undefined, undefined, undefined]);
    expect(await Promise.all(loads)).toEqual(Array.from({ length: 20 }, () => 1));
    expect(calls).toBe(1);
    expect(l2.calls.get).toBe(2); // one read flight, then one load flight
  });

  it('concurrent getMany calls for the same keys make one batched tier read', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    await c.set('a', 1, { cacheLevel: 'redis' });
    await c.set('b', 2, { cacheLevel: 'redis' });
    const results = await Promise.all(
      Array.from({ length: 100 }, () => c.getMany(['a', 'b', 'z'])),
    );
    expect(results.every((r) => r[0] === 1 && r[1] === 2 && r[2] === undefined)).toBe(true);
    expect(l2.calls.getMany).toBe(1);
  });

  it('a tier without deleteByTag is skipped and reported as unsupported', async () => {
    const bare = new MemoryTier('bare');
    Object.defineProperty(bare, 'deleteByTag', { value: undefined });
    Object.defineProperty(bare, 'expireByTag', { value: undefined });
    const c = make({ name: 'unsupported', tiers: [bare] });
    const events: CacheEvent[] = [];
    const onEvent = (m: unknown): void => void events.push(m as CacheEvent);
    subscribe(EVENT_CHANNEL, onEvent);
    try {
      await c.set('a', 1, { tags: ['t'] });
      expect(await c.deleteByTag('t')).toBe(1); // L1 removed it
      expect(await c.expireByTag('t')).toBe(0);
    } finally {
      unsubscribe(EVENT_CHANNEL, onEvent);
    }
    expect(
      events.filter((e) => e.cache === 'unsupported' && e.type === 'tier-unsupported'),
    ).toHaveLength(2);
  });

  it('getMany joins flights in progress instead of reading again', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    const gate = deferred<number>();
    const loading = c.getOrSet('a', () => gate.promise);
    const many = c.getMany(['a', 'b']);
    gate.resolve(11);
    expect(await loading).toBe(11);
    expect(await many).toEqual([11, undefined]);
    expect(l2.calls.getMany).toBe(1); // only 'b' went to the tier in a batch
  });
});

describe('MultiLevelCache writes during a load', () => {
  it('a set during a load wins: the load result reaches its waiters but is not written', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    const { gate, loading } = await gatedLoad(c, 'k'); // the tiers were read (miss), the loader runs
    await c.set('k', 'explicit');
    gate.resolve('loaded');
    expect(await loading).toBe('loaded');
    await c.idle();
    expect(await c.get('k')).toBe('explicit');
    expect((l2.data.get('k')?.value as { v: unknown }).v).toBe('explicit');
  });

  it('a delete during a load is not undone by the load', async () => {
    const c = make();
    const gate = deferred<string>();
    const loading = c.getOrSet('k', () => gate.promise);
    await c.delete('k');
    gate.resolve('loaded');
    expect(await loading).toBe('loaded');
    expect(await c.get('k')).toBeUndefined();
  });

  it('a set during a getMany tier read is not undone by the backfill', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    await c.set('a', 'old', { cacheLevel: 'redis' });
    l2.fault = 'hang';
    const many = c.getMany(['a']); // its batched read of l2 is under way
    l2.fault = 'none';
    await c.set('a', 'new', { cacheLevel: 'memory' });
    l2.release();
    expect(await many).toEqual(['old']); // the read began before the set
    expect(await c.get('a', { cacheLevel: 'memory' })).toBe('new'); // the old code backfilled 'old'
  });

  it('a set during the tier read that finds a graced value is not undone, and starts no refresh', async () => {
    vi.useFakeTimers();
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2], ttlMs: 1000, graceMs: 60_000 });
    await c.set('k', 'old', { cacheLevel: 'redis' });
    vi.advanceTimersByTime(2000); // expired in l2, inside grace
    l2.fault = 'hang';
    let loads = 0;
    const reading = c.getOrSet('k', () => `loaded${++loads}`);
    await Promise.resolve();
    l2.fault = 'none';
    await c.set('k', 'explicit', { cacheLevel: 'memory' });
    l2.release();
    expect(await reading).toBe('old'); // what it read, from before the set
    expect(await c.getOrSet('k', () => 'unused')).toBe('explicit'); // the old code served 'old'
    await c.idle();
    expect(loads).toBe(0);
    expect(await c.getOrSet('k', () => 'unused')).toBe('explicit');
  });

  it.each([
    ['deleteByTag', (c: MultiLevelCache) => c.deleteByTag('t')],
    ['expireByTag', (c: MultiLevelCache) => c.expireByTag('t')],
    ['a namespace clear', (c: MultiLevelCache) => c.clear()],
    ['clear', (c: MultiLevelCache) => c.clear()],
  ] as const)('a value loaded before %s is not stored after it', async (what, invalidate) => {
    const l2 = new MemoryTier('l2-redis');
    const root = make({ tiers: [l2], graceMs: 60_000 });
    const c = what === 'a namespace clear' ? root.namespace('ns') : root;
    const tagged = { tags: ['t'] };
    const { gate, loading } = await gatedLoad(c, 'k', tagged);
    await invalidate(c);
    gate.resolve('loaded before');
    expect(await loading).toBe('loaded before'); // its caller still gets it
    await root.idle();
    expect(await c.get('k')).toBeUndefined();
    expect(l2.data.size).toBe(0);
    expect(await c.getOrSet('k', () => 'loaded after', tagged)).toBe('loaded after');
  });

  it('a tagged value read from a tier before deleteByTag is not copied into L1 after it', async () => {
    const l2 = new MemoryTier('l2-redis');
    const l3 = new MemoryTier('l3-disk');
    const c = make({ tiers: [l2, l3] });
    await c.set('k', 'old', { tags: ['t'], cacheLevel: 'disk' });
    l3.fault = 'hang';
    const reading = c.get('k');
    await Promise.resolve();
    await new Promise((r) => setTimeout(r, 1)); // l2 missed; the l3 read is under way
    l3.fault = 'none';
    // The invalidation reaches L1 and l2 (where the entry is not) before l3 answers.
    await c.deleteByTag('t', { cacheLevel: ['memory', 'redis'] });
    l3.release();
    expect(await reading).toBe('old');
    await c.idle();
    expect(c.l1!.has('k')).toBe(false);
    expect(l2.data.has('k')).toBe(false);
  });

  it('a load in flight when a shared tier reports the key changed elsewhere is not stored', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    const { gate, loading } = await gatedLoad(c, 'k');
    await l2.set('k', 'written by another process');
    l2.emitInvalidate(['k']);
    gate.resolve('loaded before');
    expect(await loading).toBe('loaded before');
    await c.idle();
    expect(c.l1!.has('k')).toBe(false);
    expect(l2.data.get('k')?.value).toBe('written by another process');
  });

  it('close does not wait for a loader that never settles', async () => {
    const c = new MultiLevelCache({ tiers: [new MemoryTier('l2-redis')] });
    void c.getOrSet('k', () => new Promise<never>(() => {}));
    await c.close();
    await expect(c.get('k')).rejects.toThrow(CacheClosedError);
  });
});

describe('MultiLevelCache grace and stale-if-error', () => {
  it('within grace serves the stale value at once while exactly one background refresh runs', async () => {
    vi.useFakeTimers();
    const c = make({ ttlMs: 1000, graceMs: 5000 });
    await c.getOrSet('k', () => 'v1');
    vi.advanceTimersByTime(1500); // expired, inside grace
    const gate = deferred<string>();
    let calls = 0;
    const refresh = (): Promise<string> => {
      calls++;
      return gate.promise;
    };
    const served = await Promise.all([
      c.getOrSet('k', refresh),
      c.getOrSet('k', refresh),
      c.getOrSet('k', refresh),
    ]);
    expect(served).toEqual(['v1', 'v1', 'v1']);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    gate.resolve('v2');
    await c.idle();
    expect(await c.getOrSet('k', refresh)).toBe('v2');
    expect(calls).toBe(1);
    expect(c.stats()).toMatchObject({ staleServed: 3, refreshes: 1 });
  });

  it('a failed background refresh keeps the stale value, is counted and published, and the next call retries', async () => {
    vi.useFakeTimers();
    const events: CacheEvent[] = [];
    const onEvent = (m: unknown): void => void events.push(m as CacheEvent);
    subscribe(EVENT_CHANNEL, onEvent);
    try {
      const c = make({ name: 'grace-fail', ttlMs: 1000, graceMs: 5000 });
      await c.getOrSet('k', () => 'old');
      vi.advanceTimersByTime(2000);
      let calls = 0;
      expect(await c.getOrSet('k', () => Promise.reject(new Error(`down ${++calls}`)))).toBe('old');
      await c.idle();
      expect(c.stats().refreshErrors).toBe(1);
      expect(events.some((e) => e.cache === 'grace-fail' && e.type === 'refresh-error')).toBe(true);
      expect(await c.getOrSet('k', () => 'new')).toBe('old'); // still stale, a second refresh starts
      await c.idle();
      expect(await c.getOrSet('k', () => 'unused')).toBe('new');
    } finally {
      unsubscribe(EVENT_CHANNEL, onEvent);
    }
  });

  it('after grace the caller waits for the loader', async () => {
    vi.useFakeTimers();
    const c = make({ ttlMs: 1000, graceMs: 1000, staleIfErrorMs: 10_000 });
    await c.getOrSet('k', () => 'v1');
    vi.advanceTimersByTime(2500); // past grace, inside stale-if-error
    expect(await c.getOrSet('k', () => 'v2')).toBe('v2');
  });

  it('stale-if-error returns the stale value when the loader fails inside the window', async () => {
    vi.useFakeTimers();
    const c = make({ ttlMs: 1000, staleIfErrorMs: 10_000 });
    await c.getOrSet('k', () => 'v1');
    vi.advanceTimersByTime(5000);
    expect(await c.getOrSet('k', () => Promise.reject(new Error('db down')))).toBe('v1');
    expect(c.stats().staleIfErrorServed).toBe(1);
    vi.advanceTimersByTime(10_000); // window over: the error reaches the caller
    await expect(c.getOrSet('k', () => Promise.reject(new Error('db down')))).rejects.toThrow(
      'db down',
    );
  });

  it('stale values found in a slower tier are served under grace and refreshed in the background', async () => {
    vi.useFakeTimers();
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2], ttlMs: 1000, graceMs: 10_000 });
    await c.set('k', 'from-l2', { cacheLevel: 'redis' });
    vi.advanceTimersByTime(2000);
    let calls = 0;
    expect(await c.getOrSet('k', () => `fresh${++calls}`)).toBe('from-l2');
    await c.idle();
    expect(calls).toBe(1);
    expect(await c.getOrSet('k', () => 'unused')).toBe('fresh1');
  });

  it('without grace or stale-if-error an expired value is reloaded and a failure rejects', async () => {
    vi.useFakeTimers();
    const c = make({ ttlMs: 1000 });
    await c.getOrSet('k', () => 'v1');
    vi.advanceTimersByTime(1001);
    await expect(c.getOrSet('k', () => Promise.reject(new Error('nope')))).rejects.toThrow('nope');
    expect(await c.get('k')).toBeUndefined();
  });
});

describe('MultiLevelCache negative caching', () => {
  it('remembers a loader that found nothing for negativeTtlMs', async () => {
    vi.useFakeTimers();
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2], negativeTtlMs: 1000 });
    let calls = 0;
    const loader = (): undefined => {
      calls++;
      return undefined;
    };
    expect(await c.getOrSet('missing', loader)).toBeUndefined();
    expect(await c.getOrSet('missing', loader)).toBeUndefined();
    expect(calls).toBe(1);
    expect(l2.data.get('missing')?.value).toMatchObject({ n: 1 });
    vi.advanceTimersByTime(1001);
    expect(await c.getOrSet('missing', loader)).toBeUndefined();
    expect(calls).toBe(2);
    expect(c.stats().negativeWrites).toBe(2);
  });

  it('does not cache undefined when negativeTtlMs is 0', async () => {
    const c = make();
    let calls = 0;
    await c.getOrSet('m', () => void calls++);
    await c.getOrSet('m', () => void calls++);
    expect(calls).toBe(2);
  });
});

describe('MultiLevelCache failing tiers', () => {
  it.each(['throw', 'reject'] as const)(
    'a tier that %ss is skipped, counted, published, and never fails the caller',
    async (fault) => {
      const bad = new MemoryTier('l2-redis');
      const l3 = new MemoryTier('l3-disk');
      const c = make({ name: 'faulty', tiers: [bad, l3] });
      await c.set('k', 'v', { cacheLevel: 'disk' });
      bad.fault = fault;
      const events: TierEvent[] = [];
      const onTier = (m: unknown): void => void events.push(m as TierEvent);
      subscribe(TIER_CHANNEL, onTier);
      try {
        expect(await c.get('k')).toBe('v');
        expect(await c.getOrSet('other', () => 'loaded')).toBe('loaded');
        await c.set('x', 1);
        expect(await c.delete('x')).toBe(true);
      } finally {
        unsubscribe(TIER_CHANNEL, onTier);
      }
      await c.idle();
      const s = c.stats().tiers[0]!;
      expect(s.errors).toBeGreaterThanOrEqual(5);
      expect(
        events.some((e) => e.cache === 'faulty' && e.tier === 'l2-redis' && e.outcome === 'error'),
      ).toBe(true);
    },
  );

  it('a tier whose methods throw synchronously is skipped and counted too', async () => {
    const boom = (): never => {
      throw new Error('sync boom');
    };
    const syncThrower = {
      name: 'l2-redis',
      storage: 'values' as const,
      get: boom,
      set: boom,
      delete: boom,
      clear: boom,
    };
    const c = make({ tiers: [syncThrower] });
    expect(await c.getOrSet('k', () => 'v')).toBe('v');
    await c.idle();
    expect(await c.delete('k')).toBe(true);
    expect(c.stats().tiers[0]!.errors).toBe(3); // get, write-behind set, delete
  });

  it('a tier that hangs is skipped after its timeout and counted as a timeout', async () => {
    const hung = new MemoryTier('l2-redis');
    const l3 = new MemoryTier('l3-disk');
    const c = make({ tiers: [{ tier: hung, timeoutMs: 20 }, l3], tierTimeoutMs: 1000 });
    await c.set('k', 'v', { cacheLevel: 'disk' });
    hung.fault = 'hang';
    let loads = 0;
    expect(await c.get('k')).toBe('v');
    expect(await c.getOrSet('cold', () => ++loads)).toBe(1);
    const stats = c.stats().tiers;
    expect(stats[0]).toMatchObject({ name: 'l2-redis', timeoutMs: 20 });
    expect(stats[0]!.timeouts).toBeGreaterThanOrEqual(3); // get k, get cold, set cold
    expect(stats[0]!.errors).toBe(0);
    expect(stats[1]!.timeouts).toBe(0);
    expect(stats[0]!.latency.counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
    hung.release();
  });
});

describe('MultiLevelCache tags and namespaces', () => {
  it('deleteByTag removes tagged entries from L1 and tiers', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    await c.set('a', 1, { tags: ['sym:BTC'] });
    await c.set('b', 2, { tags: ['sym:BTC', 'tf:1m'] });
    await c.set('c', 3, { tags: ['sym:ETH'] });
    expect(await c.deleteByTag('sym:BTC')).toBe(2);
    expect(await c.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, 3]);
    expect(l2.data.size).toBe(1);
  });

  it('expireByTag makes entries stale: served under grace while refreshing', async () => {
    vi.useFakeTimers();
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2], ttlMs: 60_000, graceMs: 60_000 });
    await c.getOrSet('a', () => 'old', { tags: ['t'] });
    expect(await c.expireByTag('t')).toBe(1);
    vi.advanceTimersByTime(1);
    expect(await c.get('a')).toBeUndefined(); // get returns fresh values only
    expect(await c.getOrSet('a', () => 'new', { tags: ['t'] })).toBe('old');
    await c.idle();
    expect(await c.getOrSet('a', () => 'unused', { tags: ['t'] })).toBe('new');
  });

  it('expireByTag reaches the tiers: a stale L2 entry is served under grace in another process', async () => {
    vi.useFakeTimers();
    const shared = new MemoryTier('l2-redis'); // stands for Redis shared by two processes
    const a = make({ name: 'A', tiers: [shared], ttlMs: 60_000, graceMs: 60_000 });
    const b = make({ name: 'B', tiers: [shared], ttlMs: 60_000, graceMs: 60_000 });
    await a.getOrSet('px', () => 100, { tags: ['sym:BTC'] });
    await a.idle();
    expect(await a.expireByTag('sym:BTC')).toBe(1);
    expect(shared.calls.expireByTag).toBe(1);
    vi.advanceTimersByTime(1);
    let loads = 0;
    expect(await b.getOrSet('px', () => 100 + ++loads, { tags: ['sym:BTC'] })).toBe(100); // stale, served
    await b.idle();
    expect(loads).toBe(1);
    expect(await b.getOrSet('px', () => 0, { tags: ['sym:BTC'] })).toBe(101);
    expect((shared.data.get('px')?.value as { v: unknown }).v).toBe(101);
  });

  it('expireByTag without grace removes the entries', async () => {
    const c = make({ ttlMs: 60_000 });
    await c.set('a', 1, { tags: ['t'] });
    await c.expireByTag('t');
    expect(c.l1!.size).toBe(0);
  });

  it('namespaces prefix keys and tags, share tiers, and clear only their own entries', async () => {
    const l2 = new MemoryTier('l2-redis');
    const c = make({ tiers: [l2] });
    const bars = c.namespace('bars');
    const quotes = c.namespace('quotes');
    await bars.set('BTC', 1, { tags: ['hot'] });
    await quotes.set('BTC', 2, { tags: ['hot'] });
    expect(await bars.get('BTC')).toBe(1);
    expect(await quotes.get('BTC')).toBe(2);
    expect(await c.get('bars:BTC')).toBe(1);
    expect(bars.namespace('1m').prefix).toBe('bars:1m:');
    expect(await bars.deleteByTag('hot')).toBe(1);
    expect(await quotes.get('BTC')).toBe(2);
    await quotes.set('ETH', 3);
    await quotes.clear();
    expect(await quotes.getMany(['BTC', 'ETH'])).toEqual([undefined, undefined]);
    await c.set('root', 4);
    expect(await c.get('root')).toBe(4);
  });
});

describe('MultiLevelCache stats, levels and options', () => {
  it('publishes stats snapshots on the stats channel', () => {
    const c = make({ name: 'published', tiers: [new MemoryTier('l2-redis')] });
    const seen: unknown[] = [];
    const onStats = (m: unknown): void => void seen.push(m);
    subscribe(STATS_CHANNEL, onStats);
    try {
      c.publishStats();
    } finally {
      unsubscribe(STATS_CHANNEL, onStats);
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ name: 'published', tiers: [{ name: 'l2-redis', hits: 0 }] });
  });

  it('publishes stats every statsIntervalMs while subscribed', async () => {
    vi.useFakeTimers();
    make({ name: 'periodic', statsIntervalMs: 1000 });
    const seen: unknown[] = [];
    const onStats = (m: unknown): void => void seen.push(m);
    subscribe(STATS_CHANNEL, onStats);
    try {
      await vi.advanceTimersByTimeAsync(3000);
    } finally {
      unsubscribe(STATS_CHANNEL, onStats);
    }
    expect(seen.filter((m) => (m as { name: string }).name === 'periodic')).toHaveLength(3);
  });

  it('rejects a level with no configured tier, naming it', async () => {
    const c = make();
    await expect(c.getOrSet('k', () => 1, { cacheLevel: 'redis' })).rejects.toThrow(
      CacheLevelUnavailableError,
    );
    await expect(c.get('k', { cacheLevel: 'disk' })).rejects.toThrow(/cacheLevel 'disk'/);
    c.addTier(new MemoryTier('my-redis'));
    expect(await c.getOrSet('k', () => 1, { cacheLevel: 'redis' })).toBe(1);
    const noL1 = make({ l1: false });
    await expect(noL1.get('k', { cacheLevel: 'memory' })).rejects.toThrow(
      CacheLevelUnavailableError,
    );
  });

  it('accepts an explicit tier list and an LruCache instance as L1', async () => {
    const a = new MemoryTier('a', 'custom');
    const b = new MemoryTier('b');
    const l1 = new LruCache<string, never>({ max: 10 });
    const c = make({ l1, tiers: [a, b] });
    expect(c.l1).toBe(l1);
    await c.set('k', 1, { cacheLevel: [b] });
    expect([a.data.has('k'), b.data.has('k'), l1.has('k')]).toEqual([false, true, false]);
    await c.set('j', 1, { cacheLevel: ['custom', 'memory'] });
    expect([a.data.has('j'), b.data.has('j'), l1.has('j')]).toEqual([true, false, true]);
  });

  it.each([
    [{ ttlMs: -1 }, 'ttlMs'],
    [{ graceMs: -5 }, 'graceMs'],
    [{ staleIfErrorMs: Infinity }, 'staleIfErrorMs'],
    [{ negativeTtlMs: Number.NaN }, 'negativeTtlMs'],
    [{ cacheLevel: 'ram' }, 'cacheLevel'],
    [{ cacheLevel: [] }, 'cacheLevel'],
    [{ l1: { max: 0 } }, 'max'],
    [{ l1: 'big' }, 'l1'],
    [{ tierTimeoutMs: 0 }, 'tierTimeoutMs'],
    [{ jitter: 2 }, 'jitter'],
    [{ tiers: [{}] }, 'tiers'],
    [{ tiers: [{ tier: new MemoryTier('x'), timeoutMs: -1 }] }, 'tiers[x].timeoutMs'],
  ])('bad option %j throws at construction, naming %s', (options, name) => {
    try {
      new MultiLevelCache(options as never);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CacheOptionError);
      expect((error as CacheOptionError).option).toBe(name);
    }
  });

  it('bad per-call options reject the call, naming the option', async () => {
    const c = make();
    await expect(c.getOrSet('k', () => 1, { ttlMs: -1 })).rejects.toThrow(/ttlMs/);
    await expect(c.set('k', 1, { cacheLevel: 'ram' as never })).rejects.toThrow(/cacheLevel/);
  });

  it('rejects a non-string key and a missing loader, naming them', async () => {
    const c = make();
    await expect(c.getOrSet(42 as never, () => 1)).rejects.toThrow(/key = 42/);
    await expect(c.getOrSet('k', 'nope' as never)).rejects.toThrow(/loader/);
    await expect(c.getMany(['a', 1] as never)).rejects.toThrow(/keys/);
  });

  it('rejects operations after close', async () => {
    const c = new MultiLevelCache();
    await c.close();
    await expect(c.getOrSet('k', () => 1)).rejects.toThrow(CacheClosedError);
    await expect(c.get('k')).rejects.toThrow(CacheClosedError);
  });
});

describe('MultiLevelCache keys with lone surrogates', () => {
  /** An L1 plus an L2 that stores keys as UTF-8, as Redis does. */
  function withUtf8Tier(): { c: MultiLevelCache; l2: MemoryTier } {
    const l2 = new MemoryTier('l2-redis');
    l2.utf8Keys = true;
    return { c: make({ tiers: [l2] }), l2 };
  }

  async function keyErrorOf(p: Promise<unknown>): Promise<CacheKeyError> {
    const error: unknown = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CacheKeyError);
    return error as CacheKeyError;
  }

  it('a UTF-8 tier really stores two keys that differ only in a lone surrogate as one', async () => {
    const l2 = new MemoryTier('l2-redis');
    l2.utf8Keys = true;
    await l2.set('a\ud800', 'one');
    expect(await l2.get('a\udbff')).toBe('one');
  });

  it('refuses them in set() instead of letting them share one L2 entry', async () => {
    const { c, l2 } = withUtf8Tier();
    const error = await keyErrorOf(c.set('a\ud800', 'one'));
    expect(error.path).toBe('key');
    expect(error.message).toContain('"a\\ud800"');
    expect(error.message).toMatch(/lone surrogate/);
    // The old code stored it, and get('a\udbff') then answered 'one' from L2.
    expect(l2.data.size).toBe(0);
    await keyErrorOf(c.get('a\udbff'));
  });

  it('refuses them in every keyed method before any tier or loader is called, naming the argument', async () => {
    const { c, l2 } = withUtf8Tier();
    let loads = 0;
    const loader = (): string => `v${++loads}`;
    const cases: [Promise<unknown>, string][] = [
      [c.getOrSet('a\ud800', loader), 'key'],
      [c.getOrSet('\udc00b', loader, { cacheLevel: 'redis' }), 'key'],
      [c.get('a\ud800'), 'key'],
      [c.set('a\ud800', 1), 'key'],
      [c.delete('a\ud800'), 'key'],
      [c.getMany(['ok', 'a\ud800']), 'keys[1]'],
      [c.set('ok', 1, { tags: ['t', 't\ud800'] }), 'tags[1]'],
      [c.getOrSet('ok', loader, { tags: ['\ud800'] }), 'tags[0]'],
      [c.deleteByTag('t\ud800'), 'tag'],
      [c.expireByTag('t\ud800'), 'tag'],
    ];
    for (const [p, path] of cases) expect((await keyErrorOf(p)).path).toBe(path);
    expect(loads).toBe(0);
    expect(l2.calls).toEqual({
      get: 0,
      set: 0,
      delete: 0,
      getMany: 0,
      clear: 0,
      deleteByTag: 0,
      expireByTag: 0,
    });
    expect(c.l1!.size).toBe(0);
  });

  it('accepts them in operations that use only L1, where they stay apart', async () => {
    const { c, l2 } = withUtf8Tier();
    const memory = { cacheLevel: 'memory' } as const;
    await c.set('a\ud800', 'one', { ...memory, tags: ['t\ud800'] });
    await c.set('a\udbff', 'two', memory);
    expect(await c.get('a\ud800', memory)).toBe('one');
    expect(await c.getOrSet('a\udbff', () => 'loaded', memory)).toBe('two');
    expect(await c.getMany(['a\ud800', 'a\udbff'], memory)).toEqual(['one', 'two']);
    expect(await c.deleteByTag('t\ud800', memory)).toBe(1);
    expect(await c.delete('a\udbff', memory)).toBe(true);
    expect(l2.data.size).toBe(0);
    const l1Only = make({ tiers: [] });
    expect(await l1Only.getOrSet('b\ud800', () => 3)).toBe(3);
    expect(await l1Only.getOrSet('b\udbff', () => 4)).toBe(4);
  });

  it('refuses a stale L1-only entry whose refresh would write it to a tier', async () => {
    vi.useFakeTimers();
    const l2 = new MemoryTier('l2-redis');
    l2.utf8Keys = true;
    const c = make({ tiers: [l2], ttlMs: 1000, graceMs: 5000 });
    await c.set('a\ud800', 'one', { cacheLevel: 'memory' });
    expect(await c.getOrSet('a\ud800', () => 'fresh')).toBe('one'); // fresh L1 hit: no tier
    vi.advanceTimersByTime(1500); // expired, inside grace: a refresh would write to L2
    let loads = 0;
    const error: unknown = await c
      .getOrSet('a\ud800', () => `v${++loads}`)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheKeyError);
    await c.idle();
    expect(loads).toBe(0);
    expect(l2.data.size).toBe(0);
  });

  it('refuses a namespace name with a lone surrogate, naming it', () => {
    const c = make();
    expect(() => c.namespace('ns\ud800')).toThrow(CacheOptionError);
    expect(() => c.namespace('ns\ud800')).toThrow(/namespace/);
  });

  it('accepts well-formed keys, surrogate pairs included', async () => {
    const { c, l2 } = withUtf8Tier();
    await c.set('a\ud83d\ude00', 'smile', { tags: ['\ud83d\ude00'] });
    expect(await c.getOrSet('é€\ud83d\ude01', () => 'grin')).toBe('grin');
    expect(await c.getMany(['a\ud83d\ude00', 'é€\ud83d\ude01'])).toEqual(['smile', 'grin']);
    expect(l2.data.size).toBe(2);
    expect(await c.deleteByTag('\ud83d\ude00')).toBe(1);
    expect(await c.namespace('\ud83d\ude00').getOrSet('k', () => 1)).toBe(1);
  });
});
