import { getHeapStatistics } from 'node:v8';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CacheOptionError } from './errors.js';
import { type EvictionReason, LruCache } from './lru.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('LruCache order and eviction', () => {
  it('evicts the least recently used entry when max is reached, and get refreshes recency', () => {
    const evicted: [string, number, EvictionReason][] = [];
    const c = new LruCache<string, number>({
      max: 3,
      onEvict: (v, k, r) => evicted.push([k, v, r]),
    });
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    expect(c.get('a')).toBe(1); // a becomes most recent; b is now the LRU
    c.set('d', 4);
    expect(evicted).toEqual([['b', 2, 'evict']]);
    expect([...c.keys()]).toEqual(['d', 'a', 'c']);
    expect(c.size).toBe(3);
    expect(c.stats().evictions).toBe(1);
  });

  it('peek and has do not change recency or counters', () => {
    const c = new LruCache<string, number>({ max: 2 });
    c.set('a', 1);
    c.set('b', 2);
    expect(c.peek('a')).toBe(1);
    expect(c.has('a')).toBe(true);
    c.set('c', 3); // a is still the LRU and goes
    expect(c.has('a')).toBe(false);
    expect(c.stats()).toMatchObject({ hits: 0, misses: 0, evictions: 1 });
  });

  it('set of an existing key replaces the value, moves it to the front and reports the old value with reason set', () => {
    const reasons: [string, number, EvictionReason][] = [];
    const c = new LruCache<string, number>({
      max: 2,
      onEvict: (v, k, r) => reasons.push([k, v, r]),
    });
    c.set('a', 1);
    c.set('b', 2);
    c.set('a', 10);
    c.set('c', 3);
    expect(c.get('a')).toBe(10);
    expect(c.has('b')).toBe(false);
    expect(reasons).toEqual([
      ['a', 1, 'set'],
      ['b', 2, 'evict'],
    ]);
  });

  it('delete and clear call onEvict with their reasons and free the slots for reuse', () => {
    const reasons: string[] = [];
    const c = new LruCache<number, number>({
      max: 4,
      onEvict: (_v, k, r) => reasons.push(`${k}:${r}`),
    });
    for (let i = 0; i < 4; i++) c.set(i, i);
    expect(c.delete(1)).toBe(true);
    expect(c.delete(1)).toBe(false);
    c.set(9, 9);
    expect(c.size).toBe(4);
    c.clear();
    expect(c.size).toBe(0);
    expect(reasons).toEqual(['1:delete', '9:clear', '3:clear', '2:clear', '0:clear']);
    for (let i = 0; i < 10; i++) c.set(i, i);
    expect([...c.keys()]).toEqual([9, 8, 7, 6]);
  });

  it('counts hits and misses, and entries() lists most recent first', () => {
    const c = new LruCache<string, string>({ max: 10 });
    c.set('x', 'X');
    c.set('y', 'Y');
    c.get('x');
    c.get('nope');
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1 });
    expect([...c.entries()]).toEqual([
      ['x', 'X'],
      ['y', 'Y'],
    ]);
    expect([...c]).toEqual([...c.entries()]);
    c.resetStats();
    expect(c.stats()).toMatchObject({ hits: 0, misses: 0 });
  });

  it('iteration ends and visits each entry once while the loop body gets, sets and deletes', () => {
    const c = new LruCache<string, number>({ max: 10 });
    for (const k of ['a', 'b', 'c', 'd']) c.set(k, 1);
    const seen: string[] = [];
    for (const [k, v] of c.entries()) {
      seen.push(k);
      if (seen.length > 20) break; // the old code looped forever: each get moved k to the tail
      if (k === 'c') c.delete('b');
      else if (k === 'a') c.set('e', 1);
      else c.set(k, v + 1);
      c.get(k);
    }
    expect(seen).toEqual(['d', 'c', 'a']);
    expect([...c]).toEqual([
      ['a', 1],
      ['e', 1],
      ['c', 1],
      ['d', 2],
    ]);
  });

  it('keeps exact LRU order against a reference model under random operations', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(
          fc.tuple(
            fc.constantFrom('get', 'set', 'delete', 'peek'),
            fc.integer({ min: 0, max: 12 }),
          ),
          { maxLength: 200 },
        ),
        (max, ops) => {
          const c = new LruCache<number, number>({ max });
          const model: number[] = []; // most recent last
          for (const [op, k] of ops) {
            const at = model.indexOf(k);
            if (op === 'set') {
              c.set(k, k * 2);
              if (at >= 0) model.splice(at, 1);
              else if (model.length === max) model.shift();
              model.push(k);
            } else if (op === 'get') {
              expect(c.get(k)).toBe(at >= 0 ? k * 2 : undefined);
              if (at >= 0) model.push(...model.splice(at, 1));
            } else if (op === 'peek') {
              expect(c.peek(k)).toBe(at >= 0 ? k * 2 : undefined);
            } else {
              expect(c.delete(k)).toBe(at >= 0);
              if (at >= 0) model.splice(at, 1);
            }
            expect([...c.keys()]).toEqual([...model].reverse());
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('LruCache TTL', () => {
  it('expires an entry after its TTL (fake timers) and counts the expiry', () => {
    vi.useFakeTimers();
    const reasons: EvictionReason[] = [];
    const c = new LruCache<string, number>({
      max: 10,
      ttlMs: 1000,
      onEvict: (_v, _k, r) => reasons.push(r),
    });
    c.set('a', 1);
    c.set('b', 2, { ttlMs: 5000 });
    c.set('forever', 3, { ttlMs: 0 });
    vi.advanceTimersByTime(999);
    expect(c.get('a')).toBe(1);
    expect(c.remainingTtl('a')).toBe(1);
    vi.advanceTimersByTime(1);
    expect(c.get('a')).toBeUndefined();
    expect(c.has('b')).toBe(true);
    vi.advanceTimersByTime(4000);
    expect(c.has('b')).toBe(false);
    expect(c.peek('b')).toBeUndefined();
    expect([...c.keys()]).toEqual(['forever']);
    expect(c.purgeStale()).toBe(1);
    expect(c.get('forever')).toBe(3);
    expect(c.remainingTtl('forever')).toBe(Infinity);
    expect(reasons).toEqual(['expire', 'expire']);
    expect(c.stats()).toMatchObject({ expirations: 2, misses: 1, hits: 2, size: 1 });
  });

  it('applies ± jitter: every expiry falls inside [ttl·(1−j), ttl·(1+j)] and they do not all coincide', () => {
    vi.useFakeTimers();
    const c = new LruCache<number, number>({ max: 1000, ttlMs: 10_000, jitter: 0.2 });
    for (let i = 0; i < 500; i++) c.set(i, i);
    vi.advanceTimersByTime(7_999);
    expect(c.purgeStale()).toBe(0);
    vi.advanceTimersByTime(2_001); // t = 10 000: roughly half are gone
    const firstHalf = c.purgeStale();
    expect(firstHalf).toBeGreaterThan(100);
    expect(firstHalf).toBeLessThan(400);
    vi.advanceTimersByTime(2_001); // t = 12 001: everything is gone
    expect(c.purgeStale()).toBe(500 - firstHalf);
    expect(c.size).toBe(0);
  });

  it('an expired least-recently-used entry pushed out by a set counts as an expiry, not an eviction', () => {
    vi.useFakeTimers();
    const c = new LruCache<string, number>({ max: 1, ttlMs: 10 });
    c.set('a', 1);
    vi.advanceTimersByTime(20);
    c.set('b', 2);
    expect(c.stats()).toMatchObject({ evictions: 0, expirations: 1 });
  });
});

describe('LruCache byte bound', () => {
  it('refuses entries above maxEntryBytes and removes the old value of that key', () => {
    const reasons: string[] = [];
    const c = new LruCache<string, string>({
      maxBytes: 100,
      maxEntryBytes: 10,
      sizeOf: (v) => v.length,
      onEvict: (v, k, r) => reasons.push(`${k}=${v}:${r}`),
    });
    expect(c.set('a', 'short')).toBe(true);
    expect(c.set('a', 'much too long for it')).toBe(false);
    expect(c.has('a')).toBe(false);
    expect(c.stats().refused).toBe(1);
    expect(reasons).toEqual(['a=short:set']);
    expect(c.bytes).toBe(0);
  });

  it('evicts least recently used entries until the total fits', () => {
    const c = new LruCache<string, string>({ maxBytes: 10, sizeOf: (v) => v.length });
    c.set('a', 'aaaa');
    c.set('b', 'bbbb');
    c.get('a');
    c.set('c', 'cccc'); // 12 > 10: b (LRU) goes
    expect([...c.keys()]).toEqual(['c', 'a']);
    expect(c.bytes).toBe(8);
    c.set('d', 'dddddddddd'); // exactly 10: everything else goes
    expect([...c.keys()]).toEqual(['d']);
    expect(c.bytes).toBe(10);
  });

  it('holds max and maxBytes under random operations (property test against a simple model)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(
          fc.oneof(
            fc.tuple(
              fc.constant('set' as const),
              fc.integer({ min: 0, max: 9 }),
              fc.integer({ min: 0, max: 50 }),
            ),
            fc.tuple(fc.constant('get' as const), fc.integer({ min: 0, max: 9 }), fc.constant(0)),
            fc.tuple(
              fc.constant('delete' as const),
              fc.integer({ min: 0, max: 9 }),
              fc.constant(0),
            ),
          ),
          { maxLength: 150 },
        ),
        (max, maxBytes, ops) => {
          const c = new LruCache<number, number>({ max, maxBytes, sizeOf: (v) => v });
          let model: [number, number][] = []; // [key, size], most recent last
          const total = (): number => model.reduce((s, [, v]) => s + v, 0);
          for (const [op, k, v] of ops) {
            const at = model.findIndex(([mk]) => mk === k);
            if (op === 'set') {
              const ok = c.set(k, v);
              if (at >= 0) model.splice(at, 1);
              if (v > maxBytes) {
                expect(ok).toBe(false);
              } else {
                expect(ok).toBe(true);
                if (at < 0 && model.length === max) model.shift();
                model.push([k, v]);
                while (total() > maxBytes) model.shift();
              }
            } else if (op === 'get') {
              expect(c.get(k)).toBe(at >= 0 ? model[at]![1] : undefined);
              if (at >= 0) model.push(...model.splice(at, 1));
            } else {
              expect(c.delete(k)).toBe(at >= 0);
              if (at >= 0) model = model.filter(([mk]) => mk !== k);
            }
            expect(c.bytes).toBe(total());
            expect(c.bytes).toBeLessThanOrEqual(maxBytes);
            expect(c.size).toBeLessThanOrEqual(max);
            expect([...c.entries()]).toEqual([...model].reverse());
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grows its storage when bounded by bytes only', () => {
    const c = new LruCache<number, string>({ maxBytes: 1_000_000, sizeOf: () => 1 });
    for (let i = 0; i < 5000; i++) c.set(i, `v${i}`);
    expect(c.size).toBe(5000);
    expect(c.get(0)).toBe('v0');
    expect(c.get(4999)).toBe('v4999');
    expect(c.bytes).toBe(5000);
  });

  it('estimates sizes by default when maxBytes is set without sizeOf', () => {
    const c = new LruCache<string, unknown>({ maxBytes: 1000 });
    c.set('a', 'x'.repeat(100));
    expect(c.bytes).toBe(216);
    expect(c.set('big', new Float64Array(200))).toBe(false);
  });
});

describe('LruCache allocation', () => {
  it('a get hit allocates nothing (heap growth over 200,000 hits under 0.5 byte per hit)', () => {
    const c = new LruCache<string, number>({ max: 1000, ttlMs: 3_600_000 });
    const keys = Array.from({ length: 1000 }, (_, i) => `key:${i}`);
    for (let i = 0; i < 1000; i++) c.set(keys[i]!, i);
    let sink = 0;
    const run = (n: number): void => {
      for (let i = 0; i < n; i++) sink = (sink + c.get(keys[(i * 7919) % 1000]!)!) | 0;
    };
    run(200_000); // warm up and optimise
    let best = Infinity;
    for (let attempt = 0; attempt < 5 && best > 0.5; attempt++) {
      const before = getHeapStatistics().used_heap_size;
      run(200_000);
      const grown = getHeapStatistics().used_heap_size - before;
      if (grown >= 0) best = Math.min(best, grown / 200_000);
    }
    expect(sink).toBeGreaterThan(0);
    expect(best).toBeLessThan(0.5);
  });
});

describe('LruCache options', () => {
  it.each([
    [{ max: 0 }, 'max'],
    [{ max: -1 }, 'max'],
    [{ max: 1.5 }, 'max'],
    [{}, 'max'],
    [{ max: 10, ttlMs: -1 }, 'ttlMs'],
    [{ max: 10, ttlMs: Number.NaN }, 'ttlMs'],
    [{ max: 10, jitter: 1 }, 'jitter'],
    [{ max: 10, jitter: -0.1 }, 'jitter'],
    [{ maxBytes: 0 }, 'maxBytes'],
    [{ max: 1, maxEntryBytes: -5 }, 'maxEntryBytes'],
    [{ max: 1, sizeOf: 3 }, 'sizeOf'],
    [{ max: 1, onEvict: 'x' }, 'onEvict'],
  ])('throws a CacheOptionError naming the option for %j', (options, option) => {
    const make = (): unknown => new LruCache(options as never);
    expect(make).toThrow(CacheOptionError);
    try {
      make();
    } catch (error) {
      expect((error as CacheOptionError).option).toBe(option);
      expect((error as CacheOptionError).code).toBe('E_CACHE_OPTION');
      expect((error as Error).message).toContain(option);
    }
  });

  it('rejects a negative per-entry TTL and a sizeOf that returns garbage', () => {
    const c = new LruCache<string, number>({
      max: 2,
      maxBytes: 100,
      sizeOf: (v) => (v < 0 ? Number.NaN : v),
    });
    expect(() => c.set('a', 1, { ttlMs: -5 })).toThrow(/ttlMs/);
    expect(() => c.set('a', -1)).toThrow(/sizeOf/);
  });
});
