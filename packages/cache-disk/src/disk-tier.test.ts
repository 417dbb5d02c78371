import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expireEnvelope } from '@peaktrade/cache-core';
import { encode } from '@peaktrade/serialize';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskTier } from './disk-tier.js';
import { DiskTierClosedError, DiskTierOptionError, DiskValueError } from './errors.js';
import type { DiskTierEvent } from './options.js';
import { SCHEMA_VERSION } from './schema.js';
import { manualClock, tempDirs } from './test-utils/tmp.js';

const dirs = tempDirs();
const open: DiskTier[] = [];
afterEach(async () => {
  try {
    for (const t of open.splice(0)) await t.close();
  } finally {
    dirs.cleanup();
  }
});

function tier<V = unknown>(
  opts: Partial<ConstructorParameters<typeof DiskTier>[0]> = {},
): DiskTier<V> {
  const t = new DiskTier<V>({ file: join(dirs.make(), 'cache.db'), sweepIntervalMs: 0, ...opts });
  open.push(t as DiskTier);
  return t;
}

/** A second, raw connection to inspect the file as another process would. */
function raw(file: string): Database.Database {
  return new Database(file, { readonly: true });
}

describe('DiskTier basics', () => {
  it('round-trips values of many types through the file', async () => {
    const t = tier();
    const values: [string, unknown][] = [
      ['str', 'hello'],
      ['num', 42.5],
      ['obj', { a: 1, b: [1, 2, { c: 'd' }], n: null }],
      ['f64', new Float64Array([1.5, -2, Math.PI])],
      ['date', new Date(1_700_000_000_000)],
      ['map', new Map([['x', 1]])],
      ['big', 12345678901234567890n],
      ['empty', ''],
      ['unicode-ключ-🔑', 'värde'],
    ];
    for (const [k, v] of values) await t.set(k, v);
    for (const [k, v] of values) expect(await t.get(k)).toEqual(v);
    expect(await t.get('absent')).toBeUndefined();
    expect(t.storage).toBe('bytes');
    expect(t.name).toBe('l3-disk');
  });

  it('overwrites a key in place and counts sizes exactly', async () => {
    const t = tier();
    await t.set('k', 'a'.repeat(100));
    const first = t.stats().bytes;
    await t.set('k', 'b'.repeat(10));
    const s = t.stats();
    expect(s.entries).toBe(1);
    expect(s.bytes).toBeLessThan(first);
    expect(await t.get('k')).toBe('b'.repeat(10));
    const db = raw(t.file);
    const row = db
      .prepare('SELECT size, length(value) AS len, length(CAST(key AS BLOB)) AS klen FROM entries')
      .get() as {
      size: number;
      len: number;
      klen: number;
    };
    db.close();
    expect(row.size).toBe(row.len + row.klen);
    expect(s.bytes).toBe(row.size);
  });

  it('deletes keys and reports whether they existed', async () => {
    const t = tier();
    await t.set('a', 1);
    expect(await t.delete('a')).toBe(true);
    expect(await t.delete('a')).toBe(false);
    expect(await t.get('a')).toBeUndefined();
    expect(t.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('getMany returns values in key order with undefined for misses', async () => {
    const t = tier();
    await t.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: { two: 2 } },
    ]);
    expect(await t.getMany(['b', 'x', 'a', 'b'])).toEqual([{ two: 2 }, undefined, 1, { two: 2 }]);
    expect(t.stats()).toMatchObject({ hits: 3, misses: 1, hitRatio: 0.75 });
  });

  it('setMany writes every entry in one transaction', async () => {
    const t = tier();
    const entries = Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, value: i }));
    const db = new Database(t.file);
    const before = db.pragma('data_version', { simple: true }) as number;
    await t.setMany(entries);
    // data_version moves once per commit by another connection: one transaction, one bump.
    const after = db.pragma('data_version', { simple: true }) as number;
    expect(after - before).toBe(1);
    expect(db.prepare('SELECT count(*) FROM entries').pluck().get()).toBe(500);
    db.close();
  });

  it('setMany writes nothing when one value cannot be encoded', async () => {
    const t = tier();
    await expect(
      t.setMany([
        { key: 'ok', value: 1 },
        { key: 'bad', value: () => 1 },
      ]),
    ).rejects.toBeInstanceOf(DiskValueError);
    expect(await t.get('ok')).toBeUndefined();
    expect(t.stats().entries).toBe(0);
  });

  it('clear removes every entry and tag', async () => {
    const t = tier();
    await t.set('a', 1, { tags: ['t'] });
    await t.set('b', 2);
    await t.clear();
    expect(t.stats()).toMatchObject({ entries: 0, bytes: 0 });
    const db = raw(t.file);
    expect(db.prepare('SELECT count(*) FROM tags').pluck().get()).toBe(0);
    db.close();
  });

  it('keeps entries across close and reopen, with the schema version in the file', async () => {
    const dir = dirs.make();
    const file = join(dir, 'nested', 'cache.db');
    const a = new DiskTier({ file, sweepIntervalMs: 0 });
    await a.set('persist', { x: new Float64Array([1, 2]) }, { tags: ['p'] });
    await a.close();
    const b = new DiskTier({ file, sweepIntervalMs: 0 });
    open.push(b);
    expect(await b.get('persist')).toEqual({ x: new Float64Array([1, 2]) });
    expect(await b.deleteByTag('p')).toBe(1);
    const db = raw(file);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('rejects calls after close with DiskTierClosedError, and close is idempotent', async () => {
    const t = tier();
    await t.close();
    await t.close();
    await expect(t.get('a')).rejects.toBeInstanceOf(DiskTierClosedError);
    await expect(t.set('a', 1)).rejects.toBeInstanceOf(DiskTierClosedError);
    expect(() => t.stats()).toThrow(DiskTierClosedError);
  });
});

