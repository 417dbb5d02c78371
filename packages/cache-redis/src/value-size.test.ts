import { randomBytes } from 'node:crypto';
import { createCodec } from '@peaktrade/serialize';
import { type Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { RedisOptionError, RedisTier, ValueTooLargeError, type RedisTierOptions } from './index.js';
import { usePrivateRedis } from './test-utils/private-redis.js';

// A private redis-server whose bulk limit is 1 MiB (its smallest) instead of 512 MiB, so a value
// over the limit is small enough to send in a test. Over it, Redis answers a protocol error and
// closes the connection.
const redis = usePrivateRedis(['--proto-max-bulk-len', '1mb']);
const admin = (): Redis => redis.admin();
/** The server's `proto-max-bulk-len`, read as a user would. */
let limit: number;

beforeAll(async () => {
  const [, value] = (await admin().config('GET', 'proto-max-bulk-len')) as [string, string];
  limit = Number(value);
});

/** A ready tier on the private server, with its command connection's closes counted. */
async function tierOf(
  options: RedisTierOptions,
): Promise<{ tier: RedisTier; closes: () => number }> {
  const tier = redis.tier(options);
  let closes = 0;
  tier.client.on('close', () => closes++);
  await tier.ready();
  return { tier, closes: () => closes };
}

describe('values over maxValueBytes', () => {
  it('refuses a value over maxValueBytes before sending it, naming the key, its size and the limit', async () => {
    expect(limit).toBe(1024 * 1024);
    const { tier, closes } = await tierOf({ keyPrefix: 'big:', bus: false, maxValueBytes: limit });
    // Random bytes do not compress: about 1.5 MiB encoded.
    const write = tier.set('report', randomBytes(1.5 * 1024 * 1024));
    await expect(write).rejects.toBeInstanceOf(ValueTooLargeError);
    const error = (await write.catch((e: unknown) => e)) as ValueTooLargeError;
    expect(error.code).toBe('E_REDIS_VALUE_TOO_LARGE');
    expect(error.key).toBe('report');
    expect(error.bytes).toBeGreaterThan(1.5 * 1024 * 1024);
    expect(error.maxValueBytes).toBe(limit);
    expect(error.message).toBe(
      `l2-redis: value of key "report" is ${error.bytes} bytes encoded, over maxValueBytes ${limit} ` +
        '(Redis refuses a value longer than its proto-max-bulk-len; raise both to store it)',
    );
    // Nothing was sent: no key, no Redis failure counted, and the connection stayed up (Redis
    // closes it after the protocol error an over-long value causes).
    expect(await admin().exists(tier.keyOf('report'))).toBe(0);
    expect(tier.stats()).toMatchObject({ errors: 0, breaker: 'closed' });
    expect(closes()).toBe(0);
    await tier.set('small', 'ok');
    expect(await tier.get('small')).toBe('ok');
  });

  it('setMany with one value over the limit writes none of its entries', async () => {
    const { tier, closes } = await tierOf({ keyPrefix: 'many:', bus: false, maxValueBytes: limit });
    const write = tier.setMany([
      { key: 'a', value: 1, tags: ['t'] },
      { key: 'b', value: randomBytes(limit + 1) },
      { key: 'c', value: 3 },
    ]);
    await expect(write).rejects.toThrow(
      /value of key "b" is \d+ bytes encoded, over maxValueBytes/,
    );
    expect(await admin().exists(tier.keyOf('a'), tier.keyOf('c'), 'many:tag:t')).toBe(0);
    expect(tier.stats().errors).toBe(0);
    expect(closes()).toBe(0);
  });

  it('stores a value whose encoded size equals maxValueBytes, and refuses it under a limit one byte less', async () => {
    const value = randomBytes(5_000);
    const size = createCodec().encode(value).byteLength;
    const { tier: exact } = await tierOf({ keyPrefix: 'exact:', bus: false, maxValueBytes: size });
    await exact.set('v', value);
    expect(Buffer.from((await exact.get('v')) as Uint8Array).equals(value)).toBe(true);
    const { tier: under } = await tierOf({
      keyPrefix: 'under:',
      bus: false,
      maxValueBytes: size - 1,
    });
    await expect(under.set('v', value)).rejects.toThrow(
      `is ${size} bytes encoded, over maxValueBytes ${size - 1}`,
    );
  });

  it('refuses a maxValueBytes that is not a whole number of bytes from 1 to 2^53 - 1', () => {
    for (const maxValueBytes of [0, -1, 1.5, Number.NaN, Infinity, 2 ** 53, '1mb' as never]) {
      let error: unknown;
      try {
        void new RedisTier({ url: redis.url(), bus: false, maxValueBytes }).close();
      } catch (caught) {
        error = caught;
      }
      expect(error, String(maxValueBytes)).toBeInstanceOf(RedisOptionError);
      expect((error as RedisOptionError).option).toBe('maxValueBytes');
    }
    for (const maxValueBytes of [1, Number.MAX_SAFE_INTEGER])
      void new RedisTier({ url: redis.url(), bus: false, maxValueBytes }).close();
  });

  it('coalesce does not broadcast a value whose message is over the limit, and keeps the connection', async () => {
    // Stored, it fits (about 0.8 MiB); as base64 in a bus message it would not (about 1.07 MiB).
    const { tier, closes } = await tierOf({ keyPrefix: 'coalesce:', maxValueBytes: limit });
    const degraded: { op: string; error: Error }[] = [];
    tier.on('degraded', (event) => degraded.push(event));
    const value = randomBytes(800 * 1024);
    const loaded = (await tier.coalesce('k', () => value)) as Uint8Array;
    expect(Buffer.from(loaded).equals(value)).toBe(true);
    expect(degraded.map((d) => d.op)).toEqual(['broadcast']);
    expect(degraded[0]!.error).toBeInstanceOf(ValueTooLargeError);
    expect(degraded[0]!.error.message).toMatch(
      /value of key "k" is \d+ bytes as a bus broadcast, over maxValueBytes 1048576/,
    );
    expect(tier.stats().errors).toBe(0);
    expect(closes()).toBe(0);
    // The caller stores it, and a waiter would find it there.
    await tier.set('k', value);
    expect(Buffer.from((await tier.get('k')) as Uint8Array).equals(value)).toBe(true);
  });
});
