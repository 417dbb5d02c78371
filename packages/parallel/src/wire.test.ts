import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packList, unpackList } from './wire.js';

/** What the receiving thread gets: the packed form cloned as postMessage would, then unpacked. */
const cross = (items: readonly unknown[]) => unpackList(structuredClone(packList(items)));

/**
 * Where `got` differs from `want` (undefined if nowhere), comparing what structured clone keeps:
 * primitives by `Object.is`, prototypes, own keys in order (so holes too), contents of dates, maps,
 * sets and typed arrays, and sharing: each object of `want` must be one object of `got` and back,
 * so an object reached twice, or a cycle, must be reached the same way in both. `toEqual` sees
 * none of key order, sharing or cycles.
 */
function cloneDiff(got: unknown, want: unknown): string | undefined {
  const toGot = new Map<object, object>();
  const toWant = new Map<object, object>();
  const diff = (g: unknown, w: unknown, at: string): string | undefined => {
    if (typeof w !== 'object' || w === null) {
      return Object.is(g, w) ? undefined : `${at}: ${String(g)} instead of ${String(w)}`;
    }
    if (typeof g !== 'object' || g === null) return `${at}: ${String(g)} instead of an object`;
    if (toGot.has(w) || toWant.has(g)) {
      return toGot.get(w) === g && toWant.get(g) === w ? undefined : `${at}: sharing differs`;
    }
    toGot.set(w, g);
    toWant.set(g, w);
    if (Object.getPrototypeOf(g) !== Object.getPrototypeOf(w)) return `${at}: prototype differs`;
    if (w instanceof Date) return Object.is(+g, +w) ? undefined : `${at}: date differs`;
    if (ArrayBuffer.isView(w)) {
      const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      return bytes(g as ArrayBufferView).equals(bytes(w)) ? undefined : `${at}: bytes differ`;
    }
    if (w instanceof Map || w instanceof Set) {
      const ge = [...(g as Map<unknown, unknown>).entries()];
      const we = [...w.entries()];
      if (ge.length !== we.length) return `${at}: size differs`;
      for (let i = 0; i < we.length; i++) {
        const d =
          diff(ge[i]![0], we[i]![0], `${at}.entry${i}.key`) ??
          diff(ge[i]![1], we[i]![1], `${at}.entry${i}.value`);
        if (d !== undefined) return d;
      }
      return undefined;
    }
    const gk = Object.keys(g);
    const wk = Object.keys(w);
    if (gk.join('\u0000') !== wk.join('\u0000') || gk.length !== wk.length) {
      return `${at}: keys ${JSON.stringify(gk)} instead of ${JSON.stringify(wk)}`;
    }
    if (Array.isArray(w) && (g as unknown[]).length !== w.length) return `${at}: length differs`;
    for (const k of wk) {
      const d = diff(
        (g as Record<string, unknown>)[k],
        (w as Record<string, unknown>)[k],
        `${at}[${JSON.stringify(k)}]`,
      );
      if (d !== undefined) return d;
    }
    return undefined;
  };
  return diff(got, want, 'list');
}

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
    // fast: all 32-bit integers (they cross as an Int32Array); slow has -0 and fractions
    expect(packed.columns.map((c) => c.t)).toEqual(['str', 'i32', 'f64', 'any', 'any', 'any']);
    const got = cross(specs);
    expect(got).toEqual(structuredClone(specs));
    expect(got.map((o) => Object.keys(o as object))).toEqual(specs.map((o) => Object.keys(o)));
    expect(Object.is((got[0] as { slow: number }).slow, -0)).toBe(true);
    expect(Object.getPrototypeOf(got[3])).toBe(Object.prototype);
  });

  it('sends 32-bit integers as Int32Array (columns and number lists) and anything else as Float64Array', () => {
    const ints = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 7, 8, 9, 10];
    const form = (xs: number[]): string => packList(xs).form;
    expect(form(ints)).toBe('i32');
    expect(cross(ints)).toEqual(ints);
    for (const odd of [-0, 2 ** 31, -(2 ** 31) - 1, 0.5, Number.NaN, Infinity]) {
      const xs = [...ints, odd];
      expect(form(xs), String(odd)).toBe('f64');
      expect(
        cross(xs).every((x, i) => Object.is(x, xs[i])),
        String(odd),
      ).toBe(true);
    }
    const rows = (x: number) => Array.from({ length: 10 }, (_, i) => ({ x: i === 9 ? x : i }));
    const kind = (x: number): string => {
      const p = packList(rows(x));
      return p.form === 'objects' ? p.columns[0]!.t : p.form;
    };
    expect(kind(2 ** 31 - 1)).toBe('i32');
    expect(kind(-0)).toBe('f64');
    expect(Object.is((cross(rows(-0))[9] as { x: number }).x, -0)).toBe(true);
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

  it('leaves a list whose getter throws as it is, so structured clone meets the same error', () => {
    const boom = new Error('boom');
    const items = Array.from({ length: 10 }, (_, i) => ({ id: i, level: 1 }));
    Object.defineProperty(items[6]!, 'level', {
      enumerable: true,
      get: () => {
        throw boom;
      },
    });
    const packed = packList(items);
    expect(packed).toEqual({ form: 'plain', items });
    expect(() => structuredClone(packed)).toThrow(boom);
  });

  it('keeps nested values shared between items shared, as one structured clone does', () => {
    const shared = { window: 20 };
    const items = Array.from({ length: 10 }, (_, i) => ({ id: i, params: shared }));
    expect(packList(items).form).toBe('objects');
    const got = cross(items) as { params: object }[];
    expect(got[0]!.params).toBe(got[9]!.params);
    expect(got[0]!.params).toEqual(shared);
  });

  it('keeps an item that is listed twice, or reachable from a value, one object', () => {
    // Structured clone gives one clone per object, so the receiver sees the same object twice
    // (or a cycle); rebuilding every item from columns would give copies instead.
    const same = { a: 1, b: 2 };
    const items = () =>
      Array.from({ length: 10 }, (_, i): { id: number; ref: unknown } => ({ id: i, ref: null }));
    const backRef = items();
    for (const o of backRef) o.ref = backRef[0];
    const selfRef = items();
    for (const o of selfRef) o.ref = o;
    const listRef = items();
    for (const o of listRef) o.ref = listRef;
    const viaMap = items();
    for (const o of viaMap) o.ref = new Map([['first', viaMap[9]]]);
    const viaSet = items();
    for (const o of viaSet) o.ref = { s: new Set([1, viaSet[2]]) };
    const viaArray = items();
    for (const o of viaArray) o.ref = [[{ deep: [viaArray[5]] }]];
    const cases: unknown[][] = [
      Array.from({ length: 10 }, () => same),
      [...Array.from({ length: 9 }, (_, i) => ({ a: i, b: i })), same, same],
      backRef,
      selfRef,
      listRef,
      viaMap,
      viaSet,
      viaArray,
    ];
    for (const list of cases) expect(cloneDiff(cross(list), structuredClone(list))).toBeUndefined();
  });

  it('rejects items structured clone rejects although their prototype is Object.prototype', () => {
    // A proxy (its getPrototypeOf trap can answer Object.prototype) or an arguments object: read
    // into columns they would arrive as plain objects, while a list of fewer items, or cloned as
    // it is, fails. The error must be structured clone's own.
    function args(...values: unknown[]): unknown {
      // eslint-disable-next-line prefer-rest-params
      return arguments.length === values.length ? arguments : undefined;
    }
    const lists: unknown[][] = [
      Array.from({ length: 10 }, (_, i) => new Proxy({ a: i }, {})),
      Array.from({ length: 10 }, (_, i) => (i === 4 ? new Proxy({ a: i }, {}) : { a: i })),
      Array.from({ length: 10 }, (_, i) => args(i)),
    ];
    for (const list of lists) {
      expect(() => structuredClone(list)).toThrow(/could not be cloned/);
      expect(() => cross(list)).toThrow(/could not be cloned/);
    }
  });

  it('gives what structured clone gives, for any list (property)', () => {
    // Defined, not assigned, so "__proto__" is an own key as JSON.parse makes it.
    const define = (o: object, key: string, value: unknown) =>
      Object.defineProperty(o, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    const keyArb = fc.constantFrom('a', 'b', 'constructor', '__proto__', 'toString', '1', '10', '');
    const leafArb = fc.oneof(
      fc.double(),
      fc.constantFrom(-0, Number.NaN, 2 ** 53 + 2, -(2 ** 60), Infinity),
      fc.integer(),
      fc.string({ maxLength: 4 }),
      fc.constantFrom(undefined, null, true, 1n, 'x'),
    );
    const valueArb = fc.oneof(
      { weight: 6, arbitrary: leafArb },
      fc.sparseArray(leafArb, { maxLength: 4 }),
      fc.dictionary(fc.constantFrom('p', 'q', '2'), leafArb, { maxKeys: 2 }),
      fc.date({ noInvalidDate: false }),
      fc.float64Array({ maxLength: 3 }),
      fc.array(fc.tuple(leafArb, leafArb), { maxLength: 2 }).map((e) => new Map(e)),
      fc.array(leafArb, { maxLength: 2 }).map((e) => new Set(e)),
    );
    // Items share a key list (in order or, sometimes, shuffled) and mostly one kind of value per
    // key, so lists take every form; afterwards some items are repeated or referenced.
    const listArb = fc
      .record({
        keys: fc.uniqueArray(keyArb, { minLength: 1, maxLength: 4 }),
        kinds: fc.array(fc.constantFrom('number', 'string', 'any'), { minLength: 4, maxLength: 4 }),
        rows: fc.array(
          fc.record({
            shuffle: fc.nat(40),
            values: fc.array(fc.oneof(fc.double(), fc.string({ maxLength: 3 }), valueArb), {
              minLength: 4,
              maxLength: 4,
            }),
            numbers: fc.array(fc.double(), { minLength: 4, maxLength: 4 }),
            strings: fc.array(fc.string({ maxLength: 2 }), { minLength: 4, maxLength: 4 }),
          }),
          { maxLength: 24, size: 'max' },
        ),
        alias: fc.oneof(
          { weight: 3, arbitrary: fc.constant(null) },
          fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('item', 'value', 'list')),
        ),
        shape: fc.constantFrom('objects', 'objects', 'objects', 'numbers', 'mixed'),
      })
      .map(({ keys, kinds, rows, alias, shape }) => {
        if (shape === 'numbers') return rows.map((r) => r.numbers[0]!);
        if (shape === 'mixed') return rows.map((r) => r.values[0]);
        const list: unknown[] = rows.map((r) => {
          const order = r.shuffle === 0 ? [...keys].reverse() : keys;
          const o: Record<string, unknown> = {};
          for (const key of order) {
            const k = keys.indexOf(key);
            const value =
              r.shuffle === 1
                ? r.values[k]
                : kinds[k] === 'number'
                  ? r.numbers[k]
                  : kinds[k] === 'string'
                    ? r.strings[k]
                    : r.values[k];
            define(o, key, value);
          }
          return o;
        });
        if (alias !== null && list.length > 0) {
          const [i, j, how] = alias;
          const target = list[j % list.length];
          if (how === 'item') list[i % list.length] = target;
          else define(list[i % list.length] as object, keys[0]!, how === 'list' ? list : target);
        }
        return list;
      });
    fc.assert(
      fc.property(listArb, (list) => {
        expect(cloneDiff(cross(list), structuredClone(list))).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });
});
