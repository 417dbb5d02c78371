import { MultiLevelCache, type CacheEnvelope } from '@peaktrade/cache-core';
import { requireRedis, type TestRedis } from '@peaktrade/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { delay, dropPrefix, eventually, testPrefix } from '../test/helpers.js';
import { CircuitBreaker, CircuitOpenError, RedisOptionError, RedisTier } from './index.js';

let redis: TestRedis | undefined;
const prefix = testPrefix('tier');
let tier: RedisTier;
let admin: Redis;

beforeAll(async () => {
  redis = await requireRedis();
  if (!redis) return;
  tier = await new RedisTier({ url: redis.url, keyPrefix: prefix, commandTimeoutMs: 1000 }).ready();
  admin = new Redis(redis.url);
});

afterAll(async () => {
  if (!redis) return;
  await tier.close();
  await dropPrefix(redis.url, prefix);
  await admin.quit();
  await redis.stop();
});

describe('RedisTier against real Redis', () => {
  it('round-trips every supported type with its type intact', async () => {
    const value = {
      f64: new Float64Array([1.5, Number.NaN, -0, Number.POSITIVE_INFINITY]),
      i32: new Int32Array([1, -2, 3]),
      bytes: new Uint8Array([0, 255]),
      date: new Date('2024-05-06T07:08:09.123Z'),
      big: 2n ** 70n,
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { b: [3] }],
      ]),
      set: new Set(['x', 'y']),
      nested: { deep: { undef: undefined, arr: [1, 'two', null] } },
      negZero: -0,
    };
    await tier.set('types', value);
    const back = (await tier.get('types')) as typeof value;
    expect(back.f64).toBeInstanceOf(Float64Array);
    expect(Array.from(back.f64)).toEqual([1.5, Number.NaN, -0, Number.POSITIVE_INFINITY]);
    expect(Object.is(back.f64[2], -0)).toBe(true);
    expect(back.i32).toEqual(new Int32Array([1, -2, 3]));
    expect(back.bytes).toEqual(new Uint8Array([0, 255]));
    expect(back.date).toEqual(value.date);
    expect(back.big).toBe(2n ** 70n);
    expect(back.map).toEqual(value.map);
    expect(back.set).toEqual(value.set);
    expect('undef' in back.nested.deep).toBe(true);
    expect(back.nested.deep.arr).toEqual([1, 'two', null]);
    expect(Object.is(back.negZero, -0)).toBe(true);
  });

  it('stores TTLs in milliseconds with PX, and expires', async () => {
    // PX precision on a key that cannot expire before PTTL reads it, even after a long stall.
    await tier.set('px', 'v', { ttlMs: 60_000 });
    const pttl = await admin.pttl(tier.keyOf('px'));
    expect(pttl).toBeGreaterThan(30_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    await tier.set('short', 'v', { ttlMs: 150 });
    expect(await admin.pttl(tier.keyOf('short'))).toBeLessThanOrEqual(150);
    await tier.set('forever', 'v', { ttlMs: 0 });
    expect(await admin.pttl(tier.keyOf('forever'))).toBe(-1);
    await tier.set('default', 'v');
    expect(await admin.pttl(tier.keyOf('default'))).toBeGreaterThan(3_500_000);
    await delay(200);
    expect(await tier.get('short')).toBeUndefined();
    expect(await tier.get('forever')).toBe('v');
  });

  it('deletes by tag, and only tagged keys', async () => {
    await tier.setMany([
      { key: 'p1', value: 1, tags: ['portfolio'] },
      { key: 'p2', value: 2, tags: ['portfolio', 'other'] },
      { key: 'q1', value: 3, tags: ['other'] },
    ]);
    expect(await tier.deleteByTag('portfolio')).toBe(2);
    expect(await tier.getMany(['p1', 'p2', 'q1'])).toEqual([undefined, undefined, 3]);
    expect(await tier.deleteByTag('portfolio')).toBe(0);
  });

  it('expires by tag: envelopes become stale but stay for grace, plain values go', async () => {
    const now = Date.now();
    const envelope: CacheEnvelope = {
      __pt: 1,
      v: 'fresh',
      e: now + 60_000,
      g: now + 120_000,
      s: now + 120_000,
      t: ['prices'],
    };
    await tier.set('env', envelope, { ttlMs: 120_000, tags: ['prices'] });
    await tier.set('plain', 'x', { tags: ['prices'] });
    expect(await tier.expireByTag('prices')).toBe(2);
    const back = (await tier.get('env')) as CacheEnvelope;
    expect(back.v).toBe('fresh');
    expect(back.e).toBeLessThanOrEqual(Date.now());
    expect(back.g).toBeGreaterThan(Date.now()); // still servable under grace
    expect(await tier.get('plain')).toBeUndefined();
    expect(await admin.pttl(tier.keyOf('env'))).toBeGreaterThan(100_000);
  });

  it('getMany and setMany each take one round trip', async () => {
    const entries = Array.from({ length: 100 }, (_, i) => ({
      key: `rt${i}`,
      value: { i, px: new Float64Array([i]) },
    }));
    const monitor = await new Redis(redis!.url).monitor();
    const seen: string[][] = [];
    const ourPort = (tier.client as Redis).stream.localPort;
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source.endsWith(`:${ourPort}`)) seen.push(args);
    });
    const stream = (tier.client as Redis).stream;
    const write = stream.write.bind(stream);
    let writes = 0;
    stream.write = ((...args: Parameters<typeof stream.write>) => {
      writes++;
      return write(...args);
    }) as typeof stream.write;
    try {
      await tier.setMany(entries);
      const setWrites = writes;
      writes = 0;
      const values = await tier.getMany(entries.map((e) => e.key));
      expect(setWrites).toBe(1);
      expect(writes).toBe(1);
      expect((values[42] as { i: number }).i).toBe(42);
      // MONITOR reports commands in execution order: once a marker sent after getMany on the same
      // connection shows up, every command before it has been seen.
      const marker = `marker-${process.pid}`;
      await (tier.client as Redis).echo(marker);
      expect(await eventually(() => seen.some((a) => a[1] === marker), 10_000)).toBe(true);
      const commands = seen.map((a) => a[0]!.toLowerCase());
      expect(commands.filter((c) => c === 'set')).toHaveLength(100);
      expect(commands.filter((c) => c === 'mget')).toHaveLength(1);
      expect(commands.filter((c) => c === 'get')).toHaveLength(0);
    } finally {
      stream.write = write;
      monitor.disconnect();
    }
  });

  it('treats a value it cannot decode as a miss, counts it and removes it', async () => {
    await admin.set(tier.keyOf('garbage'), Buffer.from('not our format at all'));
    const before = tier.stats().corrupt;
    expect(await tier.get('garbage')).toBeUndefined();
    expect(tier.stats().corrupt).toBe(before + 1);
    // The removal runs in the background: wait for it rather than for a fixed time.
    expect(
      await eventually(async () => (await admin.exists(tier.keyOf('garbage'))) === 0, 5000),
    ).toBe(true);
  });

  it('keeps namespaces apart', async () => {
    const a = new RedisTier({ url: redis!.url, keyPrefix: prefix, namespace: 'a', bus: false });
    const b = new RedisTier({ url: redis!.url, keyPrefix: prefix, namespace: 'b', bus: false });
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 'from a');
    expect(await b.get('k')).toBeUndefined();
    expect(await a.get('k')).toBe('from a');
    await Promise.all([a.close(), b.close()]);
  });

  it('serves a MultiLevelCache: read-through from L2 into a second process-like cache', async () => {
    const tierB = await new RedisTier({
      url: redis!.url,
      keyPrefix: prefix,
      commandTimeoutMs: 1000,
    }).ready();
    const cacheA = new MultiLevelCache({
      name: 'A',
      l1: { max: 100 },
      tiers: [{ tier, timeoutMs: 1000 }],
    });
    const cacheB = new MultiLevelCache({
      name: 'B',
      l1: { max: 100 },
      tiers: [{ tier: tierB, timeoutMs: 1000 }],
    });
    let loads = 0;
    const loader = () => {
      loads++;
      return { px: new Float64Array([1, 2, 3]) };
    };
    await cacheA.getOrSet('shared', loader);
    await cacheA.idle();
    const fromB = (await cacheB.getOrSet('shared', loader)) as { px: Float64Array };
    expect(loads).toBe(1);
    expect(fromB.px).toEqual(new Float64Array([1, 2, 3]));
    await tierB.close();
  });

  it('drops another cache instance’s L1 entry through the bus when a key changes', async () => {
    const tierB = await new RedisTier({
      url: redis!.url,
      keyPrefix: prefix,
      commandTimeoutMs: 1000,
    }).ready();
    const cacheA = new MultiLevelCache({
      name: 'A2',
      l1: { max: 100 },
      tiers: [{ tier, timeoutMs: 1000 }],
    });
    const cacheB = new MultiLevelCache({
      name: 'B2',
      l1: { max: 100 },
      tiers: [{ tier: tierB, timeoutMs: 1000 }],
    });
    await cacheA.set('bus-key', 'v1');
    await cacheA.idle();
    expect(await cacheB.get('bus-key')).toBe('v1');
    await cacheA.set('bus-key', 'v2');
    await cacheA.idle();
    // B's L1 keeps 'v1' for the default 5-minute TTL unless the bus drops it: wait for the drop.
    expect(await eventually(async () => (await cacheB.get('bus-key')) === 'v2', 5000)).toBe(true);
    await tierB.close();
  });

  it('refuses bad options by name', () => {
    expect(() => new RedisTier({ url: 'http://localhost', bus: false })).toThrow(RedisOptionError);
    expect(() => new RedisTier({ namespace: 'a{b}', bus: false })).toThrow(/namespace/);
    expect(() => new RedisTier({ commandTimeoutMs: 0, bus: false })).toThrow(
      /commandTimeoutMs = 0/,
    );
    expect(() => new RedisTier({ url: 'redis-sentinel://h:26379', bus: false })).toThrow(
      /masterName/,
    );
    expect(() => new RedisTier({ breaker: { failureThreshold: 0 }, bus: false })).toThrow(
      /failureThreshold/,
    );
  });
});

