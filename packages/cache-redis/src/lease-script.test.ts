import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RedisTier } from './index.js';
import { usePrivateRedis } from './test-utils/private-redis.js';

// A private redis-server: INFO commandstats counts every client of the server, so on a shared
// Redis other test files' commands would show up in the counts.
const redis = usePrivateRedis();
const admin = (): Redis => redis.admin();

beforeEach(async () => {
  await admin().flushdb();
  await admin().script('FLUSH');
});

/** A ready tier on the private server (no bus: each load here has no waiters), closed after the file. */
function tierOf(keyPrefix: string): Promise<RedisTier> {
  return redis.tier({ keyPrefix, bus: false }).ready();
}

const calls = (command: 'eval' | 'evalsha', field?: 'calls' | 'failed_calls'): Promise<number> =>
  redis.calls(command, field);

const fail = (): never => {
  throw new Error('loader failed');
};

describe('the lease scripts', () => {
  it('send their bodies once per connection and then only their SHAs, not once per load', async () => {
    const tier = await tierOf('lease:');
    await admin().config('RESETSTAT');
    for (let i = 0; i < 10; i++) expect(await tier.coalesce(`ok${i}`, () => i)).toBe(i);
    for (let i = 0; i < 5; i++) await expect(tier.coalesce(`bad${i}`, fail)).rejects.toThrow();
    // 15 lease scripts run: the first of each sends its body (a new connection), the rest the SHA.
    expect(await calls('eval')).toBe(2);
    expect(await calls('evalsha')).toBe(13);
    // A finished load keeps its lease as 'done' briefly; a failed one gives it back.
    expect(await admin().get(`${tier.keyOf('ok9')}:lease`)).toBe('done');
    expect(await admin().pttl(`${tier.keyOf('ok9')}:lease`)).toBeLessThanOrEqual(2_000);
    expect(await admin().exists(`${tier.keyOf('bad4')}:lease`)).toBe(0);
    expect(tier.stats().errors).toBe(0);
  });

  it('keep releasing and giving back leases after SCRIPT FLUSH, sending each body again once', async () => {
    const tier = await tierOf('lease-flush:');
    await tier.coalesce('warm', () => 0);
    await expect(tier.coalesce('warm-bad', fail)).rejects.toThrow();
    await admin().script('FLUSH');
    await admin().config('RESETSTAT');
    expect(await tier.coalesce('a', () => 'a')).toBe('a');
    await expect(tier.coalesce('b', fail)).rejects.toThrow('loader failed');
    // The server no longer knew either script: each EVALSHA was refused (NOSCRIPT) once and its
    // body sent again, and both still did their work.
    expect(await calls('evalsha', 'failed_calls')).toBe(2);
    expect(await calls('eval')).toBe(2);
    expect(await admin().get(`${tier.keyOf('a')}:lease`)).toBe('done');
    expect(await admin().exists(`${tier.keyOf('b')}:lease`)).toBe(0);
    // The lease given back is free: the next load of the key runs at once.
    expect(await tier.coalesce('b', () => 'b')).toBe('b');
  });

  it('give back or keep as done only a lease this load still holds', async () => {
    const tier = await tierOf('lease-owner:');
    const failedLease = `${tier.keyOf('k')}:lease`;
    await expect(
      tier.coalesce('k', async () => {
        // The lease expired and another process took it: it must not be deleted.
        await admin().set(failedLease, 'someone-else');
        return fail();
      }),
    ).rejects.toThrow('loader failed');
    expect(await admin().get(failedLease)).toBe('someone-else');
    const doneLease = `${tier.keyOf('j')}:lease`;
    const loaded = await tier.coalesce('j', async () => {
      await admin().set(doneLease, 'someone-else');
      return 'j';
    });
    expect(loaded).toBe('j');
    expect(await admin().get(doneLease)).toBe('someone-else');
  });
});
