import { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { RedisTier, type RedisTierOptions } from './index.js';
import { usePrivateRedis } from './test-utils/private-redis.js';

// A private redis-server: INFO commandstats counts every client of the server, so on a shared
// Redis other test files' commands would show up in the counts.
const redis = usePrivateRedis();
const admin = (): Redis => redis.admin();

beforeEach(async () => {
  await admin().flushdb();
  await admin().script('FLUSH');
});

/** A ready tier on the private server (no bus), closed after the file. */
function tierOf(options: RedisTierOptions): Promise<RedisTier> {
  return redis.tier({ bus: false, ...options }).ready();
}

const calls = (command: 'eval' | 'evalsha', field?: 'calls' | 'failed_calls'): Promise<number> =>
  redis.calls(command, field);

async function members(tagKey: string): Promise<string[]> {
  return (await admin().smembers(tagKey)).sort();
}

describe('the tag script', () => {
  it('sends its body once per connection and then only its SHA, not once per tagged write', async () => {
    const tier = await tierOf({ keyPrefix: 'sha:' });
    await admin().config('RESETSTAT');
    await tier.set('first', 0, { tags: ['T'] });
    expect(await calls('eval')).toBe(1);
    for (let i = 0; i < 20; i++) await tier.set(`k${i}`, i, { tags: ['T'] });
    await tier.setMany(
      Array.from({ length: 5 }, (_, i) => ({ key: `m${i}`, value: i, tags: ['T', 'U'] })),
    );
    // 30 more tag updates (20 sets, 5 entries × 2 tags), none of them with the body.
    expect(await calls('eval')).toBe(1);
    expect(await calls('evalsha')).toBe(30);
    expect(await admin().scard('sha:tag:T')).toBe(26);
    expect(await admin().scard('sha:tag:U')).toBe(5);
  });

  it('keeps maintaining tags after SCRIPT FLUSH, sending the body again once', async () => {
    const tier = await tierOf({ keyPrefix: 'flush:' });
    await tier.set('a', 1, { tags: ['T'], ttlMs: 60_000 });
    await admin().script('FLUSH');
    await admin().config('RESETSTAT');
    // The server no longer knows the script: EVALSHA answers NOSCRIPT, and the write still works.
    await tier.set('b', 2, { tags: ['T'], ttlMs: 120_000 });
    await admin().script('FLUSH');
    // Several tag updates in one pipeline, all answered NOSCRIPT.
    await tier.setMany([
      { key: 'c', value: 3, tags: ['T', 'U'], ttlMs: 0 },
      { key: 'd', value: 4, tags: ['U'], ttlMs: 30_000 },
      { key: 'e', value: 5, tags: ['T'] },
    ]);
    // One body per SCRIPT FLUSH; the 5 refused EVALSHAs (1 + 4 tag updates) prove the fallback ran.
    expect(await calls('evalsha', 'failed_calls')).toBe(5);
    expect(await calls('eval')).toBe(2);
    expect(tier.stats().errors).toBe(0);
    expect(await members('flush:tag:T')).toEqual(['a', 'b', 'c', 'e']);
    expect(await members('flush:tag:U')).toEqual(['c', 'd']);
    // The script's TTL rules ran: a never-expiring member made both sets persistent.
    expect(await admin().pttl('flush:tag:T')).toBe(-1);
    expect(await admin().pttl('flush:tag:U')).toBe(-1);
    expect(await tier.deleteByTag('T')).toBe(4);
    expect(await admin().exists(...['a', 'b', 'c', 'e'].map((k) => tier.keyOf(k)))).toBe(0);
    expect(await tier.get('d')).toBe(4);
  });

  it('stretches a tag set to its longest-lived member through the SHA as it did through EVAL', async () => {
    const tier = await tierOf({ keyPrefix: 'ttl:' });
    await admin().config('RESETSTAT');
    await tier.set('short', 1, { tags: ['T'], ttlMs: 10_000 });
    await tier.set('long', 2, { tags: ['T'], ttlMs: 600_000 });
    await tier.set('shorter', 3, { tags: ['T'], ttlMs: 5_000 });
    expect(await admin().pttl('ttl:tag:T')).toBeGreaterThan(500_000);
    expect(await calls('eval')).toBe(1);
    expect(await calls('evalsha')).toBe(2);
  });

  it('works on a client the user passes, shared by two tiers, without changing its settings', async () => {
    const client = new Redis(redis.url());
    try {
      const before = { ...client.options };
      const a = await new RedisTier({ client, keyPrefix: 'user-a:', bus: false }).ready();
      const b = await new RedisTier({ client, keyPrefix: 'user-b:', bus: false }).ready();
      redis.track(a, b);
      await admin().config('RESETSTAT');
      for (let i = 0; i < 5; i++) {
        await a.set(`k${i}`, i, { tags: ['T'] });
        await b.set(`k${i}`, i, { tags: ['T'] });
      }
      expect(await calls('eval')).toBeLessThanOrEqual(1);
      expect(await admin().scard('user-a:tag:T')).toBe(5);
      expect(await admin().scard('user-b:tag:T')).toBe(5);
      expect(client.options).toEqual(before);
    } finally {
      client.disconnect();
    }
  });
});
