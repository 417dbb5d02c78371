import { requireRedis, type TestRedis } from '@peaktrade/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPrefix, eventually, testPrefix } from '../test/helpers.js';
import { RedisOptionError, RedisTier } from './index.js';

let redis: TestRedis | undefined;
const prefix = testPrefix('edge');
let admin: Redis;
const opened: RedisTier[] = [];

/** A ready tier under this file's prefix, closed in afterAll. */
async function tierOf(namespace?: string, bus = false): Promise<RedisTier> {
  const tier = new RedisTier({
    url: redis!.url,
    keyPrefix: prefix,
    ...(namespace === undefined ? {} : { namespace }),
    commandTimeoutMs: 1000,
    bus,
  });
  opened.push(tier);
  return tier.ready();
}

beforeAll(async () => {
  redis = await requireRedis();
  if (!redis) return;
  admin = new Redis(redis.url);
});

afterAll(async () => {
  if (!redis) return;
  await Promise.all(opened.map((t) => t.close()));
  await dropPrefix(redis.url, prefix);
  await admin.quit();
  await redis.stop();
});

describe('clear() and namespaces', () => {
  it('clears only its own namespace, not namespaces nested under it or its prefix', async () => {
    const root = await tierOf();
    const a = await tierOf('a');
    const ab = await tierOf('a:b');
    const write = () =>
      Promise.all([
        root.set('k', 'root', { tags: ['t'] }),
        a.set('k', 'a', { tags: ['t'] }),
        ab.set('k', 'a:b', { tags: ['t'] }),
      ]);
    await write();
    await a.clear();
    expect([await root.get('k'), await a.get('k'), await ab.get('k')]).toEqual([
      'root',
      undefined,
      'a:b',
    ]);
    expect(await ab.deleteByTag('t')).toBe(1);
    await write();
    await root.clear();
    expect([await root.get('k'), await a.get('k'), await ab.get('k')]).toEqual([
      undefined,
      'a',
      'a:b',
    ]);
    expect(await a.deleteByTag('t')).toBe(1);
  });

  it('refuses a namespace with a "tag" segment, whose keys would look like tag sets', () => {
    // Namespace `a:tag` stores `<prefix>a:tag:{k}`, which is namespace `a`'s tag set "{k}".
    for (const namespace of ['tag', 'a:tag', 'tag:a']) {
      expect(() => new RedisTier({ namespace, bus: false })).toThrow(RedisOptionError);
    }
    const fine = new RedisTier({ url: redis!.url, namespace: 'tags:a', bus: false });
    opened.push(fine);
  });
});

describe('tag set TTL', () => {
  it('never expires a tag set that holds a never-expiring key', async () => {
    const tier = await tierOf('tagttl');
    const tagKey = `${prefix}tagttl:tag:x`;
    await tier.set('forever', 1, { ttlMs: 0, tags: ['x'] });
    await tier.set('short', 2, { ttlMs: 60_000, tags: ['x'] });
    expect(await admin.pttl(tagKey)).toBe(-1);
    // A fresh set still gets its member's TTL, and a longer-lived member still stretches it.
    await tier.set('a', 1, { ttlMs: 60_000, tags: ['y'] });
    await tier.set('b', 1, { ttlMs: 600_000, tags: ['y'] });
    await tier.set('c', 1, { ttlMs: 30_000, tags: ['y'] });
    const pttl = await admin.pttl(`${prefix}tagttl:tag:y`);
    expect(pttl).toBeGreaterThan(300_000);
    expect(pttl).toBeLessThanOrEqual(600_000);
  });
});

describe('invalidation bus', () => {
  it('ignores malformed messages without throwing, and keeps delivering valid ones', async () => {
    const tier = await tierOf('bus', true);
    const got: unknown[] = [];
    tier.onInvalidate((keys) => got.push(keys));
    const channel = `${prefix}bus:__bus`;
    const bad = [
      'null',
      '5',
      '"text"',
      '[]',
      '{"k":["no origin"]}',
      '{"o":"x","k":"abc"}',
      '{"o":"x","k":[1,{}]}',
      '{"o":"x","d":"k","v":1}',
    ];
    for (const message of bad) await admin.publish(channel, message);
    await admin.publish(channel, JSON.stringify({ o: 'other', k: ['ok'] }));
    // Messages arrive in order: once the valid one is in, the bad ones were handled.
    expect(await eventually(() => got.length > 0, 10_000)).toBe(true);
    expect(got).toEqual([['ok']]);
    expect(tier.stats().bus).toBe('connected');
  });
});

describe('distributed single-flight', () => {
  it('gives the lease back when the loaded value cannot be encoded', async () => {
    const tier = await tierOf('lease');
    const other = await tierOf('lease');
    const leaseKey = `${tier.keyOf('k')}:lease`;
    await expect(tier.coalesce('k', () => () => 'a function')).rejects.toThrow();
    expect(await admin.exists(leaseKey)).toBe(0);
    // So another process takes over at once instead of waiting out `waitMs`.
    expect(await other.coalesce('k', () => 'loaded')).toBe('loaded');
  });

  it('runs the loader locally when Redis is unreachable, instead of failing the caller', async () => {
    const dead = new RedisTier({
      url: 'redis://127.0.0.1:1',
      bus: false,
      commandTimeoutMs: 20,
      breaker: { failureThreshold: 1, cooldownMs: 60_000 },
    });
    opened.push(dead);
    expect(await dead.coalesce('k', () => 'first')).toBe('first');
    // Now with the breaker open.
    expect(dead.stats().breaker).toBe('open');
    expect(await dead.coalesce('k', () => 'second')).toBe('second');
  });
});

describe('close()', () => {
  it('lets a write under way publish its invalidation before it quits', async () => {
    const writer = new RedisTier({
      url: redis!.url,
      keyPrefix: prefix,
      namespace: 'close',
      commandTimeoutMs: 1000,
    });
    const reader = await tierOf('close', true);
    await writer.ready();
    await writer.set('k', 'v');
    const got: unknown[] = [];
    reader.onInvalidate((keys) => got.push(keys));
    const deleting = writer.delete('k');
    await writer.close();
    expect(await deleting).toBe(true);
    expect(await eventually(() => got.some((k) => Array.isArray(k) && k[0] === 'k'), 5000)).toBe(
      true,
    );
  });

  it('refuses calls after close with a clear error, also on a client it does not own', async () => {
    const client = new Redis(redis!.url);
    try {
      const tier = await new RedisTier({ client, keyPrefix: prefix, namespace: 'after' }).ready();
      await tier.close();
      await expect(tier.set('k', 'v')).rejects.toThrow(/closed/);
      await expect(tier.delete('k')).rejects.toThrow(/closed/);
      await expect(tier.get('k')).rejects.toThrow(/closed/);
      await expect(tier.coalesce('k', () => 1)).rejects.toThrow(/closed/);
      // Nothing was written behind the closed tier's back, and nothing counted as a Redis failure.
      expect(await client.exists(tier.keyOf('k'))).toBe(0);
      expect(tier.stats()).toMatchObject({ errors: 0, breaker: 'closed' });
    } finally {
      client.disconnect();
    }
  });
});
