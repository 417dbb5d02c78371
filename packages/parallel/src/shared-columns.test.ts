import { BroadcastChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { makeColumns, task } from '../test/helpers.js';
import { InvalidOptionError, SharedColumns, SharedDataMutatedError, WorkerPool } from './index.js';
import {
  CHANNEL_NAME,
  checksumBuffer,
  laneHash,
  type SharedChannelMessage,
} from './shared-columns.js';

const pools: WorkerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close({ force: true })));
});

describe('SharedColumns', () => {
  it('puts every column on one SharedArrayBuffer, equal to the source', () => {
    const cols = makeColumns(100);
    const shared = SharedColumns.from(cols);
    expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(shared.byteLength).toBe(6 * 100 * 8);
    for (const name of shared.names) {
      expect(shared.columns[name].buffer).toBe(shared.buffer);
      expect(Array.from(shared.columns[name])).toEqual(Array.from(cols[name]));
    }
    shared.release();
  });

  it('reaches each worker once: tasks carry only the id, workers cache the views', async () => {
    const pool = new WorkerPool({ maxWorkers: 2 });
    pools.push(pool);
    const shared = SharedColumns.from(makeColumns(10_000));
    const spy = new BroadcastChannel(CHANNEL_NAME);
    let requests = 0;
    spy.onmessage = (event: unknown) => {
      const msg = (event as { data: SharedChannelMessage }).data;
      if (msg.type === 'need' && msg.id === shared.id) requests++;
    };
    try {
      const info = await pool.run(task('columnInfo'), null, { shared });
      expect(info).toEqual({
        shared: true,
        length: 10_000,
        names: ['time', 'open', 'high', 'low', 'close', 'volume'],
      });
      const sums = await Promise.all(
        Array.from({ length: 40 }, () => pool.run(task('sumClose'), null, { shared })),
      );
      expect(new Set(sums)).toEqual(new Set([50_000_000]));
      expect(requests).toBeGreaterThanOrEqual(1);
      expect(requests).toBeLessThanOrEqual(2); // at most one per worker, never per task
    } finally {
      spy.close();
      shared.release();
    }
  });

  it('detects a write by a task through the checksum', async () => {
    const pool = new WorkerPool({ maxWorkers: 1 });
    pools.push(pool);
    const shared = SharedColumns.from(makeColumns(64));
    const before = shared.checksum();
    shared.verify(before);
    await pool.run(task('mutateShared'), null, { shared });
    expect(shared.columns.close[0]).toBe(-1); // the write is visible: memory really is shared
    expect(() => shared.verify(before)).toThrow(SharedDataMutatedError);
    shared.release();
  });

  it.each([
    ['checksum (CRC-32 where @node-rs/crc32 loads)', (b: SharedArrayBuffer) => checksumBuffer(b)],
    ['the lane hash it falls back to', (b: SharedArrayBuffer) => laneHash(b)],
  ])('%s changes for any single changed word and for swapped neighbours', (_name, sum) => {
    const shared = SharedColumns.from(makeColumns(5)); // 30 float64 = 60 words
    const words = new Int32Array(shared.buffer);
    const seen = new Set([sum(shared.buffer)]);
    for (let i = 0; i < words.length; i++) {
      const old = words[i] as number;
      words[i] = old ^ 1;
      seen.add(sum(shared.buffer));
      words[i] = old;
    }
    expect(seen.size).toBe(words.length + 1);
    for (let i = 0; i + 1 < words.length; i++) {
      const [x, y] = [words[i] as number, words[i + 1] as number];
      if (x === y) continue;
      const before = sum(shared.buffer);
      [words[i], words[i + 1]] = [y, x];
      expect(sum(shared.buffer)).not.toBe(before);
      [words[i], words[i + 1]] = [x, y];
    }
    expect(shared.checksum()).toBe(checksumBuffer(shared.buffer));
    shared.release();
  });

  it('uses the native CRC-32 here (the check value of "123456789")', () => {
    const buffer = new ArrayBuffer(9);
    new Uint8Array(buffer).set(new TextEncoder().encode('123456789'));
    expect(checksumBuffer(buffer)).toBe('cbf43926');
  });

  it('fails a task that names a released dataset with a clear error', async () => {
    const pool = new WorkerPool({ maxWorkers: 1 });
    pools.push(pool);
    const shared = SharedColumns.from(makeColumns(8));
    shared.release();
    await expect(pool.run(task('sumClose'), null, { shared })).rejects.toThrow(
      /not available: released/,
    );
  });

  it('allocates and wraps with validated layouts', () => {
    const a = SharedColumns.allocate(10);
    expect(a.names).toEqual(['time', 'open', 'high', 'low', 'close', 'volume']);
    const b = SharedColumns.wrap(a.buffer, 10);
    expect(b.id).not.toBe(a.id);
    expect(b.checksum()).toBe(a.checksum());
    const custom = SharedColumns.allocate(4, ['x', 'y']);
    expect(custom.byteLength).toBe(64);
    expect(() => SharedColumns.allocate(-1)).toThrow(InvalidOptionError);
    expect(() => SharedColumns.allocate(3, ['x', 'x'])).toThrow(/unique/);
    expect(() => SharedColumns.wrap(a.buffer, 11)).toThrow(/length/);
    expect(() => SharedColumns.from({ a: new Float64Array(2), b: new Float64Array(3) })).toThrow(
      /columns\.b\.length: got 3/,
    );
    expect(() => SharedColumns.from({ a: [1, 2] as never })).toThrow(/columns\.a/);
    for (const s of [a, b, custom]) s.release();
  });
});