describe('DiskTier close', () => {
  it('a second close() called while the first waits for a sweep resolves only once the file is closed', async () => {
    const clock = manualClock();
    const t = tier({ clock: clock.now, sweepBatchSize: 1, sweepMaxBatches: 1000 });
    await t.setMany(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: i, ttlMs: 1 })));
    clock.advance(10);
    const sweeping = t.sweepExpired();
    await new Promise((r) => setImmediate(r)); // the sweep now waits between two batches
    const order: string[] = [];
    const first = t.close().then(() => order.push('first'));
    await t.close();
    order.push('second');
    // The caller of the second close may now delete or reopen the file: it must be released.
    expect(existsSync(`${t.file}-wal`)).toBe(false);
    await first;
    expect(order).toEqual(['first', 'second']);
    expect(await sweeping).toBeGreaterThan(0);
  });
});

describe('DiskTier when its file is deleted while open', () => {
  it('reopens the path within accessFlushMs instead of serving a private, unlinked copy', async () => {
    const file = join(dirs.make(), 'c.db');
    const a = new DiskTier({ file, accessFlushMs: 5, sweepIntervalMs: 0 });
    open.push(a);
    await a.set('k', 'before');
    // What `rm cache.db*` does to clear a cache while its users run.
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    for (const deadline = Date.now() + 2000; !existsSync(file) && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 5));
    expect(await a.get('k')).toBeUndefined();
    const b = new DiskTier({ file, sweepIntervalMs: 0 });
    open.push(b);
    await b.set('k', 'after');
    await a.set('mine', 1);
    // Both processes share the one file at the path again.
    expect(await a.get('k')).toBe('after');
    expect(await b.get('mine')).toBe(1);
    await b.clear();
    expect(await a.get('k')).toBeUndefined();
  });
});

