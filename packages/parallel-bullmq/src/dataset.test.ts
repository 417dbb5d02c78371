import { generateOhlcv } from '@peaktrade/backtest';
import { SharedColumns } from '@peaktrade/parallel';
import { describe, expect, it } from 'vitest';
import { planChunks } from './backend.js';
import { DatasetHashes, encodeDataset } from './dataset.js';

const copy = (cols: ReturnType<typeof generateOhlcv>) => ({
  time: cols.time.slice(),
  open: cols.open.slice(),
  high: cols.high.slice(),
  low: cols.low.slice(),
  close: cols.close.slice(),
  volume: cols.volume.slice(),
});

describe('DatasetHashes', () => {
  const base = generateOhlcv({ bars: 2000, seed: 3 });

  it('remembers the hash of a data object it encoded, without encoding it again', () => {
    const hashes = new DatasetHashes();
    const data = copy(base);
    expect(hashes.lookup(data)).toBeUndefined();
    const first = hashes.encode(data);
    expect(first.hash).toBe(encodeDataset(data).hash);
    expect(first.parts).toBe(1);
    expect(hashes.lookup(data)).toEqual({ hash: first.hash, parts: 1 });
    expect(hashes.lookup(data)).toEqual({ hash: first.hash, parts: 1 });
    expect(hashes.encodes).toBe(1);
    // Another object with the same content is not the same object: it is encoded on its own.
    expect(hashes.lookup(copy(base))).toBeUndefined();
  });

  it('does the same for SharedColumns', () => {
    const hashes = new DatasetHashes();
    const shared = SharedColumns.from(copy(base));
    const { hash } = hashes.encode(shared);
    expect(hashes.lookup(shared)?.hash).toBe(hash);
    shared.columns.high[10] = -1;
    expect(hashes.lookup(shared)).toBeUndefined();
    shared.release();
  });

  it('notices a column changed in place, or replaced, and forgets the stale hash', () => {
    const hashes = new DatasetHashes();
    const data = copy(base);
    const { hash } = hashes.encode(data);
    data.close[1999] = data.close[1999]! + 0.5;
    expect(hashes.lookup(data)).toBeUndefined();
    const changed = hashes.encode(data);
    expect(changed.hash).not.toBe(hash);
    expect(changed.hash).toBe(encodeDataset(data).hash);
    expect(hashes.lookup(data)?.hash).toBe(changed.hash);

    data.volume = base.volume.slice(0, 1000);
    expect(hashes.lookup(data)).toBeUndefined();
    data.volume = base.volume.slice();
    data.open = base.high.slice();
    expect(hashes.lookup(data)).toBeUndefined();
    expect(hashes.encodes).toBe(2);
  });

  it('counts the parts a large dataset is stored in', () => {
    const hashes = new DatasetHashes(10_000);
    const { bytes, parts } = hashes.encode(copy(base));
    expect(parts).toBe(Math.ceil(bytes.length / 10_000));
  });
});

describe('planChunks', () => {
  const covers = (ranges: { start: number; end: number }[], n: number) => {
    let next = 0;
    for (const r of ranges) {
      expect(r.start).toBe(next);
      expect(r.end).toBeGreaterThan(r.start);
      next = r.end;
    }
    expect(next).toBe(n);
  };

  it('splits into equal chunks of a fixed size', () => {
    const ranges = planChunks(105, 4, 20);
    covers(ranges, 105);
    expect(ranges.map((r) => r.end - r.start)).toEqual([20, 20, 20, 20, 20, 5]);
  });

  it('automatically: big chunks first, shrinking, every slot busy until the end', () => {
    for (const [n, slots] of [
      [1000, 2],
      [100, 2],
      [5000, 8],
      [7, 3],
      [1, 1],
    ] as const) {
      const ranges = planChunks(n, slots, undefined);
      covers(ranges, n);
      const sizes = ranges.map((r) => r.end - r.start);
      for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1]!);
      // The first chunk is at most half a slot's share, and there are at most about 16 per slot.
      expect(sizes[0]).toBeLessThanOrEqual(Math.max(1, Math.ceil(n / (2 * slots))));
      expect(ranges.length).toBeLessThanOrEqual(16 * slots + 1);
    }
    expect(planChunks(1000, 2, undefined).map((r) => r.end - r.start)).toEqual([
      250, 188, 141, 106, 79, 59, 45, 33, 32, 32, 32, 3,
    ]);
  });
});