describe('CircuitBreaker', () => {
  it('opens after K failures within the window, probes once after the cool-down, closes on success', () => {
    let now = 0;
    const states: string[] = [];
    const breaker = new CircuitBreaker(
      { failureThreshold: 3, windowMs: 1000, cooldownMs: 500 },
      (s) => states.push(s),
      () => now,
    );
    breaker.failure();
    now = 100;
    breaker.failure();
    expect(breaker.state).toBe('closed');
    now = 200;
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.check()).toBeGreaterThan(0);
    now = 700;
    expect(breaker.check()).toBe(0); // the probe
    expect(breaker.state).toBe('half-open');
    expect(breaker.check()).toBeGreaterThan(0); // only one probe at a time
    breaker.failure();
    expect(breaker.state).toBe('open');
    now = 1300;
    expect(breaker.check()).toBe(0);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
  });

  it('does not open when failures are spread wider than the window', () => {
    let now = 0;
    const breaker = new CircuitBreaker(
      { failureThreshold: 3, windowMs: 100 },
      () => {},
      () => now,
    );
    for (let i = 0; i < 10; i++) {
      now += 60;
      breaker.failure();
    }
    expect(breaker.state).toBe('closed');
  });

  it('makes an open tier refuse at once with CircuitOpenError', async () => {
    const dead = new RedisTier({
      url: 'redis://127.0.0.1:1',
      bus: false,
      commandTimeoutMs: 20,
      breaker: { failureThreshold: 2, cooldownMs: 60_000 },
    });
    const errors: string[] = [];
    dead.on('degraded', ({ error }) => errors.push(error.name));
    await expect(dead.get('a')).rejects.toThrow();
    await expect(dead.get('a')).rejects.toThrow();
    await expect(dead.get('a')).rejects.toBeInstanceOf(CircuitOpenError);
    expect(dead.stats()).toMatchObject({ errors: 2, skipped: 1, breaker: 'open' });
    expect(errors).toEqual(['RedisCommandError', 'RedisCommandError', 'CircuitOpenError']);
    await dead.close();
  });
});

