/**
 * The Table extension (type 0x05): an array of plain objects that all have the same keys, in the same
 * order, and only number values (OHLCV bars, fills, quotes...) is written once as its key list plus one
 * little-endian float 64 column per key, instead of repeating every key in every row.
 *
 * Ext data layout: a standard MessagePack array of the `m` key strings, then `m × n` float 64 values
 * (little-endian), column by column: all `n` values of the first key, then of the second, and so on.
 * `n` is implied by the length. A float 64 holds every JavaScript number exactly (`-0`, NaN, ±Infinity and
 * integers included), so decoding gives back equal rows with the same key order.
 * @module
 */
import { CorruptError } from './errors.js';

/** Arrays shorter than this are written element by element (the table saves little on a few rows). */
export const TABLE_MIN_ROWS = 16;
/** Rows with more keys than this are written element by element. */
export const TABLE_MAX_KEYS = 256;

/** False once `new Function` failed (code generation from strings disallowed): generic loops from then on. */
let codeGeneration = true;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * The key list of `first` when it can open a table: a plain object (prototype `Object.prototype`) with
 * 1..{@link TABLE_MAX_KEYS} own keys, all number values, and no `"__proto__"` key. Otherwise undefined.
 * A key that is not well-formed UTF-16 also gives undefined: the rows are then written one by one,
 * where the encoder refuses that key and says where it is (every row has the same keys as `first`).
 */
export function tableKeysOf(first: unknown): string[] | undefined {
  if (first === null || typeof first !== 'object' || Array.isArray(first)) return undefined;
  if (Object.getPrototypeOf(first) !== Object.prototype) return undefined;
  const row = first as Record<string, unknown>;
  const keys: string[] = [];
  for (const key in row) {
    if (
      typeof row[key] !== 'number' ||
      key === '__proto__' ||
      keys.length === TABLE_MAX_KEYS ||
      !key.isWellFormed()
    )
      return undefined;
    keys.push(key);
  }
  return keys.length > 0 ? keys : undefined;
}

type RowFiller = (
  arr: readonly unknown[],
  columns: Float64Array,
  from: number,
  to: number,
) => boolean;

/** The loop every filler runs, with the value reads left generic (keyed loads in key order). */
function genericFiller(keys: readonly string[]): RowFiller {
  const m = keys.length;
  return (arr, columns, from, to) => {
    const n = arr.length;
    for (let i = from; i < to; i++) {
      const row = arr[i];
      if (
        row === null ||
        typeof row !== 'object' ||
        Object.getPrototypeOf(row) !== Object.prototype
      )
        return false;
      const obj = row as Record<string, unknown>;
      let j = 0;
      for (const key in obj) {
        const v = obj[key];
        if (j === m || key !== keys[j] || typeof v !== 'number') return false;
        columns[j * n + i] = v;
        j++;
      }
      if (j !== m) return false;
    }
    return true;
  };
}

/**
 * A filler for `keys` whose value reads are named property loads (`o["open"]`), so V8 serves them from
 * one inline cache per key instead of a keyed lookup per field; the key check stays a `for...in` pass
 * that compares each own key with the expected one. About 2x faster than {@link genericFiller} on 10k
 * six-key rows. Undefined where code generation is disallowed.
 *
 * The key check runs before the loads: a named load of a key the row does not list (a non-enumerable
 * own getter, a Proxy's `get` trap, an accessor on Object.prototype) may throw or have effects, and the
 * row is then written element by element, where only its enumerable keys are read. (Loads first was
 * no faster: 311-331 µs against 312-339 µs per 10k six-key rows, interleaved, on a 2-vCPU AMD
 * EPYC (family 25, model 1) VM, Node 20.20.2, 2026-11-27.)
 */
