import { spawnSync } from 'node:child_process';
import { crc32 } from 'node:zlib';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decompress as zstdDecompress } from 'zstd-napi';
import {
  createCodec,
  decode,
  decodeAsync,
  decodeStream,
  encode,
  encodeAsync,
  ExtType,
  SerializeError,
} from './index.js';
import { TABLE_MIN_ROWS } from './table.js';

const raw = createCodec({ thresholdBytes: Infinity });
/** The MessagePack body of a raw (uncompressed) encoding. */
const bodyOf = (value: unknown): Buffer => Buffer.from(raw.encode(value).subarray(12));
/** The MessagePack inside encoded bytes (decompressed when the body is a zstd frame). */
const msgpackOf = (bytes: Uint8Array): Buffer => {
  const body = Buffer.from(bytes.subarray(12));
  return (bytes[3]! & 0x03) === 1 ? zstdDecompress(body) : body;
};
/** Same bytes, compared without asking vitest to diff megabytes on failure. */
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** The extension type when the body is a single top-level extension (ext 8/16/32), else undefined. */
const topExtType = (value: unknown): number | undefined => {
  const b = bodyOf(value);
  const at = b[0] === 0xc7 ? 2 : b[0] === 0xc8 ? 3 : b[0] === 0xc9 ? 5 : -1;
  return at < 0 ? undefined : b[at];
};

/** Equal with the same key order and Object.is on every number (-0, NaN). */
function expectIdentical(actual: unknown, expected: unknown): void {
  expect(actual).toStrictEqual(expected);
  const a = actual as Record<string, number>[];
  (expected as Record<string, number>[]).forEach((row, i) => {
    expect(Object.keys(a[i]!)).toEqual(Object.keys(row));
    for (const k of Object.keys(row)) expect(Object.is(a[i]![k], row[k])).toBe(true);
  });
}

const bars = (n: number): Record<string, number>[] =>
  Array.from({ length: n }, (_, i) => ({
    time: 1_700_000_000_000 + i * 60_000,
    open: 100 + i / 7,
    high: 101 + i / 7,
    low: 99 + i / 7,
    close: 100.5 + i / 7,
    volume: i * 3,
  }));

/** Seals a hand-made MessagePack body as a raw value: header, length and CRC-32. */
function sealRaw(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.byteLength);
  out.set([0x50, 0x54, 2, 0]);
  out.set(body, 12);
  const view = new DataView(out.buffer);
  view.setUint32(4, body.byteLength, true);
  view.setUint32(8, crc32(body), true);
  return out;
}

/** ext 32 of type 0x05 around `data`. */
function tableExt(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(6 + data.byteLength);
  out[0] = 0xc9;
  new DataView(out.buffer).setUint32(1, data.byteLength);
  out[5] = ExtType.Table;
  out.set(data, 6);
  return out;
}

