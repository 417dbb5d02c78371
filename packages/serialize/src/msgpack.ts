/**
 * The MessagePack layer: msgpackr configured for standard MessagePack (no records, no msgpackr-only
 * tags) plus this package's extension types. msgpackr registers extensions process-wide, so the encoder
 * side only matches two private box classes (never a built-in class that other msgpackr users encode), and
 * the decoder side claims only the extension numbers in {@link ExtType}.
 * @module
 */
import { Packr, Unpackr, addExtension } from 'msgpackr';
import { CorruptError, TruncatedError, UnsupportedTypeError } from './errors.js';
import { ExtType } from './format.js';
import { MalformedStringError, withStringLocation } from './strings.js';
import { packKeyList, readTable, tableOf } from './table.js';

/** Deepest nesting `encode` accepts; deeper input (or a cycle) throws `E_SERIALIZE_UNSUPPORTED_TYPE`. */
export const MAX_DEPTH = 512;

/** Stands for `-0`, which msgpackr would otherwise write as the integer 0. Written as float 64 `-0`. */
class NegZeroBox {}
const NEG_ZERO = new NegZeroBox();

/**
 * A value already turned into extension bytes: written as ext 8/16/32 with `type` and the data `bytes`
 * followed by `tail` (a second part, so a table's columns are not copied once more to be joined).
 */
class ExtBox {
  readonly type: number;
  readonly bytes: Uint8Array;
  readonly tail: Uint8Array | undefined;
  constructor(type: number, bytes: Uint8Array, tail?: Uint8Array) {
    this.type = type;
    this.bytes = bytes;
    this.tail = tail;
  }
}

/** Bytes of the ext 8/16/32 header msgpackr writes for `length` bytes of data. */
function extHeaderBytes(length: number): number {
  return length < 0x100 ? 3 : length < 0x10000 ? 4 : 6;
}

/** Writes the ext 8/16/32 header for `length` bytes of extension `type` at `pos`; returns its size. */
function writeExtHeader(
  target: Uint8Array,
  view: DataView,
  pos: number,
  length: number,
  type: number,
): number {
  const head = extHeaderBytes(length);
  if (head === 3) {
    target[pos] = 0xc7;
    target[pos + 1] = length;
  } else if (head === 4) {
    target[pos] = 0xc8;
    view.setUint16(pos + 1, length);
  } else {
    target[pos] = 0xc9;
    view.setUint32(pos + 1, length);
  }
  target[pos + head - 1] = type;
  return head;
}

/** The ext 8/16/32 header for `length` bytes of data of extension `type` (as msgpackr writes it). */
export function extHeader(length: number, type: number): Uint8Array {
  const out = new Uint8Array(extHeaderBytes(length));
  writeExtHeader(out, new DataView(out.buffer), 0, length, type);
  return out;
}

/** The empty marker extensions that open a Map or Set array. */
export const MAP_MARK_BOX: object = new ExtBox(ExtType.Map, new Uint8Array(0));
/** See {@link MAP_MARK_BOX}. */
export const SET_MARK_BOX: object = new ExtBox(ExtType.Set, new Uint8Array(0));

interface WriteTarget {
  target: Uint8Array;
  targetView: DataView;
  position: number;
}
type AllocateForWrite = (size: number) => WriteTarget;

/** Writes an ext header and the data; returns nothing so msgpackr does not append anything itself. */
function writeExt(box: ExtBox, allocateForWrite: AllocateForWrite): undefined {
  const n = box.bytes.byteLength + (box.tail?.byteLength ?? 0);
  const { target, targetView, position } = allocateForWrite(extHeaderBytes(n) + n);
  const head = writeExtHeader(target, targetView, position, n, box.type);
  target.set(box.bytes, position + head);
  if (box.tail !== undefined) target.set(box.tail, position + head + box.bytes.byteLength);
  return undefined;
}

function writeNegZero(_box: NegZeroBox, allocateForWrite: AllocateForWrite): undefined {
  const { target, targetView, position } = allocateForWrite(9);
  target[position] = 0xcb;
  targetView.setFloat64(position + 1, -0);
  return undefined;
}

// --- decoding -------------------------------------------------------------------------------------------