function compiledFiller(keys: readonly string[]): RowFiller | undefined {
  const reads = keys
    .map(
      (k, j) =>
        `const v${j} = o[${JSON.stringify(k)}]; if (typeof v${j} !== 'number') return false; c[${j} * n + i] = v${j};`,
    )
    .join('\n');
  const source = `return function fill(arr, c, from, to) {
  const n = arr.length;
  for (let i = from; i < to; i++) {
    const o = arr[i];
    if (o === null || typeof o !== 'object' || getProto(o) !== OBJ) return false;
    let j = 0;
    for (const key in o) { if (j === M || key !== keys[j]) return false; j++; }
    if (j !== M) return false;
    ${reads}
  }
  return true;
};`;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- keys are JSON-quoted literals
    const make = new Function('keys', 'M', 'getProto', 'OBJ', source) as (
      keys: readonly string[],
      m: number,
      getProto: (o: object) => unknown,
      obj: object,
    ) => RowFiller;
    return make(keys.slice(), keys.length, Object.getPrototypeOf, Object.prototype);
  } catch {
    codeGeneration = false; // e.g. --disallow-code-generation-from-strings: use the generic filler
    return undefined;
  }
}

const fillers = new Map<string, RowFiller>();

/** The function cached under `id`, made on first use; a cache past 256 key lists starts over. */
function memoByKeys<F>(cache: Map<string, F>, id: string, make: () => F): F {
  let fn = cache.get(id);
  if (fn === undefined) {
    fn = make();
    if (cache.size >= 256) cache.clear();
    cache.set(id, fn);
  }
  return fn;
}

/**
 * True when Object.prototype has an enumerable property. `for...in` over a row then lists it after the
 * row's own keys, so the fillers' key check would take it for one of them (and the decoded rows would own
 * it), while the element-by-element path writes own keys only.
 */
function prototypeEnumerates(): boolean {
  return Object.keys(Object.prototype).length > 0;
}

/**
 * Checks rows `from..to-1` of `arr` and writes their values into the column-major `columns` (`arr.length`
 * rows per column) in the same pass. Returns false as soon as a row is not a plain object with exactly
 * `keys` as its own enumerable keys, in order, all numbers (`columns` is then partly written and must be
 * dropped), and whenever Object.prototype has enumerable properties (see {@link prototypeEnumerates}).
 */
export function fillRows(
  arr: readonly unknown[],
  keys: readonly string[],
  columns: Float64Array,
  from: number,
  to: number,
): boolean {
  if (prototypeEnumerates()) return false;
  const filler = memoByKeys(
    fillers,
    JSON.stringify(keys),
    () => (codeGeneration && compiledFiller(keys)) || genericFiller(keys),
  );
  // checked again after: a getter read while filling may have added one
  return filler(arr, columns, from, to) && !prototypeEnumerates();
}

/** The key list and the filled columns when all of `arr` can be written as one table, else undefined. */
export function tableOf(
  arr: readonly unknown[],
): { keys: string[]; columns: Float64Array } | undefined {
  if (arr.length < TABLE_MIN_ROWS) return undefined;
  const keys = tableKeysOf(arr[0]);
  if (keys === undefined) return undefined;
  const columns = new Float64Array(arr.length * keys.length);
  return fillRows(arr, keys, columns, 0, arr.length) ? { keys, columns } : undefined;
}

/** MessagePack bytes of an array of strings (fixarray/array 16/array 32 of fixstr/str 8/16/32). */
export function packKeyList(keys: readonly string[]): Uint8Array {
  const encoded = keys.map((k) => utf8.encode(k));
  let size = keys.length < 16 ? 1 : keys.length < 0x10000 ? 3 : 5;
  for (const e of encoded)
    size +=
      e.byteLength +
      (e.byteLength < 32 ? 1 : e.byteLength < 0x100 ? 2 : e.byteLength < 0x10000 ? 3 : 5);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let p = 0;
  if (keys.length < 16) out[p++] = 0x90 | keys.length;
  else if (keys.length < 0x10000) {
    out[p] = 0xdc;
    view.setUint16(p + 1, keys.length);
    p += 3;
  } else {
    out[p] = 0xdd;
    view.setUint32(p + 1, keys.length);
    p += 5;
  }
  for (const e of encoded) {
    const n = e.byteLength;
    if (n < 32) out[p++] = 0xa0 | n;
    else if (n < 0x100) {
      out[p] = 0xd9;
      out[p + 1] = n;
      p += 2;
    } else if (n < 0x10000) {
      out[p] = 0xda;
      view.setUint16(p + 1, n);
      p += 3;
    } else {
      out[p] = 0xdb;
      view.setUint32(p + 1, n);
      p += 5;
    }
    out.set(e, p);
    p += n;
  }
  return out;
}