describe('Table extension (arrays of same-shaped number rows)', () => {
  it('writes 16+ rows with the same keys and number values as one Table, in far fewer bytes', () => {
    const rows = bars(1000);
    expect(topExtType(rows)).toBe(ExtType.Table);
    const asJson = Buffer.byteLength(JSON.stringify(rows));
    // 6 keys once, then 8 bytes per value: under half the JSON size.
    // ext 16 header (4), fixarray of 6 fixstr keys (33), 6 x 1000 float 64 values.
    expect(bodyOf(rows).byteLength).toBe(4 + 33 + 1000 * 6 * 8);
    expect(bodyOf(rows).byteLength / asJson).toBeLessThan(0.5);
    expectIdentical(decode(encode(rows)), rows);
    expectIdentical(raw.decode(raw.encode(rows)), rows);
  });

  it('keeps every number exactly: -0, NaN, ±Infinity, integers past 2^32, subnormals', () => {
    const specials = [-0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 40) - 1, 5e-324, 0.1 + 0.2];
    const rows = Array.from({ length: 32 }, (_, i) => ({
      a: specials[i % specials.length]!,
      b: i,
    }));
    expect(topExtType(rows)).toBe(ExtType.Table);
    expectIdentical(decode(encode(rows)), rows);
  });

  it('reads the values wherever they fall: aligned (a Float64Array view) and at every unaligned offset', () => {
    // The key list's length moves the float data: key names of 1..8 characters put it at every
    // offset mod 8 inside the encoded bytes, so both readers (view and DataView) are exercised.
    const offsets = new Set<number>();
    for (let len = 1; len <= 8; len++) {
      const key = 'k'.repeat(len);
      const rows = Array.from({ length: 40 }, (_, i) => ({ [key]: i * 1.25 - 7, t: -i / 3 }));
      const bytes = raw.encode(rows);
      // header 12, ext 16 header 4 (under 64 KiB), fixarray 1, fixstr key 1 + len, fixstr "t" 2
      offsets.add((bytes.byteOffset + 12 + 4 + 1 + 1 + len + 2) % 8);
      expectIdentical(raw.decode(bytes), rows);
      expectIdentical(decode(encode(rows)), rows);
      // decoded from a copy that starts at every byte offset of a larger buffer too
      for (let shift = 1; shift < 8; shift++) {
        const moved = new Uint8Array(bytes.byteLength + shift).subarray(shift);
        moved.set(bytes);
        expectIdentical(raw.decode(moved), rows);
      }
    }
    expect(offsets.size).toBe(8);
  });

  it('keeps key order, including integer-like keys (which JavaScript lists first)', () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({ z: i, 10: -i, a: i / 2, é: 1, '': 2 }));
    expect(topExtType(rows)).toBe(ExtType.Table);
    const back = decode(encode(rows)) as Record<string, number>[];
    expectIdentical(back, rows);
    expect(Object.keys(back[0]!)).toEqual(['10', 'z', 'a', 'é', '']);
  });

  it('falls back to plain MessagePack maps whenever the rows do not all qualify, and still round-trips', () => {
    const base = bars(40);
    const cases: [string, unknown[]][] = [
      ['fewer than 16 rows', bars(TABLE_MIN_ROWS - 1)],
      ['a string value', base.map((r, i) => (i === 30 ? { ...r, volume: 'n/a' } : r))],
      ['a missing key', base.map((r, i) => (i === 39 ? { time: r.time } : r))],
      ['an extra key', base.map((r, i) => (i === 20 ? { ...r, extra: 1 } : r))],
      ['another key order', base.map((r, i) => (i === 5 ? { open: r.open, ...r } : r))],
      ['a bigint value', base.map((r, i) => (i === 7 ? { ...r, volume: 7n } : r))],
      ['a null row', base.map((r, i) => (i === 1 ? null : r))],
      ['a nested object', base.map((r, i) => (i === 2 ? { ...r, open: { px: 1 } } : r))],
      ['a Date row', base.map((r, i) => (i === 3 ? new Date(0) : r))],
      [
        'a null-prototype row',
        base.map((r, i) => (i === 4 ? Object.assign(Object.create(null) as object, r) : r)),
      ],
      ['rows of no keys', Array.from({ length: 20 }, () => ({}))],
    ];
    for (const [what, rows] of cases) {
      expect(topExtType(rows), what).toBeUndefined();
      expect(decode(encode(rows)), what).toStrictEqual(
        rows.map((r) =>
          r !== null && typeof r === 'object' && Object.getPrototypeOf(r) === null ? { ...r } : r,
        ),
      );
    }
  });

  it('never reads a key a row does not list as its own enumerable key (a row that fails the key check is written as a map)', async () => {
    // Row 7 hides "b" behind a non-enumerable getter that throws; row 9 is a Proxy that throws on any
    // property it does not have. Neither lists "b", so neither getter may run: the array falls back.
    const build = (n: number): unknown[] =>
      Array.from({ length: n }, (_, i) => {
        if (i === 7) {
          const row = { a: 7 };
          Object.defineProperty(row, 'b', {
            enumerable: false,
            get: () => {
              throw new Error('read the non-enumerable "b"');
            },
          });
          return row;
        }
        if (i === 9) {
          return new Proxy(
            { a: 9, c: 1 },
            {
              get: (target, key) => {
                if (!(key in target)) throw new Error(`read the missing ${String(key)}`);
                return Reflect.get(target, key) as unknown;
              },
            },
          );
        }
        return { a: i, b: -i };
      });
    const expected = (n: number): unknown[] =>
      Array.from({ length: n }, (_, i) =>
        i === 7 ? { a: 7 } : i === 9 ? { a: 9, c: 1 } : { a: i, b: -i },
      );
    // 20 rows take the one-shot path; 300 make encodeAsync slice them (the same row check, in steps)
    for (const n of [20, 300]) {
      const bytes = raw.encode(build(n));
      expect(bytes[12], `${n} rows: array 16, not a Table`).toBe(0xdc);
      expect(raw.decode(bytes)).toStrictEqual(expected(n));
      expect(sameBytes(await raw.encodeAsync(build(n)), bytes)).toBe(true);
    }
  });

  it('does not take an enumerable property of Object.prototype for a row key (rows own none of it)', async () => {
    const proto = Object.prototype as Record<string, unknown>;
    const rows = (n: number): Record<string, number>[] =>
      Array.from({ length: n }, (_, i) => ({ a: i, b: -i }));
    // row 0 owns "x", the others only inherit it (for...in lists it after their own keys)
    const firstOwns = (n: number): Record<string, number>[] =>
      rows(n).map((r, i) => (i === 0 ? { ...r, x: 1 } : r));
    // Object.prototype is clean when filling starts; a getter of row 1 makes "x" enumerable on it
    const addedMidway = (n: number): Record<string, number>[] =>
      firstOwns(n).map((r, i) =>
        i === 1
          ? Object.defineProperty({ a: 1, b: -1, x: 1 }, 'b', {
              enumerable: true,
              get: () => {
                proto.x = 5;
                return -1;
              },
            })
          : r,
      );
    const cases: [string, (n: number) => Record<string, number>[]][] = [
      ['every row inherits "x"', rows],
      ['row 0 owns "x"', firstOwns],
      ['"x" added while filling', addedMidway],
    ];
    for (const [what, make] of cases) {
      for (const n of [20, 300]) {
        let bytes: Uint8Array;
        let viaAsync: Uint8Array;
        if (make !== addedMidway) proto.x = 5;
        try {
          bytes = raw.encode(make(n));
          if (make === addedMidway) delete proto.x;
          viaAsync = await raw.encodeAsync(make(n));
        } finally {
          delete proto.x;
        }
        const want = make(n).map((r) => ({ ...r }));
        delete proto.x; // the getter of row 1 ran again above
        expect(bytes[12], `${what}, ${n} rows: array 16, not a Table`).toBe(0xdc);
        expect(raw.decode(bytes), what).toStrictEqual(want);
        expect(sameBytes(viaAsync, bytes), what).toBe(true);
      }
    }
  });

  it('decodes rows as plain objects: Object.prototype, own enumerable writable data properties in key order', () => {
    const rows = Array.from({ length: 20 }, (_, i) => ({ b: i, a: i / 2, '7': -i }));
    for (const bytes of [encode(rows), raw.encode(rows)]) {
      const back = decode(bytes) as Record<string, number>[];
      expect(back).toEqual(rows);
      for (const row of back) {
        expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
        expect(row.constructor).toBe(Object);
        expect(Object.keys(row)).toEqual(['7', 'b', 'a']);
        for (const key of ['7', 'b', 'a'])
          expect(Object.getOwnPropertyDescriptor(row, key)).toEqual({
            value: row[key],
            writable: true,
            enumerable: true,
            configurable: true,
          });
      }
    }
  });

  it('defines a row key as an own property without calling a setter installed on Object.prototype for it', () => {
    const key = 'ptTableSetterProbe'; // used by no other test, so no row builder for it is cached yet
    const rows = Array.from({ length: 20 }, (_, i) => ({ [key]: i, x: 1 }));
    const bytes = raw.encode(rows);
    const seen: unknown[] = [];
    Object.defineProperty(Object.prototype, key, {
      configurable: true,
      set(value: unknown) {
        seen.push(value);
      },
      get() {
        return 'inherited';
      },
    });
    try {
      const back = decode(bytes) as Record<string, unknown>[];
      expect(seen).toEqual([]);
      expect(back.map((r) => Object.getOwnPropertyDescriptor(r, key)?.value)).toEqual(
        rows.map((r) => r[key]),
      );
    } finally {
      delete (Object.prototype as Record<string, unknown>)[key];
    }
  });

  it('applies inside nested values too (a map of symbol -> bars)', () => {
    const value = { AAPL: bars(50), MSFT: bars(17), note: 'x', small: bars(3) };
    const back = decode(encode(value)) as typeof value;
    expect(back).toStrictEqual(value);
    // The two tables are much smaller than the same rows as maps would be.
    const asMaps = Buffer.byteLength(JSON.stringify(value));
    expect(bodyOf(value).byteLength).toBeLessThan(asMaps / 2);
  });

  it('property: any array of same-shaped number rows round-trips through every encoder and decoder', async () => {
    const keysArb = fc.uniqueArray(
      fc.string({ minLength: 0, maxLength: 6 }).filter((k) => k !== '__proto__'),
      { minLength: 1, maxLength: 8 },
    );
    await fc.assert(
      fc.asyncProperty(
        keysArb.chain((keys) =>
          fc.array(fc.tuple(...keys.map(() => fc.double())), { maxLength: 60 }).map((tuples) =>
            tuples.map((vals) => {
              const row: Record<string, number> = {};
              keys.forEach((k, j) => (row[k] = vals[j]!));
              return row;
            }),
          ),
        ),
        async (rows) => {
          const bytes = encode(rows);
          expectIdentical(decode(bytes), rows);
          expect(sameBytes(msgpackOf(await encodeAsync(rows)), msgpackOf(bytes))).toBe(true);
          expectIdentical(await decodeAsync(bytes), rows);
          expectIdentical(await decodeStream(Readable.from([bytes])), rows);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the sliced and streaming encoders write the same MessagePack as encode for large tables, and fall back the same way', async () => {
    const big = bars(20_000);
    const irregular = big.map((r, i) => (i === 15_000 ? { ...r, volume: 'halt' } : r));
    for (const value of [big, irregular, { nested: { rows: big } }]) {
      for (const codec of [createCodec(), raw]) {
        const bytes = codec.encode(value);
        const viaAsync = await codec.encodeAsync(value);
        expect(sameBytes(msgpackOf(viaAsync), msgpackOf(bytes))).toBe(true);
        const chunks: Buffer[] = [];
        for await (const c of codec.encodeStream(value)) chunks.push(c as Buffer);
        expect(sameBytes(Buffer.concat(chunks), viaAsync)).toBe(true);
        expect(await codec.decodeAsync(bytes)).toStrictEqual(value);
        expect(codec.decode(bytes)).toStrictEqual(value);
      }
    }
  });

  it('rejects a malformed Table with SerializeError naming the fault, never a wrong value', () => {
    const keyList = (keys: string[]): number[] => {
      const out = [0x90 | keys.length];
      for (const k of keys) out.push(0xa0 | k.length, ...Buffer.from(k));
      return out;
    };
    const values = (n: number): number[] => [...Buffer.alloc(8 * n, 1)];
    const bad: [string, number[], RegExp][] = [
      ['repeated key', [...keyList(['a', 'a']), ...values(2)], /repeated key/],
      ['__proto__ key', [...keyList(['__proto__']), ...values(1)], /invalid or repeated key/],
      ['ragged values', [...keyList(['a', 'b']), ...values(3)], /whole number/],
      ['no keys', [0x90], /no keys/],
      ['key list is not an array', [0xa1, 0x61, ...values(1)], /array of keys/],
      ['key is not a string', [0x91, 0x01, ...values(1)], /not a string/],
      ['key list cut short', [0x92, 0xa1, 0x61], /ends inside/],
      ['key is not UTF-8', [0x91, 0xa1, 0xff, ...values(1)], /UTF-8/],
    ];
    for (const [what, data, message] of bad) {
      const bytes = sealRaw(tableExt(Uint8Array.from(data)));
      let caught: unknown;
      try {
        decode(bytes);
      } catch (e) {
        caught = e;
      }
      expect(caught, what).toBeInstanceOf(SerializeError);
      expect((caught as SerializeError).code, what).toBe('E_SERIALIZE_CORRUPT');
      expect((caught as Error).message, what).toMatch(message);
    }
  });

  it('a valid hand-made Table decodes to its rows (another writer can produce it)', () => {
    const data = Buffer.alloc(1 + 2 + 2 + 2 * 2 * 8);
    data.set([0x92, 0xa1, 0x78, 0xa1, 0x79]);
    [1.5, 2.5, -3, 4].forEach((v, i) => data.writeDoubleLE(v, 5 + i * 8));
    expect(decode(sealRaw(tableExt(data)))).toStrictEqual([
      { x: 1.5, y: -3 },
      { x: 2.5, y: 4 },
    ]);
  });

  it('writes and reads tables where code generation is disallowed (the generic row filler and builder)', () => {
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const script = `
      import { createCodec } from ${JSON.stringify(dist)};
      const { decode, encode } = createCodec({ thresholdBytes: Infinity });
      const rows = Array.from({ length: 20 }, (_, i) => ({ t: i, px: i === 3 ? -0 : i / 4, 10: i }));
      const bytes = encode(rows);
      // raw body: ext 16 header (0xc8, u16 length, type) right after the 12-byte header
      const table = bytes[12] === 0xc8 && bytes[15] === 0x05;
      const extra = rows.map((r, i) => (i === 9 ? { ...r, extra: 1 } : r));
      const fallback = encode(extra)[12] !== 0xc8;
      const moved = new Uint8Array(bytes.byteLength + 3).subarray(3);
      moved.set(bytes);
      const back = decode(bytes);
      const back2 = decode(moved);
      const same = JSON.stringify(back2) === JSON.stringify(back) && back.length === 20 && back.every((r, i) =>
        JSON.stringify(Object.keys(r)) === JSON.stringify(Object.keys(rows[i])) &&
        Object.keys(r).every((k) => Object.is(r[k], rows[i][k])));
      console.log(table && fallback && same ? 'same' : 'different ' + [table, fallback, same]);
    `;
    const r = spawnSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('same');
  });
});
