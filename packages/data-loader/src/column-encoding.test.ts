import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerializeError, createCodec, encodedHeader } from '@peaktrade/serialize';
import { afterAll, describe, expect, it } from 'vitest';
import { barsFor } from '../test/fault-server.js';
import { thrown } from '../test/thrown.js';
import { encodeColumn, type DeltaColumn } from './sources/column-encoding.js';
import { assembleColumnar } from './sources/columnar.js';
import {
  DataValidationError,
  LoaderOptionError,
  OHLCV_FIELDS,
  decodeColumnar,
  encodeColumnar,
  readColumnarFile,
  writeColumnarFile,
  type OhlcvColumns,
} from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'pt-colenc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const codec = createCodec({ thresholdBytes: Infinity });

/** True when `a` and `b` hold the same float 64 bit patterns (so -0 differs from 0). */
function sameBits(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  const x = new BigUint64Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const y = new BigUint64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return x.every((v, i) => v === y[i]);
}

function expectSameColumns(back: OhlcvColumns, cols: OhlcvColumns): void {
  for (const f of OHLCV_FIELDS) {
    expect(back[f]).toBeInstanceOf(Float64Array);
    expect(sameBits(back[f], cols[f]), f).toBe(true);
  }
}

/** A layout-3 payload holding `values` as the stored columns, with a header that matches them. */
function layout3(values: Record<string, unknown>, length: number): Uint8Array {
  const frames = OHLCV_FIELDS.map((f) => codec.encode(values[f]));
  return assembleColumnar(codec, frames, { version: 3, symbol: null, length });
}