/** The key list and where the float data starts, parsed from the start of a Table extension's data. */
export function readKeyList(data: Uint8Array): { keys: string[]; offset: number } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const need = (p: number, n: number): void => {
    if (p + n > data.byteLength) throw new CorruptError('Table extension ends inside its key list');
  };
  need(0, 1);
  const t = data[0]!;
  let count: number;
  let p: number;
  if (t >= 0x90 && t <= 0x9f) [count, p] = [t & 0x0f, 1];
  else if (t === 0xdc) {
    need(0, 3);
    [count, p] = [view.getUint16(1), 3];
  } else if (t === 0xdd) {
    need(0, 5);
    [count, p] = [view.getUint32(1), 5];
  } else throw new CorruptError('Table extension does not start with an array of keys');
  if (count === 0) throw new CorruptError('Table extension has no keys');
  if (count > TABLE_MAX_KEYS)
    throw new CorruptError(`Table extension has ${count} keys, over ${TABLE_MAX_KEYS}`);
  const keys: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    need(p, 1);
    const s = data[p]!;
    let n: number;
    if (s >= 0xa0 && s <= 0xbf) [n, p] = [s & 0x1f, p + 1];
    else if (s === 0xd9) {
      need(p, 2);
      [n, p] = [data[p + 1]!, p + 2];
    } else if (s === 0xda) {
      need(p, 3);
      [n, p] = [view.getUint16(p + 1), p + 3];
    } else if (s === 0xdb) {
      need(p, 5);
      [n, p] = [view.getUint32(p + 1), p + 5];
    } else throw new CorruptError('Table extension key is not a string');
    need(p, n);
    let key: string;
    try {
      key = utf8Strict.decode(data.subarray(p, p + n));
    } catch (cause) {
      throw new CorruptError('Table extension key is not valid UTF-8', { cause });
    }
    p += n;
    if (key === '__proto__' || seen.has(key))
      throw new CorruptError(
        `Table extension has an invalid or repeated key ${JSON.stringify(key)}`,
      );
    seen.add(key);
    keys.push(key);
  }
  if ((data.byteLength - p) % (8 * count) !== 0) {
    throw new CorruptError(
      `Table extension holds ${data.byteLength - p} bytes of values, not a whole number of ${count}-column rows`,
    );
  }
  return { keys, offset: p };
}

/**
 * The float data after the key list: a Float64Array view when it is 8-byte aligned, otherwise a DataView
 * over the same bytes. Neither copies: an unaligned table is read value by value with `getFloat64`,
 * which costs less than copying it into a fresh aligned buffer first (a large copy to a fresh buffer
 * pays for the new pages, and glibc's memmove can be many times slower at some relative alignments).
 */
export function columnData(data: Uint8Array, offset: number): Float64Array | DataView {
  const start = data.byteOffset + offset;
  const bytes = data.byteLength - offset;
  if (start % 8 === 0) return new Float64Array(data.buffer, start, bytes / 8);
  return new DataView(data.buffer, start, bytes);
}

/** Number of float 64 values in what {@link columnData} returned. */
export function valueCount(columns: Float64Array | DataView): number {
  return columns instanceof Float64Array ? columns.length : columns.byteLength / 8;
}

type RowFactory = (
  columns: Float64Array | DataView,
  n: number,
  i: number,
) => Record<string, number>;

/** Row builders by key list and column kind: a compiled builder per key set beats keyed stores. */
const factories = new Map<string, RowFactory>();