describe('DiskTier options and arguments', () => {
  it.each([
    [{ file: '' }, 'file'],
    [{ file: ':memory:' }, 'file'],
    [{ file: '/tmp/x.db', maxBytes: 0 }, 'maxBytes'],
    [{ file: '/tmp/x.db', maxBytes: 1.5 }, 'maxBytes'],
    [{ file: '/tmp/x.db', defaultTtlMs: -1 }, 'defaultTtlMs'],
    [{ file: '/tmp/x.db', onCorrupt: 'ignore' }, 'onCorrupt'],
    [{ file: '/tmp/x.db', integrityCheck: 'yes' }, 'integrityCheck'],
    [{ file: '/tmp/x.db', busyTimeoutMs: -5 }, 'busyTimeoutMs'],
    [{ file: '/tmp/x.db', sweepBatchSize: 0 }, 'sweepBatchSize'],
    [{ file: '/tmp/x.db', codec: { encode: 1 } }, 'codec'],
  ])('refuses %j at construction naming %s', (opts, name) => {
    let error: unknown;
    try {
      new DiskTier(opts as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DiskTierOptionError);
    expect((error as DiskTierOptionError).option).toBe(name);
    expect((error as Error).message).toContain(name);
    expect((error as Error).message).toMatch(/expected/);
  });

  it('rejects a bad ttlMs, tag or key naming the argument and the value', async () => {
    const t = tier();
    await expect(t.set('k', 1, { ttlMs: -3 })).rejects.toThrow(/ttlMs: got -3; expected/);
    await expect(t.set('k', 1, { ttlMs: Number.NaN })).rejects.toThrow(/ttlMs: got NaN/);
    await expect(t.set('k', 1, { tags: [''] })).rejects.toThrow(/tags\[0\]/);
    await expect(t.get(5 as never)).rejects.toThrow(/key: got 5/);
    await expect(t.setMany([{ key: 'a', value: 1, ttlMs: -1 }])).rejects.toThrow(
      /entries\[0\]\.ttlMs/,
    );
    expect(t.stats().entries).toBe(0);
  });
});

describe('DiskTier expiry', () => {
  it('serves an entry until its TTL and misses after, without sleeping', async () => {
    const clock = manualClock();
    const t = tier({ clock: clock.now });
    await t.set('short', 'v', { ttlMs: 1000 });
    await t.set('forever', 'w', { ttlMs: Infinity });
    await t.set('zero', 'z', { ttlMs: 0 });
    clock.advance(999);
    expect(await t.get('short')).toBe('v');
    clock.advance(1);
    expect(await t.get('short')).toBeUndefined();
    expect(await t.getMany(['short', 'forever', 'zero'])).toEqual([undefined, 'w', 'z']);
  });

  it('applies defaultTtlMs when a write gives no TTL', async () => {
    const clock = manualClock();
    const t = tier({ clock: clock.now, defaultTtlMs: 50 });
    await t.set('a', 1);
    await t.setMany([
      { key: 'b', value: 2 },
      { key: 'c', value: 3, ttlMs: 0 },
    ]);
    clock.advance(50);
    expect(await t.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, 3]);
  });

  it('sweeps expired entries in bounded batches, yielding between them', async () => {
    const clock = manualClock();
    const events: DiskTierEvent[] = [];
    const t = tier({
      clock: clock.now,
      sweepBatchSize: 10,
      sweepMaxBatches: 3,
      onEvent: (e) => events.push(e),
    });
    await t.setMany(Array.from({ length: 45 }, (_, i) => ({ key: `e${i}`, value: i, ttlMs: 10 })));
    await t.set('live', 1);
    clock.advance(10);
    const db = raw(t.file);
    let seenBetween = -1;
    // Queued before the sweep starts: it runs after the first batch only if the sweep yields.
    setImmediate(() => {
      seenBetween = db.prepare('SELECT count(*) FROM entries').pluck().get() as number;
    });
    // One cycle removes at most batchSize * maxBatches.
    expect(await t.sweepExpired()).toBe(30);
    expect(seenBetween).toBe(46 - 10);
    db.close();
    expect(await t.sweepExpired()).toBe(15);
    expect(await t.sweepExpired()).toBe(0);
    expect(t.stats()).toMatchObject({ entries: 1, swept: 45 });
    expect(events.filter((e) => e.type === 'sweep')).toEqual([
      { type: 'sweep', removed: 30 },
      { type: 'sweep', removed: 15 },
    ]);
  });

  it('runs the sweep from its timer', async () => {
    const clock = manualClock();
    const events: DiskTierEvent[] = [];
    const t = tier({ clock: clock.now, sweepIntervalMs: 5, onEvent: (e) => events.push(e) });
    await t.set('x', 1, { ttlMs: 1 });
    clock.advance(1);
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (events.some((e) => e.type === 'sweep')) {
          clearInterval(poll);
          resolve();
        }
      }, 2);
    });
    expect(t.stats().entries).toBe(0);
  });

  it('expireByTag makes tagged entries miss at once and leaves others', async () => {
    const clock = manualClock();
    const t = tier({ clock: clock.now });
    await t.set('a', 1, { tags: ['sym:AAPL', 'tf:1d'] });
    await t.set('b', 2, { tags: ['sym:AAPL'] });
    await t.set('c', 3, { tags: ['sym:MSFT'] });
    expect(await t.expireByTag('sym:AAPL')).toBe(2);
    expect(await t.expireByTag('sym:AAPL')).toBe(0);
    expect(await t.expireByTag('none')).toBe(0);
    expect(await t.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, 3]);
    clock.advance(1);
    expect(await t.sweepExpired()).toBe(2);
  });
});

