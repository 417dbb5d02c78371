import { join } from 'node:path';
import { MultiLevelCache } from '@peaktrade/cache-core';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskTier } from './disk-tier.js';
import { tempDirs } from './test-utils/tmp.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

function cacheOn(file: string): MultiLevelCache {
  return new MultiLevelCache({
    l1: { max: 100 },
    tiers: [new DiskTier({ file, sweepIntervalMs: 0 })],
    ttlMs: 60_000,
    tierTimeoutMs: 5_000,
  });
}

describe('DiskTier as the L3 of a MultiLevelCache', () => {
  it('serves a value from L3 after a restart without calling the loader', async () => {
    const file = join(dirs.make(), 'l3.db');
    let loads = 0;
    const loader = (): { sharpe: number; equity: Float64Array } => {
      loads++;
      return { sharpe: 1.25, equity: new Float64Array([100, 101.5, 99.75]) };
    };
    const first = cacheOn(file);
    expect(await first.getOrSet('bt:AAPL:sma', loader)).toEqual(loader());
    loads = 1;
    await first.close();

    // A new process: empty L1, same file.
    const second = cacheOn(file);
    try {
      const value = await second.getOrSet('bt:AAPL:sma', loader);
      expect(value).toEqual({ sharpe: 1.25, equity: new Float64Array([100, 101.5, 99.75]) });
      expect(loads).toBe(1);
      const stats = second.stats();
      expect(stats.tiers[0]).toMatchObject({ name: 'l3-disk', hits: 1, errors: 0 });
      // Backfilled into L1: the next read does not touch the disk tier.
      await second.get('bt:AAPL:sma');
      expect(second.stats().tiers[0]!.hits).toBe(1);
    } finally {
      await second.close();
    }
  });

  it('deletes and expires by tag through the cache', async () => {
    const file = join(dirs.make(), 'l3.db');
    const cache = cacheOn(file);
    try {
      await cache.set('a', 1, { tags: ['sym:A'] });
      await cache.set('b', 2, { tags: ['sym:B'], graceMs: 60_000 });
      await cache.set('c', 3);
      expect(await cache.deleteByTag('sym:A')).toBe(1);
      expect(await cache.expireByTag('sym:B')).toBe(1);
      const direct = new DiskTier({ file, sweepIntervalMs: 0 });
      try {
        expect(await direct.get('a')).toBeUndefined();
        // Still on disk for its grace window, logically expired.
        const b = (await direct.get('b')) as { v: number; e: number };
        expect(b.v).toBe(2);
        expect(b.e).toBeLessThanOrEqual(Date.now());
        expect(await direct.get('c')).toMatchObject({ v: 3 });
      } finally {
        await direct.close();
      }
    } finally {
      await cache.close();
    }
  });
});
