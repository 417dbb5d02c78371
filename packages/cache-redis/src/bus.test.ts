import { requireRedis, type TestRedis } from '@peaktrade/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCacheChild, type CacheChild } from '../test/child.js';
import { dropPrefix, eventually, testPrefix } from '../test/helpers.js';

let redis: TestRedis | undefined;
const prefix = testPrefix('bus');
let a: CacheChild;
let b: CacheChild;
let admin: Redis;

beforeAll(async () => {
  redis = await requireRedis();
  if (!redis) return;
  admin = new Redis(redis.url);
  [a, b] = await Promise.all([
    startCacheChild({ url: redis.url, prefix }),
    startCacheChild({ url: redis.url, prefix }),
  ]);
}, 30_000);

afterAll(async () => {
  if (!redis) return;
  await Promise.all([a?.stop(), b?.stop()]);
  await dropPrefix(redis.url, prefix);
  await admin.quit();
  await redis.stop();
});

interface BusState {
  state: string;
  reconnects: number;
  received: number;
}
const busOf = (c: CacheChild) => c.call<BusState>('bus');

/**
 * Resolves once `c` has taken a bus message from another process since `since`, or flushed its L1
 * on a bus reconnect (a lost message's stand-in). Waits on the event, not a fixed time.
 */
async function busEventAfter(c: CacheChild, since: BusState): Promise<boolean> {
  return eventually(async () => {
    const now = await busOf(c);
    return now.received > since.received || now.reconnects > since.reconnects;
  });
}

/** Resolves once `key` has left `c`'s L1; false if it is still there after 5 s. */
const leavesL1 = (c: CacheChild, key: string) =>
  eventually(async () => (await c.call('inL1', { key })) === false);

// B's L1 would keep a stale entry for the default 5-minute TTL if the bus did not drop it, so
// waiting up to 5 s for the drop separates a working bus from a broken one.
describe('invalidation bus between two real processes', () => {
  it('a set in one process removes the stale value from the other’s L1 over the bus', async () => {
    const since = await busOf(b);
    await a.call('set', { key: 'k1', value: 'v1' });
    // Let the first write's own invalidation reach B before B caches the value.
    expect(await busEventAfter(b, since)).toBe(true);
    expect(await b.call('get', { key: 'k1' })).toBe('v1');
    expect(await b.call('inL1', { key: 'k1' })).toBe(true);
    await a.call('set', { key: 'k1', value: 'v2' });
    expect(await leavesL1(b, 'k1')).toBe(true);
    expect(await b.call('get', { key: 'k1' })).toBe('v2');
  });

  it('a delete in one process removes the value from the other’s L1 over the bus', async () => {
    const since = await busOf(b);
    await a.call('set', { key: 'k2', value: 'v' });
    expect(await busEventAfter(b, since)).toBe(true);
    expect(await b.call('get', { key: 'k2' })).toBe('v');
    expect(await b.call('inL1', { key: 'k2' })).toBe(true);
    await a.call('delete', { key: 'k2' });
    expect(await leavesL1(b, 'k2')).toBe(true);
    expect(await b.call('get', { key: 'k2' })).toBeUndefined();
  });

  it('after the bus connection is killed and comes back, no stale read is possible', async () => {
    const since = await busOf(b);
    await a.call('set', { key: 'k3', value: 'before' });
    expect(await busEventAfter(b, since)).toBe(true);
    expect(await b.call('get', { key: 'k3' })).toBe('before');
    const { reconnects } = await busOf(b);
    await admin.client('KILL', 'TYPE', 'pubsub');
    // Written while the bus may be down: the invalidation can be lost.
    await a.call('set', { key: 'k3', value: 'after' });
    const back = await eventually(async () => {
      const s = await busOf(b);
      return s.state === 'connected' && s.reconnects > reconnects;
    });
    expect(back).toBe(true);
    expect(await b.call('get', { key: 'k3' })).toBe('after');
  });
});

describe('distributed single-flight', () => {
  it('4 processes × 1,000 concurrent getOrSet calls on one cold key make exactly one loader call', async () => {
    const extra = await Promise.all([
      startCacheChild({ url: redis!.url, prefix }),
      startCacheChild({ url: redis!.url, prefix }),
    ]);
    const all = [a, b, ...extra];
    const counterKey = `${prefix}loader-calls`;
    try {
      const results = await Promise.all(
        all.map((c) =>
          c.call<{ distinct: number; sample: { loadedBy: number } }>('storm', {
            key: 'cold',
            n: 1000,
            counterKey,
          }),
        ),
      );
      expect(Number(await admin.get(counterKey))).toBe(1);
      for (const r of results) expect(r.distinct).toBe(1);
      expect(new Set(results.map((r) => r.sample.loadedBy)).size).toBe(1);
    } finally {
      await Promise.all(extra.map((c) => c.stop()));
    }
  });
});