/**
 * Map and Set are written as a MessagePack array whose first element is an empty marker extension
 * (`[ext(Map), k0, v0, k1, v1, ...]`, `[ext(Set), m0, m1, ...]`). The marker readers return these sentinels
 * and raise {@link sawMarker}; only then does {@link restore} walk the decoded value to build the Map/Set.
 */
export const MAP_MARK: object = Object.freeze({ marker: 'Map' });
/** Sentinel returned by the Set marker extension reader. */
export const SET_MARK: object = Object.freeze({ marker: 'Set' });
let sawMarker = false;

function readMarker(mark: object): (data: Uint8Array) => object {
  return (data: Uint8Array) => {
    if (data.byteLength !== 0) throw new CorruptError('Map/Set marker extension must be empty');
    sawMarker = true;
    return mark;
  };
}

/** Replaces marker-led arrays by Map/Set, in place, throughout `value`. Throws CORRUPT on a stray marker. */
export function restore(value: unknown): unknown {
  if (value === MAP_MARK || value === SET_MARK) {
    throw new CorruptError('Map/Set marker outside the first element of an array');
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const first: unknown = value[0];
    if (first === MAP_MARK) {
      if (value.length % 2 !== 1) throw new CorruptError('Map array has a key without a value');
      const map = new Map<unknown, unknown>();
      for (let i = 1; i < value.length; i += 2) map.set(restore(value[i]), restore(value[i + 1]));
      return map;
    }
    if (first === SET_MARK) {
      const set = new Set<unknown>();
      for (let i = 1; i < value.length; i++) set.add(restore(value[i]));
      return set;
    }
    for (let i = 0; i < value.length; i++) value[i] = restore(value[i]);
    return value;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const obj = value as Record<string, unknown>;
    for (const key in obj) obj[key] = restore(obj[key]);
  }
  return value;
}

/** Builds the Map or Set of an already-restored marker-led array (the sliced decoder's containers). */
export function restoreContainer(items: unknown[]): unknown {
  const first = items[0];
  for (let i = 1; i < items.length; i++) {
    if (items[i] === MAP_MARK || items[i] === SET_MARK) {
      throw new CorruptError('Map/Set marker outside the first element of an array');
    }
  }
  if (first === MAP_MARK) {
    if (items.length % 2 !== 1) throw new CorruptError('Map array has a key without a value');
    const map = new Map<unknown, unknown>();
    for (let i = 1; i < items.length; i += 2) map.set(items[i], items[i + 1]);
    return map;
  }
  if (first === SET_MARK) return new Set(items.slice(1));
  return items;
}

function readBigInt(data: Uint8Array): bigint {
  if (data.byteLength === 0) throw new CorruptError('BigInt extension is empty');
  const hex = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
  let value = BigInt(`0x${hex}`);
  if ((data[0] ?? 0) & 0x80) value -= 1n << BigInt(data.byteLength * 8);
  return value;
}

/** A new ArrayBuffer of exactly `n` bytes, not zero-filled (every byte is written right after). */
export function uninitializedBuffer(n: number): ArrayBuffer {
  return Buffer.allocUnsafeSlow(n).buffer;
}

/**
 * Copies `data` into a fresh ArrayBuffer (so the typed array is aligned whatever the offset of `data`):
 * one memcpy, no per-element loop, and the result never aliases the input bytes.
 */
function copyAligned(data: Uint8Array, elementBytes: number, name: string): ArrayBuffer {
  if (data.byteLength % elementBytes !== 0) {
    throw new CorruptError(
      `${name} extension length ${data.byteLength} is not a multiple of ${elementBytes}`,
    );
  }
  const buffer = uninitializedBuffer(data.byteLength);
  new Uint8Array(buffer).set(data);
  return buffer;
}

export type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

const TYPED_ARRAYS: readonly (readonly [number, TypedArrayConstructor])[] = [
  [ExtType.Int8Array, Int8Array],
  [ExtType.Uint8Array, Uint8Array],
  [ExtType.Uint8ClampedArray, Uint8ClampedArray],
  [ExtType.Int16Array, Int16Array],
  [ExtType.Uint16Array, Uint16Array],
  [ExtType.Int32Array, Int32Array],
  [ExtType.Uint32Array, Uint32Array],
  [ExtType.Float32Array, Float32Array],
  [ExtType.Float64Array, Float64Array],
  [ExtType.BigInt64Array, BigInt64Array],
  [ExtType.BigUint64Array, BigUint64Array],
];