describe('columnar layout 3: integer-delta columns', () => {
  it('stores whole-number and fixed-decimal columns as differences in the narrowest width', () => {
    const time = Float64Array.from({ length: 100 }, (_, i) => 1_700_000_000_000 + i * 60_000);
    expect(encodeColumn(time)).toEqual({
      encoding: 'delta',
      scale: 1,
      first: 1_700_000_000_000,
      step: 60_000,
    });
    const widths: [number[], unknown][] = [
      [[5, 132, 4], Int8Array], // +127, -128
      [[5, 133, 5], Int16Array], // +128
      [[0, 32767, -1], Int16Array], // +32767, -32768
      [[0, 32768, 0], Int32Array],
      [[0, -32769, 0], Int32Array],
      [[0, 2 ** 31 - 1, -1], Int32Array], // +2^31-1, -2^31
    ];
    for (const [values, Width] of widths) {
      const stored = encodeColumn(Float64Array.from(values)) as DeltaColumn;
      expect(stored.deltas, String(values)).toBeInstanceOf(Width);
      expect(stored.scale).toBe(1);
    }
    // one decimal place, two, eight
    expect((encodeColumn(Float64Array.from([0.5, 1.5, 0.1])) as DeltaColumn).scale).toBe(10);
    const cents = encodeColumn(Float64Array.from([101.23, 101.25, 100.99])) as DeltaColumn;
    expect(cents).toMatchObject({ scale: 100, first: 10123 });
    expect([...cents.deltas!]).toEqual([2, -26]);
    expect((encodeColumn(Float64Array.from([1e-8, 3e-8, 0.12345678])) as DeltaColumn).scale).toBe(
      1e8,
    );
  });

  it('keeps float 64 values for every column the differences cannot give back bit for bit', () => {
    const plain = [
      [1.5, 0.123456789], // nine decimal places
      [0.1 + 0.2, 1], // 0.30000000000000004
      [1, -0, 2], // -0 would come back as +0
      [1e300, 1],
      [2 ** 53, 1], // past the safe integers
      [0, 2 ** 31], // a difference over 32 bits
      [0, -(2 ** 31) - 1],
      [Math.PI, Math.E],
      [1, Number.NaN],
      [1, Number.POSITIVE_INFINITY],
      [42], // a single value
      [],
    ];
    for (const values of plain) {
      const col = Float64Array.from(values);
      expect(encodeColumn(col), String(values)).toBe(col);
    }
  });

  it('round-trips every value bit for bit, through bytes and through files read whole or value by value', async () => {
    let seed = 12345;
    const rand = (): number => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const scales = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
    const spans = [100, 30_000, 3e9];
    const column = (n: number): Float64Array => {
      const scale = scales[Math.floor(rand() * scales.length)]!;
      const span = spans[Math.floor(rand() * spans.length)]!;
      let k = Math.round((rand() - 0.5) * 1e9);
      const col = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        col[i] = k / scale;
        k += Math.round((rand() - 0.5) * span);
      }
      if (rand() < 0.2 && n > 0) col[Math.floor(rand() * n)] = rand() * 1000; // full precision
      return col;
    };
    for (let trial = 0; trial < 150; trial++) {
      const n = Math.floor(rand() * 300);
      const t0 = 1_600_000_000_000 + Math.floor(rand() * 1e9);
      const gaps = rand() < 0.5;
      let t = t0;
      const cols: OhlcvColumns = {
        time: Float64Array.from({ length: n }, () => (t += gaps ? 1 + Math.floor(rand() * 5) : 1)),
        open: column(n),
        high: column(n),
        low: column(n),
        close: column(n),
        volume: column(n),
      };
      expectSameColumns(decodeColumnar('R', encodeColumnar(cols)), cols);
      // and compressed as the caller asks
      expectSameColumns(
        decodeColumnar('R', encodeColumnar(cols, { serialize: { level: 3 } })),
        cols,
      );
    }
    // a file over 1 MiB is read value by value: 100k bars with every column stored as deltas
    const big = barsFor('BIG', 100_000);
    const cols = { ...big, high: big.close.slice(), low: big.open.slice() };
    const path = join(dir, 'BIG.ptc');
    await writeColumnarFile(path, cols);
    expect(statSync(path).size).toBeGreaterThan(1024 * 1024);
    expectSameColumns(await readColumnarFile(path), cols);
    // a file of 2k bars is read whole
    const small = barsFor('SMALL', 2000);
    await writeColumnarFile(path, small);
    expectSameColumns(await readColumnarFile(path), small);
  });

  it('writes layout 2 with encoding "plain", layout 3 by default, and refuses any other encoding by name', () => {
    const cols = barsFor('P', 50);
    const versionOf = (bytes: Uint8Array): unknown =>
      (codec.decode(bytes.subarray(0, encodedHeader(bytes).byteLength)) as { version: unknown })
        .version;
    expect(versionOf(encodeColumnar(cols))).toBe(3);
    expect(versionOf(encodeColumnar(cols, { encoding: 'plain' }))).toBe(2);
    const error = thrown(() =>
      encodeColumnar(cols, { encoding: 'zip' as unknown as 'plain' }),
    ) as LoaderOptionError;
    expect(error).toBeInstanceOf(LoaderOptionError);
    expect(error.option).toBe('encoding');
  });

  it('refuses malformed delta columns with DataValidationError naming the field', () => {
    const n = 4;
    const good = barsFor('M', n);
    const base = { ...good } as Record<string, unknown>;
    const cases: [unknown, RegExp][] = [
      [{ encoding: 'zigzag', scale: 1, first: 1, step: 1 }, /Float64Array or a delta-encoded/],
      [new Float32Array(n), /Float64Array or a delta-encoded/],
      [[1, 2, 3, 4], /Float64Array or a delta-encoded/],
      [{ encoding: 'delta', scale: 0, first: 1, step: 1 }, /scale must be/],
      [{ encoding: 'delta', scale: Number.NaN, first: 1, step: 1 }, /scale must be/],
      [{ encoding: 'delta', scale: '100', first: 1, step: 1 }, /scale must be/],
      [{ encoding: 'delta', scale: 100, first: 1.5, step: 1 }, /first must be a safe integer/],
      [{ encoding: 'delta', scale: 100, first: 2 ** 53, step: 1 }, /first must be a safe integer/],
      [{ encoding: 'delta', scale: 100, first: 1 }, /needs deltas or an integer step/],
      [{ encoding: 'delta', scale: 100, first: 1, step: 0.5 }, /needs deltas or an integer step/],
      [
        { encoding: 'delta', scale: 100, first: 1, step: 1, deltas: new Int8Array(n - 1) },
        /both step and deltas/,
      ],
      [
        { encoding: 'delta', scale: 100, first: 1, deltas: new Float64Array(n - 1) },
        /Int8Array, Int16Array or Int32Array/,
      ],
      [
        { encoding: 'delta', scale: 100, first: 1, deltas: new Int16Array(n) },
        /length mismatch: 5 values where the header says 4/,
      ],
    ];
    for (const [stored, message] of cases) {
      const error = thrown(() =>
        decodeColumnar('M', layout3({ ...base, volume: stored }, n)),
      ) as DataValidationError;
      expect(error, String(message)).toBeInstanceOf(DataValidationError);
      expect(error.message).toMatch(message);
      expect(error.field).toBe('volume');
    }
    // the same columns stored well are read
    const volume = { encoding: 'delta', scale: 1, first: 7, deltas: Int8Array.of(1, -2, 3) };
    expect([...decodeColumnar('M', layout3({ ...base, volume }, n)).volume]).toEqual([7, 8, 6, 9]);
    // a step column of 2^40 values is a few bytes on disk: refused by maxBytes, not allocated
    const huge = 2 ** 40;
    const bomb = layout3(
      {
        ...Object.fromEntries(
          OHLCV_FIELDS.map((f) => [f, { encoding: 'delta', scale: 1, first: 1, step: 1 }]),
        ),
      },
      huge,
    );
    const tooLarge = thrown(() => decodeColumnar('B', bomb)) as SerializeError;
    expect(tooLarge).toBeInstanceOf(SerializeError);
    expect(tooLarge.code).toBe('E_SERIALIZE_TOO_LARGE');
    expect(tooLarge.message).toMatch(
      /delta column "time" of B expands to 8796093022208 bytes, over maxBytes 536870912/,
    );
    // and by a smaller maxBytes of the caller's: 100 values are 800 bytes
    const hundred = layout3(
      {
        ...Object.fromEntries(
          OHLCV_FIELDS.map((f) => [f, { encoding: 'delta', scale: 1, first: 1, step: 1 }]),
        ),
      },
      100,
    );
    expect(decodeColumnar('B', hundred).close).toHaveLength(100);
    expect(thrown(() => decodeColumnar('B', hundred, { maxBytes: 799 }))).toBeInstanceOf(
      SerializeError,
    );
    // no bars: a delta column has nothing to describe
    const empty = { ...barsFor('E', 0) } as Record<string, unknown>;
    const error = thrown(() =>
      decodeColumnar(
        'E',
        layout3({ ...empty, open: { encoding: 'delta', scale: 1, first: 0, step: 1 } }, 0),
      ),
    ) as DataValidationError;
    expect(error.message).toMatch(/delta column in a file of no bars/);
  });

  it('still checks time order where the stored form does not prove it', () => {
    const n = 5;
    const base = { ...barsFor('T', n) } as Record<string, unknown>;
    const unsorted: [unknown, number][] = [
      [{ encoding: 'delta', scale: 1, first: 10, step: 0 }, 1],
      [{ encoding: 'delta', scale: 1, first: 10, step: -3 }, 1],
      [{ encoding: 'delta', scale: 1, first: 10, deltas: Int8Array.of(1, 1, 0, 1) }, 3],
      [{ encoding: 'delta', scale: 1, first: 10, deltas: Int32Array.of(5, -1, 2, 2) }, 2],
      // a positive step between integers too large to stay distinct once divided by the scale
      [{ encoding: 'delta', scale: 1e8, first: 2 ** 53 - 8, step: 1 }, 1],
    ];
    for (const [time, row] of unsorted) {
      const error = thrown(() => decodeColumnar('T', layout3({ ...base, time }, n)));
      expect(error).toBeInstanceOf(DataValidationError);
      expect((error as DataValidationError).row, JSON.stringify(time)).toBe(row);
      expect((error as DataValidationError).message).toMatch(/unsorted time/);
    }
    // prices are never NaN or infinite in a delta column; the scan of float 64 columns still runs
    const withNaN = { ...base, close: Float64Array.of(1, 2, Number.NaN, 4, 5) };
    const error = thrown(() => decodeColumnar('T', layout3(withNaN, n))) as DataValidationError;
    expect(error.message).toMatch(/non-numeric value NaN/);
    expect([error.field, error.row]).toEqual(['close', 2]);
  });
});
