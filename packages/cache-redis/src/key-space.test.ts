import { type Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { RedisOptionError, RedisTier, type RedisTierOptions } from './index.js';
import { usePrivateRedis } from './test-utils/private-redis.js';

// A private redis-server: before the keyPrefix rule, an empty prefix made clear() sweep every
// `{*` and `tag:*` key of the database, which on a shared Redis would be other people's data.
const redis = usePrivateRedis();
const admin = (): Redis => redis.admin();

beforeEach(async () => {
  await admin().flushdb();
});

/** A ready tier on the private server (no bus), closed after the file. */
function tierOf(options: RedisTierOptions): Promise<RedisTier> {
  return redis.tier({ commandTimeoutMs: 1000, bus: false, ...options }).ready();
}

/** Every key in the private database, sorted. */
async function allKeys(): Promise<string[]> {
  return (await admin().keys('*')).sort();
}

/**
 * Keys a plain client writes, none of them in tier `app:`'s key space (`app:{…`, `app:tag:…`).
 * Some share its prefix, some look like another prefix's values or tag sets.
 */
const OUTSIDE = [
  'app:other',
  'app:tagged',
  'app:tags:x',
  'apptag:x',
  'app:x:{k}',
  'app:x:tag:plain',
  '{k}',
  'tag:t',
  'other:{plain}',
  'other:tag:plain',
];

describe('keyPrefix', () => {
  it('refuses a prefix that is empty, lacks the trailing ":", or has braces, spaces or a "tag" segment', () => {
    for (const keyPrefix of [
      '',
      'app',
      'app:tag:',
      'tag:',
      'a:tag:b:',
      'app{x}:',
      'app{:',
      'my app:',
      'app:\n',
      42 as never,
      null as never,
    ]) {
      let error: unknown;
      try {
        void new RedisTier({ keyPrefix, bus: false }).close();
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(keyPrefix)).toBeInstanceOf(RedisOptionError);
      expect((error as RedisOptionError).option).toBe('keyPrefix');
      expect((error as Error).message).toMatch(/Invalid option keyPrefix = .*: expected .*":"/);
    }
    // Allowed: any segments (empty ones included) before the closing colon.
    for (const keyPrefix of ['app:', 'a:b:', 'tags:', 'a::', ':', 'x*[?]:']) {
      void new RedisTier({ keyPrefix, bus: false }).close();
    }
  });

  it('refuses a prefix whose keys another tier would delete: the other tier’s data survives', async () => {
    // [a, b]: b's values (`<b>{k}`) fall in a's tag sets (`<a>tag:…`), so a's clear() deleted
    // them (and a's deleteByTag('{k}') would have). Before the rule both tiers were built and b's value was lost.
    const pairs = [
      ['app:', 'app:tag:'],
      ['app', 'apptag:'],
    ] as const;
    for (const [a, b] of pairs) {
      const built: (RedisTier | undefined)[] = [];
      for (const keyPrefix of [a, b]) {
        try {
          built.push(await tierOf({ keyPrefix }));
        } catch (error) {
          expect(error).toBeInstanceOf(RedisOptionError);
          expect((error as RedisOptionError).option).toBe('keyPrefix');
          built.push(undefined);
        }
      }
      const [tierA, tierB] = built;
      await tierB?.set('k', 'b', { ttlMs: 60_000 });
      await tierA?.set('k', 'a', { ttlMs: 60_000, tags: ['t'] });
      await tierA?.clear();
      if (tierB) expect(await tierB.get('k'), `${b} after calls on ${a}`).toBe('b');
      // Exactly one of the two is refused.
      expect(
        built.filter((t) => t === undefined),
        `${a} / ${b}`,
      ).toHaveLength(1);
    }
  });

  it('refuses an empty prefix, whose clear() swept every `{…` and `tag:…` key in the database', async () => {
    // Another application's data at the top level of the database.
    await admin().set('{session:1}', 'other app');
    await admin().sadd('tag:users', 'u1');
    let tier: RedisTier | undefined;
    try {
      tier = await tierOf({ keyPrefix: '' });
    } catch (error) {
      expect(error).toBeInstanceOf(RedisOptionError);
    }
    await tier?.clear();
    expect(await admin().get('{session:1}')).toBe('other app');
    expect(await admin().smembers('tag:users')).toEqual(['u1']);
    expect(tier).toBeUndefined();
  });

  it('clear() deletes only its own values, leases and tag sets, never a second tier’s or a plain client’s keys', async () => {
    const app = await tierOf({ keyPrefix: 'app:' });
    const nested = await tierOf({ keyPrefix: 'app:', namespace: 'x' });
    const other = await tierOf({ keyPrefix: 'other:' });
    for (const key of OUTSIDE) await admin().set(key, 'plain');
    await nested.set('k2', 'nested', { tags: ['t'] });
    await other.set('k', 'other', { tags: ['t'] });
    await app.set('k', 'app', { tags: ['t'] });
    await app.set('k2', 'app', { tags: ['u'] });
    await app.coalesce('k3', () => 'loaded');
    const before = await allKeys();
    expect(before).toEqual(
      expect.arrayContaining(['app:{k}', 'app:{k2}', 'app:{k3}:lease', 'app:tag:t', 'app:tag:u']),
    );

    await app.clear();

    // Everything but app's own five keys is still there, values included.
    const mine = ['app:{k}', 'app:{k2}', 'app:{k3}:lease', 'app:tag:t', 'app:tag:u'];
    expect(await allKeys()).toEqual(before.filter((key) => !mine.includes(key)));
    for (const key of OUTSIDE) expect(await admin().get(key), key).toBe('plain');
    expect(await nested.get('k2')).toBe('nested');
    expect(await other.get('k')).toBe('other');
    expect(await admin().smembers('app:x:tag:t')).toEqual(['k2']);
    expect(await admin().smembers('other:tag:t')).toEqual(['k']);
  });

  it('clear() treats glob characters in the prefix literally', async () => {
    const glob = await tierOf({ keyPrefix: 'a*:' });
    const plain = await tierOf({ keyPrefix: 'ab:' });
    await plain.set('k', 'plain', { tags: ['t'] });
    await glob.set('k', 'glob', { tags: ['t'] });
    await glob.clear();
    expect(await glob.get('k')).toBeUndefined();
    expect(await plain.get('k')).toBe('plain');
    expect(await admin().smembers('ab:tag:t')).toEqual(['k']);
  });
});