/** Constructor → ext type, for exact classes. Subclasses (Node `Buffer`) fall back to an instanceof scan. */
const TYPED_EXT = new Map<unknown, number>(TYPED_ARRAYS.map(([type, ctor]) => [ctor, type]));

function registerExtensions(): void {
  // Encoder side: private classes only, so other msgpackr users in the process are unaffected.
  addExtension({ Class: NegZeroBox, type: 0x7e, pack: writeNegZero } as never);
  addExtension({ Class: ExtBox, type: 0x7f, pack: writeExt } as never);
  // Decoder side: claim exactly our extension numbers (this also replaces the two placeholder numbers above,
  // which are never written, with readers that reject them).
  const reject = (): never => {
    throw new CorruptError('reserved extension type');
  };
  addExtension({ type: 0x7e, unpack: reject });
  addExtension({ type: 0x7f, unpack: reject });
  addExtension({ type: ExtType.Map, unpack: readMarker(MAP_MARK) });
  addExtension({ type: ExtType.Set, unpack: readMarker(SET_MARK) });
  addExtension({ type: ExtType.BigInt, unpack: readBigInt });
  addExtension({ type: ExtType.Table, unpack: readTable });
  addExtension({
    type: ExtType.ArrayBuffer,
    unpack: (d: Uint8Array) => copyAligned(d, 1, 'ArrayBuffer'),
  });
  for (const [type, Ctor] of TYPED_ARRAYS) {
    const size = Ctor.BYTES_PER_ELEMENT;
    addExtension({ type, unpack: (d: Uint8Array) => new Ctor(copyAligned(d, size, Ctor.name)) });
  }
}
registerExtensions();

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'bigint',
  copyBuffers: true,
  moreTypes: false,
});

// --- encoding: strings ----------------------------------------------------------------------------------
//
// MessagePack strings are UTF-8, which cannot hold a lone surrogate, so every string written must be
// well-formed UTF-16 (README "Strings and lone surrogates"). Checking each one with isWellFormed() costs a builtin call per
// string, and a scan of about 0.8 ns per code unit of a two-byte string: as much as writing it. So:
// - a short string (under LONG_STRING_UNITS) is checked where the walk meets it, and an object key
//   equal to one already checked at the same position of the previous object is not checked again;
// - a long string is written first: msgpackr writes those with native UTF-8, which puts U+FFFD
//   (EF BF BD) in place of each lone surrogate. No EF BF BD in the packed bytes proves every long
//   string well-formed (a search of a few µs per MiB); otherwise (a real U+FFFD, or those bytes
//   in binary data) each long string is checked with isWellFormed().

/**
 * Strings of at least this many UTF-16 code units are checked after packing: msgpackr writes them with
 * native UTF-8 (shorter ones in JavaScript, which marks a lone surrogate with other bytes).
 */
const LONG_STRING_UNITS = 64;
/** Long strings met while preparing the current value, for {@link verifyLongStrings}; then dropped. */
const longStrings: string[] = [];
/** Total code units of {@link longStrings}. */
let longUnits = 0;
/** The UTF-8 bytes of U+FFFD, the mark a lone surrogate leaves in a long string's bytes. */
const REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd]);

/** Positions (mod this) of recently checked object keys; a power of two. */
const KEY_SLOTS = 32;
/**
 * Short object keys found well-formed, by their position in their object (mod {@link KEY_SLOTS}): the
 * keys of same-shaped objects are the same strings, and comparing a key with its slot is cheaper than
 * checking it. Only ever holds well-formed strings, so a key equal to its slot is well-formed.
 */
const checkedKeys: string[] = new Array<string>(KEY_SLOTS).fill('');

/**
 * True when `s` can be written: it is short and well-formed, or it is long and recorded for
 * {@link verifyLongStrings}. False when it must be refused.
 */
function stringOk(s: string): boolean {
  if (s.length < LONG_STRING_UNITS || !longStringsMarked) return s.isWellFormed();
  longStrings.push(s);
  longUnits += s.length;
  return true;
}

/** Checks an object key that is not the one in its {@link checkedKeys} slot; remembers it if short. */
function checkKey(key: string, slot: number): void {
  if (!stringOk(key)) throw new MalformedStringError(key);
  if (key.length < LONG_STRING_UNITS) checkedKeys[slot] = key;
}