describe('DiskTier tags', () => {
  it('expireByTag keeps the grace window of MultiLevelCache envelopes', async () => {
    const clock = manualClock();
    const t = tier({ clock: clock.now });
    const now = clock.now();
    const graced = {
      __pt: 1 as const,
      v: 'a',
      e: now + 1000,
      g: now + 5000,
      s: now + 1000,
      t: ['x'],
    };
    // A never-expiring envelope keeps no stale window: expireEnvelope says delete it.
    const forever = { __pt: 1, v: 'b', e: 0, g: 0, s: 0, t: ['x'] };
    await t.set('graced', graced, { ttlMs: 5000, tags: ['x'] });
    await t.set('forever', forever, { ttlMs: 0, tags: ['x'] });
    await t.set('plain', 'c', { tags: ['x'] });
    clock.advance(10);
    expect(await t.expireByTag('x')).toBe(3);
    // Logically expired now, still readable for its grace window; the others are gone.
    const expected = expireEnvelope(graced, clock.now());
    expect(expected).toMatchObject({ e: clock.now() });
    expect(await t.get('graced')).toEqual(expected);
    const db = raw(t.file);
    const row = db.prepare("SELECT expires_at FROM entries WHERE key = 'graced'").pluck().get();
    db.close();
    expect(row).toBe(Math.max(expected!.e, expected!.g, expected!.s));
    expect(await t.getMany(['forever', 'plain'])).toEqual([undefined, undefined]);
    expect(t.stats().entries).toBe(2); // 'plain' waits for the sweep
  });

  it('expireByTag still invalidates every tagged entry when one stored value cannot be decoded', async () => {
    const t = tier();
    await t.set('good', 'fresh', { tags: ['x'] });
    await t.set('bad', 'fresh', { tags: ['x'] });
    await t.set('other', 'kept', { tags: ['y'] });
    const db = new Database(t.file);
    db.prepare("UPDATE entries SET value = x'c1' WHERE key = 'bad'").run(); // not a valid encoding
    db.close();
    await expect(t.get('bad')).rejects.toBeInstanceOf(DiskValueError);
    // One damaged row must not leave the other tagged entries being served.
    expect(await t.expireByTag('x')).toBe(2);
    expect(await t.getMany(['good', 'bad', 'other'])).toEqual([undefined, undefined, 'kept']);
  });

  it('deleteByTag removes exactly the tagged keys and returns the count', async () => {
    const t = tier();
    await t.set('a', 1, { tags: ['x', 'y'] });
    await t.set('b', 2, { tags: ['x'] });
    await t.setMany([
      { key: 'c', value: 3, tags: ['y'] },
      { key: 'd', value: 4 },
    ]);
    expect(await t.deleteByTag('x')).toBe(2);
    expect(await t.getMany(['a', 'b', 'c', 'd'])).toEqual([undefined, undefined, 3, 4]);
    expect(await t.deleteByTag('x')).toBe(0);
    expect(await t.deleteByTag('y')).toBe(1);
    const db = raw(t.file);
    expect(db.prepare('SELECT count(*) FROM tags').pluck().get()).toBe(0);
    db.close();
  });

  it('replaces the tags of an overwritten key', async () => {
    const t = tier();
    await t.set('a', 1, { tags: ['old'] });
    await t.set('a', 2, { tags: ['new'] });
    expect(await t.deleteByTag('old')).toBe(0);
    expect(await t.get('a')).toBe(2);
    await t.set('a', 3);
    expect(await t.deleteByTag('new')).toBe(0);
    expect(await t.get('a')).toBe(3);
  });

  it('drops tag rows of deleted and evicted entries', async () => {
    const clock = manualClock();
    const t = tier({ clock: clock.now, maxBytes: 600 });
    await t.set('a', 'x'.repeat(200), { tags: ['t'] });
    clock.advance(1);
    await t.set('b', 'y'.repeat(200), { tags: ['t'] });
    clock.advance(1);
    await t.set('c', 'z'.repeat(300), { tags: ['t'] }); // evicts a
    await t.delete('b');
    const db = raw(t.file);
    expect(db.prepare('SELECT key FROM tags ORDER BY key').pluck().all()).toEqual(['c']);
    db.close();
  });
});

