import { describe, expect, it } from 'vitest';
import { ColumnBuilder, OHLCV_FIELDS } from './index.js';

describe('ColumnBuilder', () => {
  it('gives back every bar in order, in exact-length columns, across chunk boundaries', () => {
    // 16, 32, ... 65536-value chunks: 200k bars fill several of each size and part of the last
    for (const [initial, n] of [
      [1, 0],
      [1, 15],
      [16, 16],
      [16, 17],
      [1024, 200_000],
      [1 << 20, 70_000],
    ] as const) {
      const builder = new ColumnBuilder(initial);
      for (let i = 0; i < n; i++) builder.push(i, i + 0.25, i + 0.5, i - 0.5, -i, i * 2);
      expect(builder.length).toBe(n);
      const cols = builder.finish();
      for (const f of OHLCV_FIELDS) {
        expect(cols[f]).toBeInstanceOf(Float64Array);
        expect(cols[f].length).toBe(n);
        expect(cols[f].buffer.byteLength).toBe(n * 8);
      }
      const expected = (i: number): number[] => [i, i + 0.25, i + 0.5, i - 0.5, -i, i * 2];
      for (let i = 0; i < n; i++) {
        const row = OHLCV_FIELDS.map((f) => cols[f][i]!);
        if (row.some((v, k) => !Object.is(v, expected(i)[k]))) {
          expect([i, row]).toEqual([i, expected(i)]);
        }
      }
    }
  });

  it('goes on appending after finish(), whose columns stay as they were', () => {
    const builder = new ColumnBuilder(16);
    for (let i = 0; i < 20; i++) builder.push(i, 1, 1, 1, 1, 1);
    const first = builder.finish();
    for (let i = 20; i < 50; i++) builder.push(i, 2, 2, 2, 2, 2);
    const second = builder.finish();
    expect([...first.time]).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect([...second.time]).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(second.open[19]).toBe(1);
    expect(second.open[20]).toBe(2);
  });
});