describe('command-timeout timer list keeper', () => {
  it('runs while commands come, stops after an idle period, and is cleared by close()', async () => {
    // A distinctive timeout, so the keeper's intervals can be told from anything else's.
    const MS = 77;
    const setSpy = vi.spyOn(globalThis, 'setInterval');
    const clearSpy = vi.spyOn(globalThis, 'clearInterval');
    const made = () =>
      setSpy.mock.calls.flatMap(([, ms], k) => (ms === MS ? [setSpy.mock.results[k]!.value] : []));
    const live = () => {
      const cleared = new Set(clearSpy.mock.calls.map(([t]) => t));
      return made().filter((t) => !cleared.has(t)).length;
    };
    const own = testPrefix('keeper');
    const quiet = await new RedisTier({
      url: redis!.url,
      keyPrefix: own,
      commandTimeoutMs: MS,
      bus: false,
    }).ready();
    try {
      expect(made()).toHaveLength(0);
      for (let i = 0; i < 20; i++) await quiet.get(`k${i}`);
      expect([live(), made().length]).toEqual([1, 1]);
      // Idle: the keeper sees one tick without commands and stops.
      expect(await eventually(() => live() === 0, 2000)).toBe(true);
      await quiet.get('again');
      expect([live(), made().length]).toEqual([1, 2]);
      await quiet.close();
      expect(live()).toBe(0);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
      await quiet.close();
      await dropPrefix(redis!.url, own);
    }
  });
});