/**
 * Could `bytes` hold a lone surrogate written as U+FFFD? True when they contain EF BF BD, or too many
 * 0xEF bytes to look at each (then isWellFormed() on the strings is the cheaper answer).
 */
function mayHoldReplacement(bytes: Uint8Array, maxLeads: number): boolean {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let leads = 0;
  for (let p = buf.indexOf(0xef); p !== -1; p = buf.indexOf(0xef, p + 1)) {
    if ((buf[p + 1] === 0xbf && buf[p + 2] === 0xbd) || ++leads > maxLeads) return true;
  }
  return false;
}

/**
 * Throws {@link MalformedStringError} if a long string recorded while preparing is not well-formed.
 * `bytes` is the packed MessagePack that holds them. It is searched only when the long strings make up
 * a good part of it (at least a quarter of its length in code units), so a large binary payload with a
 * short text in it is not read through for the text's sake.
 */
function verifyLongStrings(bytes: Uint8Array): void {
  if (bytes.byteLength <= 4 * longUnits && !mayHoldReplacement(bytes, 16 + (longUnits >> 7)))
    return;
  for (const s of longStrings) if (!s.isWellFormed()) throw new MalformedStringError(s);
}

/**
 * Whether msgpackr marks a lone surrogate in a long string with U+FFFD, which {@link verifyLongStrings}
 * relies on. Checked once here on this msgpackr and Node; when not (a msgpackr that writes long strings
 * another way), every string is checked with isWellFormed() instead.
 */
const longStringsMarked = ((): boolean => {
  for (const n of [LONG_STRING_UNITS, 5000]) {
    for (const s of [
      `\ud800${'x'.repeat(n)}`,
      `${'é'.repeat(n)}\udc00é`,
      `€${'x'.repeat(n)}\udbff`,
    ]) {
      const b = packr.pack(s);
      if (Buffer.from(b.buffer, b.byteOffset, b.byteLength).indexOf(REPLACEMENT) === -1)
        return false;
    }
  }
  return true;
})();

// --- encoding: the prepare walk --------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const UINT64_END = 2n ** 64n;

function bigIntBytes(value: bigint): Uint8Array {
  // Smallest big-endian two's complement representation.
  let byteLength = 1;
  while (value < -(1n << BigInt(byteLength * 8 - 1)) || value >= 1n << BigInt(byteLength * 8 - 1))
    byteLength++;
  const unsigned = value < 0n ? value + (1n << BigInt(byteLength * 8)) : value;
  return Buffer.from(unsigned.toString(16).padStart(byteLength * 2, '0'), 'hex');
}

function typedExt(view: ArrayBufferView): number {
  const exact = TYPED_EXT.get(view.constructor);
  if (exact !== undefined) return exact;
  for (const [type, Ctor] of TYPED_ARRAYS) if (view instanceof Ctor) return type;
  throw new UnsupportedTypeError(
    `cannot encode a ${view.constructor.name}: only typed arrays are supported`,
  );
}

/**
 * Returns `value` itself when msgpackr can write it unchanged, otherwise a copy in which `-0`, large
 * BigInts, typed arrays, ArrayBuffers, Maps and Sets are replaced by boxes (copy-on-write: untouched
 * subtrees are shared, not copied). Rejects values that would not round-trip.
 */
export function prepare(value: unknown, depth: number, table = true): unknown {
  switch (typeof value) {
    case 'number':
      return value === 0 && 1 / value < 0 ? NEG_ZERO : value;
    case 'string':
      if (stringOk(value)) return value;
      throw new MalformedStringError(value);
    case 'boolean':
    case 'undefined':
      return value;
    case 'bigint':
      return value >= INT64_MIN && value < UINT64_END
        ? value
        : new ExtBox(ExtType.BigInt, bigIntBytes(value));
    case 'object':
      return value === null ? null : prepareObject(value, depth, table);
    default:
      throw new UnsupportedTypeError(`cannot encode a value of type ${typeof value}`);
  }
}

