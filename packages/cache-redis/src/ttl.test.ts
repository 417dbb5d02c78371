import { describe, expect, it } from 'vitest';
import { testPrefix, useRedis } from '../test/helpers.js';
import { RedisOptionError, RedisTier, type RedisTierOptions } from './index.js';

const prefix = testPrefix('ttl');
const opened: RedisTier[] = [];
const fx = useRedis(prefix, opened);

/** A ready tier under this file's prefix (no bus), closed in afterAll. */
async function tierOf(namespace: string, options: RedisTierOptions = {}): Promise<RedisTier> {
  const tier = new RedisTier({
    url: fx.redis!.url,
    keyPrefix: prefix,
    namespace,
    commandTimeoutMs: 1000,
    bus: false,
    ...options,
  });
  opened.push(tier);
  return tier.ready();
}

const tagKey = (namespace: string, tag: string) => `${prefix}${namespace}:tag:${tag}`;

describe('a write’s ttlMs', () => {
  it('refuses a negative, NaN or non-number ttlMs on set, naming it, and writes nothing', async () => {
    const tier = await tierOf('bad-set');
    const bad: [unknown, RegExp][] = [
      [-1, /ttlMs = -1:/],
      [-0.5, /ttlMs = -0.5:/],
      [Number.NaN, /ttlMs = NaN:/],
      [-Infinity, /ttlMs = -Infinity:/],
      ['100', /ttlMs = "100":/],
      [null, /ttlMs = null:/],
    ];
    for (const [ttlMs, message] of bad) {
      const write = tier.set('k', 'v', { ttlMs: ttlMs as number, tags: ['t'] });
      await expect(write).rejects.toBeInstanceOf(RedisOptionError);
      await expect(write).rejects.toThrow(message);
      // Read back from Redis: neither the value nor its tag set exists (they would, without expiry).
      expect(await fx.admin.exists(tier.keyOf('k'), tagKey('bad-set', 't'))).toBe(0);
    }
    // Bad input is not a Redis failure: nothing counted, the breaker untouched.
    expect(tier.stats()).toMatchObject({ errors: 0, breaker: 'closed' });
  });

  it('refuses a whole setMany when one entry’s ttlMs is bad, naming its position', async () => {
    const tier = await tierOf('bad-many');
    const write = tier.setMany([
      { key: 'good', value: 1, ttlMs: 60_000, tags: ['t'] },
      { key: 'bad', value: 2, ttlMs: -5 },
    ]);
    await expect(write).rejects.toThrow(/Invalid option entries\[1\]\.ttlMs = -5:/);
    expect(
      await fx.admin.exists(tier.keyOf('good'), tier.keyOf('bad'), tagKey('bad-many', 't')),
    ).toBe(0);
    expect(tier.stats()).toMatchObject({ errors: 0, published: 0 });
  });

  it('stores 0, Infinity and TTLs beyond 2^53 - 1 ms without expiry, the tag set too', async () => {
    const tier = await tierOf('forever');
    for (const [i, ttlMs] of [0, Infinity, 1e20, 1e300].entries()) {
      await tier.set(`k${i}`, i, { ttlMs, tags: [`t${i}`] });
      expect(await fx.admin.pttl(tier.keyOf(`k${i}`))).toBe(-1);
      expect(await fx.admin.pttl(tagKey('forever', `t${i}`))).toBe(-1);
      expect(await tier.get(`k${i}`)).toBe(i);
    }
    // The largest TTL still stored as an expiry.
    await tier.set('max', 1, { ttlMs: Number.MAX_SAFE_INTEGER });
    expect(await fx.admin.pttl(tier.keyOf('max'))).toBeGreaterThan(
      Number.MAX_SAFE_INTEGER - 60_000,
    );
  });

  it('rounds a fractional ttlMs up to whole milliseconds, never down to no expiry', async () => {
    const tier = await tierOf('fraction');
    await tier.set('long', 1, { ttlMs: 59_999.2, tags: ['t'] });
    const pttl = await fx.admin.pttl(tier.keyOf('long'));
    expect(pttl).toBeGreaterThan(30_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(await fx.admin.pttl(tagKey('fraction', 't'))).toBeLessThanOrEqual(60_000);
    // 0.2 ms becomes 1 ms: gone (or about to be) when read back, never kept forever.
    await tier.set('tiny', 1, { ttlMs: 0.2 });
    expect(await fx.admin.pttl(tier.keyOf('tiny'))).not.toBe(-1);
  });

  it('refuses tags that are not an array of strings, and options that are not an object', async () => {
    const tier = await tierOf('bad-tags');
    // A string would have been iterated as the tags 'A', 'P' and 'L'.
    await expect(tier.set('k', 1, { tags: 'APL' as never })).rejects.toThrow(
      /Invalid option tags = "APL"/,
    );
    await expect(tier.setMany([{ key: 'k', value: 1, tags: ['ok', 5] as never }])).rejects.toThrow(
      /entries\[0\]\.tags/,
    );
    // A TTL passed where the options go used to be dropped: stored with the default TTL instead.
    await expect(tier.set('k', 1, 5_000 as never)).rejects.toThrow(/Invalid option options = 5000/);
    expect(
      await fx.admin.exists(tier.keyOf('k'), tagKey('bad-tags', 'A'), tagKey('bad-tags', 'ok')),
    ).toBe(0);
  });
});

describe('defaultTtlMs', () => {
  it('refuses a negative, NaN or non-number defaultTtlMs at construction, showing the value', () => {
    for (const [defaultTtlMs, shown] of [
      [-1, '-1'],
      [Number.NaN, 'NaN'],
      ['60000', '"60000"'],
      [null, 'null'],
    ] as const) {
      expect(() => new RedisTier({ defaultTtlMs: defaultTtlMs as number, bus: false })).toThrow(
        `Invalid option defaultTtlMs = ${shown}:`,
      );
    }
  });

  it('applies the same rules as a write’s ttlMs: fractions round up, beyond 2^53 - 1 ms none', async () => {
    const fraction = await tierOf('default-fraction', { defaultTtlMs: 59_999.5 });
    await fraction.set('k', 1);
    const pttl = await fx.admin.pttl(fraction.keyOf('k'));
    expect(pttl).toBeGreaterThan(30_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    const huge = await tierOf('default-huge', { defaultTtlMs: 1e20 });
    await huge.set('k', 1, { tags: ['t'] });
    expect(await fx.admin.pttl(huge.keyOf('k'))).toBe(-1);
    expect(await huge.get('k')).toBe(1);
  });
});

describe('single-flight lease', () => {
  it('takes the lease with a fractional leaseMs (rounded up), instead of failing every coalesce', async () => {
    const tier = await tierOf('lease', { singleFlight: { leaseMs: 30_000.5 } });
    const leaseKey = `${tier.keyOf('k')}:lease`;
    let leasePttl = 0;
    const value = await tier.coalesce('k', async () => {
      leasePttl = await fx.admin.pttl(leaseKey);
      return 'loaded';
    });
    expect(value).toBe('loaded');
    // The load ran under a real lease; a refused SET … PX 30000.5 would have left none.
    expect(leasePttl).toBeGreaterThan(20_000);
    expect(leasePttl).toBeLessThanOrEqual(30_001);
    expect(tier.stats()).toMatchObject({ errors: 0, breaker: 'closed' });
  });
});