describe('DiskTier size bound and access times', () => {
  it('evicts expired entries before live ones, then the least recently used', async () => {
    const clock = manualClock();
    const events: DiskTierEvent[] = [];
    const v = 'x'.repeat(180);
    const big = 'y'.repeat(300);
    // Keys of one length, so every small entry has the same size E.
    const E = 5 + encode(v).byteLength;
    const B = 5 + encode(big).byteLength;
    // Room for 'big' plus two and a half small entries: dropping the expired one is not enough.
    const maxBytes = B + 2 * E + Math.floor(E / 2);
    const t = tier({ clock: clock.now, maxBytes, onEvent: (e) => events.push(e) });
    await t.set('k-old', v);
    clock.advance(1);
    await t.set('k-rdl', v);
    clock.advance(1);
    await t.set('k-exp', v, { ttlMs: 5 });
    clock.advance(1);
    await t.set('k-new', v);
    clock.advance(10); // 'k-exp' is now expired
    expect(await t.get('k-rdl')).toBe(v); // makes it recent (kept in memory, not written)
    clock.advance(1);
    expect(events).toEqual([]);
    await t.set('k-big', big);
    // Expired first; then LRU: 'k-old' goes, 'k-rdl' survives thanks to the read.
    expect(events).toEqual([{ type: 'evict', expired: 1, lru: 1 }]);
    expect(await t.getMany(['k-old', 'k-rdl', 'k-exp', 'k-new', 'k-big'])).toEqual([
      undefined,
      v,
      undefined,
      v,
      big,
    ]);
    expect(t.stats()).toMatchObject({ bytes: B + 2 * E, evictedExpired: 1, evictedLru: 1 });
  });

  it('refuses an entry larger than maxBytes and deletes the old value of its key', async () => {
    const t = tier({ maxBytes: 200 });
    await t.set('k', 'small');
    await t.set('k', 'z'.repeat(500));
    expect(await t.get('k')).toBeUndefined();
    expect(t.stats()).toMatchObject({ rejected: 1, entries: 0 });
  });

  it('setMany stores the entries that fit and refuses the oversized one', async () => {
    const t = tier({ maxBytes: 300 });
    await t.set('big', 'old');
    await t.setMany([
      { key: 'a', value: 1 },
      { key: 'big', value: 'z'.repeat(1000) },
      { key: 'b', value: 2 },
    ]);
    expect(await t.getMany(['a', 'big', 'b'])).toEqual([1, undefined, 2]);
    expect(t.stats()).toMatchObject({ sets: 3, rejected: 1, entries: 2 });
  });

  it('does not write to the file on a read; access times are flushed in one batch', async () => {
    const clock = manualClock();
    const t = tier({ clock: clock.now, accessFlushMs: 60_000 });
    await t.setMany(Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: i })));
    const db = new Database(t.file);
    const version = (): number => db.pragma('data_version', { simple: true }) as number;
    const before = version();
    clock.advance(500);
    for (let round = 0; round < 5; round++) for (let i = 0; i < 100; i++) await t.get(`k${i}`);
    expect(version()).toBe(before);
    expect(t.stats().pendingAccesses).toBe(100);
    await t.flush();
    expect(version()).toBe(before + 1);
    expect(t.stats().pendingAccesses).toBe(0);
    const times = db.prepare('SELECT DISTINCT last_access FROM entries').pluck().all();
    expect(times).toEqual([clock.now()]);
    db.close();
  });

  it('flushes access times on close and on its timer', async () => {
    const clock = manualClock();
    const file = join(dirs.make(), 'c.db');
    const a = new DiskTier({ file, clock: clock.now, accessFlushMs: 60_000, sweepIntervalMs: 0 });
    await a.set('k', 1);
    clock.advance(100);
    await a.get('k');
    await a.close();
    const db = raw(file);
    expect(db.prepare('SELECT last_access FROM entries').pluck().get()).toBe(clock.now());
    db.close();

    const b = new DiskTier({ file, clock: clock.now, accessFlushMs: 5, sweepIntervalMs: 0 });
    open.push(b);
    clock.advance(100);
    await b.get('k');
    while (b.stats().pendingAccesses > 0) await new Promise((r) => setTimeout(r, 2));
    const db2 = raw(file);
    expect(db2.prepare('SELECT last_access FROM entries').pluck().get()).toBe(clock.now());
    db2.close();
  });

  it('flushes early, asynchronously, once maxPendingAccesses keys are pending', async () => {
    const t = tier({ accessFlushMs: 60_000, maxPendingAccesses: 10 });
    await t.setMany(Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: i })));
    for (let i = 0; i < 10; i++) await t.get(`k${i}`);
    expect(t.stats().pendingAccesses).toBe(10);
    await new Promise((r) => setImmediate(r));
    expect(t.stats().pendingAccesses).toBe(0);
  });

  it('reports a decode failure as DiskValueError naming the key', async () => {
    const t = tier({
      codec: {
        encode: (v) => new TextEncoder().encode(String(v)),
        decode: () => {
          throw new Error('nope');
        },
      },
    });
    await t.set('k', 'v');
    await expect(t.get('k')).rejects.toThrow(/decode the value of key "k"/);
  });
});