function prepareObject(value: object, depth: number, table: boolean): unknown {
  if (depth >= MAX_DEPTH) {
    throw new UnsupportedTypeError(
      `value nests deeper than ${MAX_DEPTH} levels (or contains a cycle)`,
    );
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const obj = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    let j = 0;
    for (const key in obj) {
      const slot = j++ & (KEY_SLOTS - 1);
      if (key !== checkedKeys[slot]) checkKey(key, slot);
      const child = obj[key];
      // Fast path: well-formed strings and numbers other than -0 are written as they are.
      if (typeof child === 'number') {
        if (child !== 0 || 1 / child > 0) continue;
      } else if (typeof child === 'string') {
        if (stringOk(child)) continue;
        throw new MalformedStringError(child);
      }
      // msgpackr renames a decoded "__proto__" key (prototype-pollution guard): refuse rather than change it.
      if (key === '__proto__')
        throw new UnsupportedTypeError('cannot encode an own "__proto__" key');
      const prepared = prepare(child, depth + 1);
      if (prepared !== child) {
        out ??= { ...obj };
        out[key] = prepared;
      }
    }
    if (out === undefined && Object.hasOwn(obj, '__proto__')) {
      throw new UnsupportedTypeError('cannot encode an own "__proto__" key');
    }
    return out ?? value;
  }
  if (Array.isArray(value)) {
    if (proto !== Array.prototype)
      throw new UnsupportedTypeError('cannot encode an Array subclass');
    const arr = value as unknown[];
    const t = table ? tableOf(arr) : undefined;
    if (t !== undefined) {
      return new ExtBox(ExtType.Table, packKeyList(t.keys), new Uint8Array(t.columns.buffer));
    }
    let out: unknown[] | undefined;
    for (let i = 0; i < arr.length; i++) {
      const child = arr[i];
      if (typeof child === 'number') {
        if (child !== 0 || 1 / child > 0) continue;
      } else if (typeof child === 'string') {
        if (stringOk(child)) continue;
        throw new MalformedStringError(child);
      }
      const prepared = prepare(child, depth + 1);
      if (prepared !== child) {
        out ??= arr.slice();
        out[i] = prepared;
      }
    }
    return out ?? value;
  }
  if (ArrayBuffer.isView(value)) {
    const type = typedExt(value);
    return new ExtBox(type, new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  }
  if (value instanceof Date) return value;
  if (value instanceof Map) {
    const flat: unknown[] = [MAP_MARK_BOX];
    for (const [k, v] of value as Map<unknown, unknown>)
      flat.push(prepare(k, depth + 1), prepare(v, depth + 1));
    return flat;
  }
  if (value instanceof Set) {
    const members: unknown[] = [SET_MARK_BOX];
    for (const m of value as Set<unknown>) members.push(prepare(m, depth + 1));
    return members;
  }
  if (value instanceof ExtBox || value instanceof NegZeroBox) return value;
  if (value instanceof ArrayBuffer) return new ExtBox(ExtType.ArrayBuffer, new Uint8Array(value));
  const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
  throw new UnsupportedTypeError(
    `cannot encode an instance of ${name}: supported are plain objects, arrays, Map, Set, Date, typed arrays, ArrayBuffer`,
  );
}

/**
 * Packs an already-prepared value. `reserve` bytes (0..255) are left free at the start for the header.
 * The result may share its ArrayBuffer with other results (msgpackr's output buffer), never overlapping them.
 */
export function packPrepared(prepared: unknown, reserve: number): Uint8Array {
  try {
    return reserve > 0 ? packr.pack(prepared, 2048 | reserve) : packr.pack(prepared);
  } catch (cause) {
    if (cause instanceof UnsupportedTypeError) throw cause;
    throw new UnsupportedTypeError(`MessagePack encoding failed: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Where {@link packTransient}'s scratch starts inside its allocation. Large ArrayBuffers start at the
 * same offset within a page (glibc puts a 16-byte header before each mmap'd block), so a typed array
 * written a few bytes into a scratch that started there too would be copied to 1–31 bytes past its own
 * position modulo 4096; glibc before 2.39 copies that case with `rep movsb`, which AMD Zen 3/4 run 10–20×
 * slower (bench-harness `memcpyAlignmentProbe`). Half a page of skew keeps the usual copies out of it.
 */
const SCRATCH_SKEW = 2048;

/** A scratch buffer of `bytes` starting {@link SCRATCH_SKEW} bytes into its allocation. */
function skewedScratch(bytes: number): Buffer {
  return Buffer.allocUnsafeSlow(bytes + SCRATCH_SKEW).subarray(SCRATCH_SKEW);
}

/** Reusable output buffer of {@link packTransient}; grows to the largest payload seen, up to 64 MiB. */
let packScratch: Buffer = skewedScratch(64 * 1024);
const MAX_SCRATCH_BYTES = 64 * 1024 * 1024;
/** Handed back to msgpackr after each transient pack, so no other msgpackr user writes into our scratch. */
const DETACHED: Buffer = Buffer.allocUnsafeSlow(0);

/**
 * Like {@link packValue} but packs into a reused scratch buffer (no per-call allocation, no 4x growth
 * buffers for large payloads). The result is only valid until the next call: copy or consume it at once.
 */
export function packTransient(value: unknown, reserve: number): Uint8Array {
  packr.useBuffer(packScratch);
  try {
    const out = packRoot(value, reserve, 0, true);
    if (out.buffer !== packScratch.buffer && out.buffer.byteLength <= MAX_SCRATCH_BYTES) {
      // msgpackr outgrew the scratch: keep a skewed one of the size it needed for the next call
      packScratch = skewedScratch(out.buffer.byteLength);
    }
    return out;
  } catch (err) {
    throw withStringLocation(err, value);
  } finally {
    packr.useBuffer(DETACHED);
  }
}

/** Prepares and packs `value`, then checks the long strings it holds (see "encoding: strings"). */
function packRoot(value: unknown, reserve: number, depth: number, table: boolean): Uint8Array {
  longStrings.length = 0;
  longUnits = 0;
  try {
    const out = packPrepared(prepare(value, depth, table), reserve);
    if (longUnits > 0) verifyLongStrings(out.subarray(reserve));
    return out;
  } finally {
    // no reference to the caller's strings outlives the call
    longStrings.length = 0;
    longUnits = 0;
  }
}

/**
 * Encodes `value` to plain MessagePack bytes (no header), with this package's extension types.
 * `table: false` keeps a top-level array from becoming a Table (the sliced encoder's batches of
 * elements, which are not arrays of the value). A string that is not well-formed throws
 * {@link MalformedStringError}, which does not say where it is: see {@link withStringLocation}.
 */
export function packValue(value: unknown, reserve = 0, depth = 0, table = true): Uint8Array {
  return packRoot(value, reserve, depth, table);
}

/** The ext type of a typed array (exported for the sliced encoder). */
export function typedArrayExt(view: ArrayBufferView): number {
  return typedExt(view);
}

/** The typed array class of an ext type, or undefined. */
export function typedArrayOfExt(type: number): TypedArrayConstructor | undefined {
  for (const [t, Ctor] of TYPED_ARRAYS) if (t === type) return Ctor;
  return undefined;
}

/** Bytes of an ext 32 header (`0xc9`, a 4-byte length, the type): a large typed array's elements follow it. */
export const EXT32_HEADER_BYTES = 6;

/**
 * The typed array class when a MessagePack payload of `length` bytes starting at `b[at]` is exactly
 * one typed array written as ext 32 (a value that is one typed array of 64 KiB or more, whose
 * elements then start {@link EXT32_HEADER_BYTES} in), else undefined. Reads only the ext header,
 * which `b` must hold.
 */
export function typedArrayExtAt(
  b: Uint8Array,
  at: number,
  length: number,
): TypedArrayConstructor | undefined {
  if (length < EXT32_HEADER_BYTES || at + EXT32_HEADER_BYTES > b.byteLength || b[at] !== 0xc9)
    return undefined;
  const n = ((b[at + 1]! << 24) | (b[at + 2]! << 16) | (b[at + 3]! << 8) | b[at + 4]!) >>> 0;
  const Ctor = typedArrayOfExt(b[at + 5]!);
  return Ctor !== undefined && n + EXT32_HEADER_BYTES === length && n % Ctor.BYTES_PER_ELEMENT === 0
    ? Ctor
    : undefined;
}

/**
 * When `payload` is exactly one typed array written as ext 32 (a value that is one typed array of
 * 64 KiB or more), its elements as a view in place, else undefined (also when they are not aligned
 * for their type: the ordinary path then copies them). Only for payloads nobody else holds (a buffer
 * decode has just decompressed into, or bytes the caller of `decodeInPlace` owns): the view shares
 * their memory.
 */
export function wholeTypedArrayView(payload: Uint8Array): ArrayBufferView | undefined {
  const Ctor = typedArrayExtAt(payload, 0, payload.byteLength);
  if (Ctor === undefined) return undefined;
  const size = Ctor.BYTES_PER_ELEMENT;
  const offset = payload.byteOffset + EXT32_HEADER_BYTES;
  if (offset % size !== 0) return undefined;
  const elements = (payload.byteLength - EXT32_HEADER_BYTES) / size;
  return new Ctor(payload.buffer as ArrayBuffer, offset, elements);
}

/** Decodes a run of consecutive MessagePack values spanning all of `bytes`. */
export function unpackSequence(bytes: Uint8Array): unknown[] {
  sawMarker = false;
  try {
    const values = unpackr.unpackMultiple(bytes);
    if (sawMarker) {
      // Bare markers stay in place: they open a container the caller is assembling piece by piece.
      for (let i = 0; i < values.length; i++) {
        const v: unknown = values[i];
        if (v !== MAP_MARK && v !== SET_MARK) values[i] = restore(v);
      }
    }
    return values;
  } catch (cause) {
    throw mapUnpackError(cause);
  }
}

function mapUnpackError(cause: unknown): Error {
  if (cause instanceof CorruptError || cause instanceof TruncatedError) return cause;
  if (cause instanceof RangeError && /call stack/i.test(cause.message)) {
    return new CorruptError('MessagePack payload nests too deeply to decode', { cause });
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/Unexpected end/i.test(message)) {
    return new TruncatedError(`MessagePack payload ends early: ${message}`, { cause });
  }
  return new CorruptError(`invalid MessagePack payload: ${message}`, { cause });
}

/**
 * Returns the offset just past the MessagePack value starting at `pos`, or -1 if it does not end at or
 * before `limit`. Never decodes; cost is one step per token. Throws CORRUPT on the reserved byte 0xc1.
 */
export function skipValue(b: Uint8Array, pos: number, limit: number): number {
  let pending = 1;
  let p = pos;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (pending > 0) {
    if (p >= limit) return -1;
    const t = b[p] ?? 0;
    pending--;
    if (t <= 0x7f || t >= 0xe0) p += 1;
    else if (t <= 0x8f) {
      pending += 2 * (t & 0x0f);
      p += 1;
    } else if (t <= 0x9f) {
      pending += t & 0x0f;
      p += 1;
    } else if (t <= 0xbf) p += 1 + (t & 0x1f);
    else {
      const need = HEAD_BYTES[t - 0xc0] ?? 1;
      if (p + need > limit) return -1;
      switch (t) {
        case 0xc1:
          throw new CorruptError(`invalid MessagePack byte 0xc1 at offset ${p}`);
        case 0xc4:
        case 0xd9:
          p += 2 + (b[p + 1] ?? 0);
          break;
        case 0xc5:
        case 0xda:
          p += 3 + dv.getUint16(p + 1);
          break;
        case 0xc6:
        case 0xdb:
          p += 5 + dv.getUint32(p + 1);
          break;
        case 0xc7:
          p += 3 + (b[p + 1] ?? 0);
          break;
        case 0xc8:
          p += 4 + dv.getUint16(p + 1);
          break;
        case 0xc9:
          p += 6 + dv.getUint32(p + 1);
          break;
        case 0xdc:
          pending += dv.getUint16(p + 1);
          p += 3;
          break;
        case 0xdd:
          pending += dv.getUint32(p + 1);
          p += 5;
          break;
        case 0xde:
          pending += 2 * dv.getUint16(p + 1);
          p += 3;
          break;
        case 0xdf:
          pending += 2 * dv.getUint32(p + 1);
          p += 5;
          break;
        default:
          p += need;
      }
    }
  }
  return p <= limit ? p : -1;
}

/** Bytes of the fixed part of each token 0xc0..0xdf (whole token for fixed-size ones). */
const HEAD_BYTES = [
  1, 1, 1, 1, 2, 3, 5, 3, 4, 6, 5, 9, 2, 3, 5, 9, 2, 3, 5, 9, 3, 4, 6, 10, 18, 2, 3, 5, 3, 5, 3, 5,
];

/** Decodes exactly one MessagePack value spanning all of `bytes`. Any failure becomes a SerializeError. */
export function unpackValue(bytes: Uint8Array): unknown {
  sawMarker = false;
  try {
    const value: unknown = unpackr.unpack(bytes);
    return sawMarker ? restore(value) : value;
  } catch (cause) {
    throw mapUnpackError(cause);
  }
}