function generic(keys: readonly string[]): RowFactory {
  return (columns, n, i) => {
    const row: Record<string, number> = {};
    if (columns instanceof Float64Array) {
      for (let j = 0; j < keys.length; j++) row[keys[j]!] = columns[j * n + i]!;
    } else {
      for (let j = 0; j < keys.length; j++)
        row[keys[j]!] = columns.getFloat64((j * n + i) * 8, true);
    }
    return row;
  };
}

/**
 * A compiled row builder for `keys`, or undefined where code generation is disallowed.
 *
 * Rows are made with `new` on a generated constructor whose `prototype` is `Object.prototype`, so
 * they are plain objects exactly as an object literal makes them (same prototype, `constructor`,
 * own enumerable data properties in key order). Not with an object literal: V8 tracks where a
 * literal's objects are allocated and, once they tend to survive a garbage collection (decoded
 * rows usually do: they are kept), allocates them in the old generation from then on ("pretenuring"),
 * which made building 10k rows take 6.7 ms instead of 0.12 ms (2-vCPU AMD EPYC VM, Node 20.20.2,
 * 2026-11-27). `new` has no such allocation site. A constructor assigns its fields, so a key for
 * which `Object.prototype` has an accessor (a setter someone installed) keeps the literal, which
 * defines own properties without calling it.
 */
function compiled(keys: readonly string[], aligned: boolean): RowFactory | undefined {
  try {
    const read = (j: number): string =>
      aligned ? `c[${j} * n + i]` : `c.getFloat64((${j} * n + i) * 8, true)`;
    if (keys.some(inheritedAccessor)) {
      const fields = keys.map((k, j) => `${JSON.stringify(k)}: ${read(j)}`).join(', ');
      // eslint-disable-next-line @typescript-eslint/no-implied-eval -- keys are JSON-quoted literals
      return new Function('c', 'n', 'i', `return { ${fields} };`) as RowFactory;
    }
    const assigns = keys.map((k, j) => `this[${JSON.stringify(k)}] = ${read(j)};`).join('\n');
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- keys are JSON-quoted literals
    const Row = new Function('c', 'n', 'i', assigns) as unknown as {
      new (c: Float64Array | DataView, n: number, i: number): Record<string, number>;
      prototype: object;
    };
    Row.prototype = Object.prototype;
    return (c, n, i) => new Row(c, n, i);
  } catch {
    codeGeneration = false; // e.g. --disallow-code-generation-from-strings: use the generic builder
    return undefined;
  }
}

/** True when `Object.prototype` (or its chain) has a getter or setter for `key`. */
function inheritedAccessor(key: string): boolean {
  for (
    let o: object | null = Object.prototype;
    o !== null;
    o = Object.getPrototypeOf(o) as object | null
  ) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    if (d !== undefined) return d.get !== undefined || d.set !== undefined;
  }
  return false;
}

/**
 * A function building row `i` from the column-major data. Keys are JSON-quoted into the source.
 * `aligned`: the columns come as a Float64Array (true) or a DataView (false), see {@link columnData}.
 */
export function rowFactory(keys: readonly string[], aligned: boolean): RowFactory {
  return memoByKeys(
    factories,
    (aligned ? 'a' : 'u') + JSON.stringify(keys),
    () => (codeGeneration && compiled(keys, aligned)) || generic(keys),
  );
}

/** Builds rows `from..to-1` into `out`. */
export function buildRows(
  make: RowFactory,
  columns: Float64Array | DataView,
  n: number,
  from: number,
  to: number,
  out: unknown[],
): void {
  for (let i = from; i < to; i++) out[i] = make(columns, n, i);
}

/** Decodes a whole Table extension's data into its rows. */
export function readTable(data: Uint8Array): unknown[] {
  const { keys, offset } = readKeyList(data);
  const columns = columnData(data, offset);
  const n = valueCount(columns) / keys.length;
  const rows = new Array<unknown>(n);
  buildRows(rowFactory(keys, columns instanceof Float64Array), columns, n, 0, n, rows);
  return rows;
}
