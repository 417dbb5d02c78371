import type { CacheEnvelope } from '@peaktrade/cache-core';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { clusterSkipReason, usePrivateCluster } from './test-utils/private-cluster.js';
import { RedisTier } from './index.js';
import { eventually } from '../test/helpers.js';

const cluster = usePrivateCluster();
const run = it.skipIf(clusterSkipReason !== undefined);

/** How many keys each master holds: the writes must have landed on more than one node. */
async function keysPerNode(): Promise<number[]> {
  return Promise.all(
    cluster.nodes().map(async ({ host, port }) => {
      const node = new Redis({ host, port });
      try {
        return await node.dbsize();
      } finally {
        node.disconnect();
      }
    }),
  );
}

/** A ready tier on a Cluster client of its own, closed after the file. */
function tierOf(keyPrefix: string, bus = false): Promise<RedisTier> {
  return cluster.tier({ keyPrefix, bus }).ready();
}

const keys = Array.from({ length: 12 }, (_, i) => `key-${i}`);

describe('RedisTier on a Redis Cluster', () => {
  run('set with tags, get and deleteByTag', async () => {
    const tier = await tierOf('c-set:');
    await tier.set('a', { v: 1 }, { tags: ['T', 'U'] });
    await tier.set('b', 2, { tags: ['T'] });
    expect(await tier.get('a')).toEqual({ v: 1 });
    expect(await tier.deleteByTag('T')).toBe(2);
    expect(await tier.get('a')).toBeUndefined();
    expect(await tier.get('b')).toBeUndefined();
  });

  run(
    'setMany writes keys of different nodes with their tags, and getMany reads them',
    async () => {
      const tier = await tierOf('c-many:');
      await tier.setMany(keys.map((key, i) => ({ key, value: i, tags: ['all', `t${i % 3}`] })));
      expect((await keysPerNode()).filter((n) => n > 0).length).toBeGreaterThan(1);
      expect(await tier.getMany(keys)).toEqual(keys.map((_, i) => i));
      expect(await tier.deleteByTag('t1')).toBe(4);
      expect(await tier.getMany(keys)).toEqual(keys.map((_, i) => (i % 3 === 1 ? undefined : i)));
      expect(await tier.deleteByTag('all')).toBe(8);
      expect(await tier.getMany(keys)).toEqual(keys.map(() => undefined));
    },
  );

  run('clear deletes the tier’s keys and tag sets on every master', async () => {
    const tier = await tierOf('c-clear:');
    await tier.setMany(keys.map((key, i) => ({ key, value: i, tags: [`t${i}`] })));
    await tier.clear();
    expect(await tier.getMany(keys)).toEqual(keys.map(() => undefined));
    expect(await tier.deleteByTag('t0')).toBe(0);
  });
  run('expireByTag makes envelopes on several nodes stale and deletes plain values', async () => {
    const tier = await tierOf('c-expire:');
    const now = Date.now();
    const envelope = (v: number): CacheEnvelope => ({
      __pt: 1,
      v,
      e: now + 60_000,
      g: now + 120_000,
      s: now + 120_000,
      t: ['prices'],
    });
    await tier.setMany(
      keys.map((key, i) => ({
        key,
        value: i % 2 === 0 ? envelope(i) : `plain-${i}`,
        ttlMs: 120_000,
        tags: ['prices'],
      })),
    );
    expect(await tier.expireByTag('prices')).toBe(keys.length);
    const back = await tier.getMany(keys);
    back.forEach((value, i) => {
      if (i % 2 === 1) return expect(value).toBeUndefined();
      expect((value as CacheEnvelope).v).toBe(i);
      expect((value as CacheEnvelope).e).toBeLessThanOrEqual(Date.now());
    });
  });

  run('setMany publishes its keys to another process’s tier after the writes', async () => {
    const writer = await tierOf('c-bus:', true);
    const reader = await tierOf('c-bus:', true);
    const got: (readonly string[] | 'all')[] = [];
    reader.onInvalidate((k) => got.push(k));
    await writer.setMany(keys.map((key, i) => ({ key, value: i, tags: ['T'] })));
    expect(await eventually(() => got.length > 0)).toBe(true);
    expect(got).toEqual([keys]);
    expect(await reader.getMany(keys)).toEqual(keys.map((_, i) => i));
    expect(writer.stats()).toMatchObject({ errors: 0, published: 1 });
  });

  run(
    'coalesce runs one loader, keeps the lease as done, and gives a failed lease back',
    async () => {
      const tier = await tierOf('c-lease:', true);
      const admin = cluster.client();
      await expect(
        tier.coalesce('k', () => {
          throw new Error('loader failed');
        }),
      ).rejects.toThrow('loader failed');
      expect(await admin.exists(`${tier.keyOf('k')}:lease`)).toBe(0);
      let loads = 0;
      const results = await Promise.all(
        Array.from({ length: 5 }, () => tier.coalesce('k', () => ++loads)),
      );
      expect(loads).toBe(1);
      expect(results).toEqual([1, 1, 1, 1, 1]);
      expect(await admin.get(`${tier.keyOf('k')}:lease`)).toBe('done');
    },
  );

  run('a tier made from a redis-cluster:// URL writes, tags and clears across nodes', async () => {
    const url = `redis-cluster://${cluster
      .nodes()
      .map((n) => `${n.host}:${n.port}`)
      .join(',')}`;
    const tier = await new RedisTier({ url, keyPrefix: 'c-url:', commandTimeoutMs: 5_000 }).ready();
    try {
      await tier.setMany(keys.map((key, i) => ({ key, value: i, tags: ['T'] })));
      await tier.set('one', 'x', { tags: ['T'] });
      expect(await tier.getMany([...keys, 'one'])).toEqual([...keys.map((_, i) => i), 'x']);
      expect(await tier.deleteByTag('T')).toBe(keys.length + 1);
      await tier.set('left', 1, { tags: ['U'] });
      await tier.clear();
      expect(await tier.get('left')).toBeUndefined();
      expect(tier.stats().errors).toBe(0);
    } finally {
      await tier.close();
    }
  });
});
