import { describe, expect, it } from 'vitest';
import { packList, unpackList } from './wire.js';

/** What the receiving thread gets: the packed form cloned as postMessage would, then unpacked. */
const cross = (items: readonly unknown[]) => unpackList(structuredClone(packList(items)));

describe('packList / unpackList', () => {
  it('sends uniform plain objects as columns and rebuilds what structured clone would give', () => {
    const specs = Array.from({ length: 50 }, (_, i) => ({
      kind: i % 3 === 0 ? 'sma-cross' : 'ema-cross',
      fast: i + 2,
      slow: i % 5 === 0 ? -0 : 100 + i / 3,
      short: i % 2 === 0,
      note: i === 7 ? null : undefined,
      grid: { step: i },
    }));
    const packed = packList(specs);
    expect(packed.form).toBe('objects');
    if (packed.form !== 'objects') return;
    expect(packed.columns.map((c) => c.t)).toEqual(['str', 'f64', 'f64', 'any', 'any', 'any']);
    const got = cross(specs);
    expect(got).toEqual(structuredClone(specs));
    expect(got.map((o) => Object.keys(o as object))).toEqual(specs.map((o) => Object.keys(o)));
    expect(Object.is((got[0] as { slow: number }).slow, -0)).toBe(true);
    expect(Object.getPrototypeOf(got[3])).toBe(Object.prototype);
  });

  it('keeps NaN and the infinities in number columns, and strings exactly', () => {
    const items = Array.from({ length: 10 }, (_, i) => ({
      x: [Number.NaN, Infinity, -Infinity, 5e-324, 1.7976931348623157e308][i % 5]!,
      s: ['', 'é', '\u0000', 'a'.repeat(300), '𝄞'][i % 5]!,
    }));
    expect(cross(items)).toEqual(items);
  });

  it('sends a list of numbers as one Float64Array', () => {
    const values = Array.from({ length: 20 }, (_, i) => (i === 3 ? -0 : i * 1.5));
    const packed = packList(values);
    expect(packed.form).toBe('f64');
    const got = cross(values);
    expect(got).toEqual(values);
    expect(Object.is(got[3], -0)).toBe(true);
  });

  it('falls back to a column of any values when one key changes type', () => {
    const items = Array.from({ length: 12 }, (_, i) => ({
      a: i === 11 ? 'eleven' : i,
      b: i === 5 ? 5 : `s${i}`,
    }));
    const packed = packList(items);
    expect(packed.form === 'objects' && packed.columns.map((c) => c.t)).toEqual(['any', 'any']);
    expect(cross(items)).toEqual(items);
  });

  it('crosses as it is when the objects differ in keys or key order, or are not plain', () => {
    class Spec {
      constructor(readonly fast: number) {}
    }
    const base = Array.from({ length: 10 }, (_, i) => ({ a: i, b: i }));
    const cases: unknown[][] = [
      [...base, { b: 1, a: 1 }],
      [...base, { a: 1 }],
      [...base, { a: 1, b: 2, c: 3 }],
      [...base, new Spec(3)],
      [...base, [1, 2]],
      [...base, null],
      [...base, 4],
      Array.from({ length: 10 }, () => new Spec(1)),
      Array.from({ length: 10 }, () => JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as unknown),
      Array.from({ length: 10 }, (_, i) => (i === 9 ? undefined : i)),
      [{ a: 1 }, { a: 2 }],
      [],
    ];
    for (const items of cases) {
      expect(packList(items).form).toBe('plain');
      expect(cross(items)).toEqual(structuredClone(items));
    }
  });

  it('keeps nested values shared between items shared, as one structured clone does', () => {
    const shared = { window: 20 };
    const items = Array.from({ length: 10 }, (_, i) => ({ id: i, params: shared }));
    const got = cross(items) as { params: object }[];
    expect(got[0]!.params).toBe(got[9]!.params);
    expect(got[0]!.params).toEqual(shared);
  });
});
