/**
 * Sliced encode/decode: the same bytes and values as the sync path, produced in steps that each take about
 * {@link SLICE_MS} of CPU before yielding to the event loop with `setImmediate`.
 * @module
 */
import { crc32 } from './crc.js';
import binding from 'zstd-napi/binding.js';
import type { CodecCore } from './codec.js';
import {
  CorruptError,
  DictionaryError,
  TooLargeError,
  TruncatedError,
  UnsupportedTypeError,
} from './errors.js';
import { CODEC_RAW, CODEC_ZSTD, ExtType, FLAG_DICTIONARY, HEADER_BYTES } from './format.js';
import {
  StreamDecompressor,
  bodyOf,
  checkCrc,
  checkZstdFrameHeader,
  parseHeader,
  writeHeader,
  writeLengthAndCrc,
} from './frame.js';
import {
  MAP_MARK,
  MAP_MARK_BOX,
  SET_MARK,
  MAX_DEPTH,
  SET_MARK_BOX,
  extHeader,
  packValue,
  restoreContainer,
  skipValue,
  typedArrayExt,
  typedArrayOfExt,
  uninitializedBuffer,
  unpackSequence,
  unpackValue,
} from './msgpack.js';
import { withStringLocation } from './strings.js';
import {
  TABLE_MIN_ROWS,
  buildRows,
  columnData,
  fillRows,
  packKeyList,
  readKeyList,
  rowFactory,
  valueCount,
  tableKeysOf,
} from './table.js';

/** CPU time per slice before yielding, in ms. */
export const SLICE_MS = 2;
/** Input bytes handed to zstd or memcpy/CRC per step. */
const STEP_BYTES = 32 * 1024;
/** Estimated encode cost (≈ nodes) of one packed piece. */
const PIECE_COST = 512;
/** Encoded values larger than this many bytes are decoded piecewise. */
const BIG_SPAN = 64 * 1024;
/** Table values (rows × keys) checked, filled or rebuilt per step. */
const TABLE_STEP_VALUES = 64 * 1024;
/** Byte size of one batch of consecutive small values decoded together. */
const BATCH_BYTES = 16 * 1024;

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Tracks CPU time since the last yield. */
export class Slicer {
  #since = performance.now();
  /** Yields to the event loop if this slice has used its budget. */
  async step(): Promise<void> {
    if (performance.now() - this.#since >= SLICE_MS) {
      await tick();
      this.#since = performance.now();
    }
  }
}

// --- encoding ----------------------------------------------------------------------------------------------

/** Estimated cost of packing `v`, counting up to `budget` (stops early, so cycles terminate). */
function estimate(v: unknown, budget: number): number {
  if (v === null || typeof v !== 'object') return typeof v === 'string' ? 1 + (v.length >> 6) : 1;
  if (ArrayBuffer.isView(v)) return 1 + (v.byteLength >> 12);
  if (v instanceof ArrayBuffer) return 1 + (v.byteLength >> 12);
  let cost = 1;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && cost < budget; i++) cost += estimate(v[i], budget - cost);
  } else if (v instanceof Map || v instanceof Set) {
    cost += v.size * 2;
  } else if (!(v instanceof Date)) {
    const obj = v as Record<string, unknown>;
    for (const k in obj) {
      cost += estimate(obj[k], budget - cost);
      if (cost >= budget) break;
    }
  }
  return cost;
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function containerHeader(
  count: number,
  fix: number,
  b16: number,
  b32: number,
  max: number,
  noFix = false,
): Uint8Array {
  if (count > max)
    throw new UnsupportedTypeError(`container with ${count} entries is too large for MessagePack`);
  if (count < 16 && !noFix) return Uint8Array.of(fix | count);
  if (count < 0x10000) return Uint8Array.of(b16, count >> 8, count & 0xff);
  const out = new Uint8Array(5);
  out[0] = b32;
  new DataView(out.buffer).setUint32(1, count);
  return out;
}

/** Length of the array/map header at the start of packed `bytes`. */
function headerLength(bytes: Uint8Array): number {
  const t = bytes[0] ?? 0;
  if (t >= 0x80 && t <= 0x9f) return 1;
  if (t === 0xdc || t === 0xde) return 3;
  return 5;
}

/** Collects MessagePack pieces whose concatenation equals `packValue(value)`. */
class PiecePacker {
  readonly pieces: Uint8Array[] = [];
  total = 0;
  readonly #slicer: Slicer;
  readonly #maxBytes: number;
  constructor(slicer: Slicer, maxBytes: number) {
    this.#slicer = slicer;
    this.#maxBytes = maxBytes;
  }

  #push(piece: Uint8Array): void {
    this.total += piece.byteLength;
    if (this.total > this.#maxBytes) {
      throw new TooLargeError(`encoded payload is over maxBytes ${this.#maxBytes}`);
    }
    this.pieces.push(piece);
  }

  /** Containers on the path being descended, to report a cycle at once rather than at MAX_DEPTH. */
  readonly #path = new Set<object>();

  async pack(value: unknown, depth: number): Promise<void> {
    if (depth >= MAX_DEPTH) {
      throw new UnsupportedTypeError(
        `value nests deeper than ${MAX_DEPTH} levels (or contains a cycle)`,
      );
    }
    if (value !== null && typeof value === 'object' && estimate(value, PIECE_COST) >= PIECE_COST) {
      if (this.#path.has(value)) throw new UnsupportedTypeError('value contains a cycle');
      this.#path.add(value);
      try {
        await this.#packLarge(value, depth);
      } finally {
        this.#path.delete(value);
      }
      return;
    }
    this.#push(packValue(value, 0, depth));
    await this.#slicer.step();
  }

  /** Splits a large container into pieces; Map/Set become their marker-led arrays (same bytes as `encode`). */
  async #packLarge(value: object, depth: number): Promise<void> {
    if (Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype) {
      return this.#packArray(value as unknown[], depth);
    }
    if (isPlainObject(value)) return this.#packObject(value, depth);
    if (value instanceof Map) {
      const flat: unknown[] = [MAP_MARK_BOX];
      for (const [k, v] of value as Map<unknown, unknown>) flat.push(k, v);
      return this.#packArray(flat, depth);
    }
    if (value instanceof Set)
      return this.#packArray([SET_MARK_BOX, ...(value as Set<unknown>)], depth);
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      // The typed array's own bytes are a piece: no copy until compression or the final concatenation.
      this.#push(extHeader(value.byteLength, typedArrayExt(value)));
      this.#push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      await this.#slicer.step();
      return;
    }
    this.#push(packValue(value, 0, depth));
    await this.#slicer.step();
  }

  /**
   * Writes `arr` as a Table extension when every row qualifies (the same test as the one-shot encoder,
   * run in slices). Returns false, having written nothing, when it does not.
   */
  async #packTable(arr: unknown[]): Promise<boolean> {
    const keys = arr.length >= TABLE_MIN_ROWS ? tableKeysOf(arr[0]) : undefined;
    if (keys === undefined) return false;
    const n = arr.length;
    const rowsPerStep = Math.max(1, Math.floor(TABLE_STEP_VALUES / keys.length));
    const columns = new Float64Array(n * keys.length);
    for (let from = 0; from < n; from += rowsPerStep) {
      if (!fillRows(arr, keys, columns, from, Math.min(n, from + rowsPerStep))) return false;
      await this.#slicer.step();
    }
    const head = packKeyList(keys);
    this.#push(extHeader(head.byteLength + columns.byteLength, ExtType.Table));
    this.#push(head);
    this.#push(new Uint8Array(columns.buffer));
    return true;
  }

  async #packArray(arr: unknown[], depth: number): Promise<void> {
    if (await this.#packTable(arr)) return;
    this.#push(containerHeader(arr.length, 0x90, 0xdc, 0xdd, 0xffffffff));
    let batch: unknown[] = [];
    let cost = 0;
    for (let i = 0; i < arr.length; i++) {
      const child = arr[i];
      const c = estimate(child, PIECE_COST);
      if (c >= PIECE_COST) {
        await this.#flushArray(batch, depth);
        batch = [];
        cost = 0;
        await this.pack(child, depth + 1);
        continue;
      }
      batch.push(child);
      cost += c;
      if (cost >= PIECE_COST) {
        await this.#flushArray(batch, depth);
        batch = [];
        cost = 0;
      }
    }
    await this.#flushArray(batch, depth);
  }

  async #flushArray(batch: unknown[], depth: number): Promise<void> {
    if (batch.length === 0) return;
    const packed = packValue(batch, 0, depth, false);
    this.#push(packed.subarray(headerLength(packed)));
    await this.#slicer.step();
  }

  async #packObject(obj: Record<string, unknown>, depth: number): Promise<void> {
    const keys = Object.keys(obj);
    // Same header msgpackr writes for plain objects (map 16 below 65536 keys), so bytes match `encode`.
    this.#push(containerHeader(keys.length, 0xde, 0xde, 0xdf, 0xffffffff, true));
    let batch: Record<string, unknown> = {};
    let n = 0;
    let cost = 0;
    for (const key of keys) {
      if (key === '__proto__')
        throw new UnsupportedTypeError('cannot encode an own "__proto__" key');
      const child = obj[key];
      const c = estimate(child, PIECE_COST);
      if (c >= PIECE_COST) {
        await this.#flushObject(batch, n, depth);
        batch = {};
        n = 0;
        cost = 0;
        this.#push(packValue(key));
        await this.pack(child, depth + 1);
        continue;
      }
      batch[key] = child;
      n++;
      cost += c;
      if (cost >= PIECE_COST) {
        await this.#flushObject(batch, n, depth);
        batch = {};
        n = 0;
        cost = 0;
      }
    }
    await this.#flushObject(batch, n, depth);
  }

  async #flushObject(batch: Record<string, unknown>, n: number, depth: number): Promise<void> {
    if (n === 0) return;
    const packed = packValue(batch, 0, depth);
    this.#push(packed.subarray(headerLength(packed)));
    await this.#slicer.step();
  }
}

/**
 * Yields the encoded bytes of `value` (identical to `encode(value)`) in chunks, slicing CPU work.
 * The header carries the body's length and CRC-32, so compressed output is collected before the header
 * is yielded; raw bodies are checksummed first and then yielded.
 */
export async function* encodeChunks(core: CodecCore, value: unknown): AsyncGenerator<Uint8Array> {
  const { thresholdBytes, maxBytes, level, dictionary } = core.options;
  const slicer = new Slicer();
  const packer = new PiecePacker(slicer, maxBytes);
  try {
    await packer.pack(value, 0);
  } catch (err) {
    // a piece knows only its own part of the value: say where the string is from the top
    throw withStringLocation(err, value);
  }
  const total = packer.total;
  const header = new Uint8Array(HEADER_BYTES);

  if (total < thresholdBytes) {
    let crc = 0;
    for (const piece of packer.pieces) {
      for (let off = 0; off < piece.byteLength; off += STEP_BYTES) {
        crc = crc32(piece.subarray(off, off + STEP_BYTES), crc);
        await slicer.step();
      }
    }
    writeHeader(header, CODEC_RAW);
    writeLengthAndCrc(header, total, crc);
    yield header;
    for (const piece of packer.pieces) {
      for (let off = 0; off < piece.byteLength; off += STEP_BYTES) {
        yield piece.slice(off, off + STEP_BYTES);
        await slicer.step();
      }
    }
    return;
  }

  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.compressionLevel, level);
  cctx.setParameter(binding.CParameter.checksumFlag, 1);
  cctx.setParameter(binding.CParameter.contentSizeFlag, 1);
  if (dictionary !== undefined) cctx.loadDictionary(dictionary);
  cctx.setPledgedSrcSize(total);
  const out = new Uint8Array(binding.cStreamOutSize());
  const frame: Uint8Array[] = [];
  let frameBytes = 0;
  let crc = 0;
  const emit = (written: number): void => {
    if (written === 0) return;
    const chunk = out.slice(0, written);
    crc = crc32(chunk, crc);
    frame.push(chunk);
    frameBytes += written;
  };
  for (const piece of packer.pieces) {
    for (let off = 0; off < piece.byteLength; off += STEP_BYTES) {
      let src = piece.subarray(off, off + STEP_BYTES);
      while (src.byteLength > 0) {
        const [, written, consumed] = cctx.compressStream2(out, src, binding.EndDirective.continue);
        emit(written);
        src = src.subarray(consumed);
      }
      await slicer.step();
    }
  }
  for (;;) {
    const [remaining, written] = cctx.compressStream2(
      out,
      new Uint8Array(0),
      binding.EndDirective.end,
    );
    emit(written);
    if (remaining === 0) break;
    await slicer.step();
  }
  writeHeader(header, CODEC_ZSTD | (dictionary !== undefined ? FLAG_DICTIONARY : 0));
  writeLengthAndCrc(header, frameBytes, crc);
  yield header;
  yield* frame;
}

/** Concatenates chunks, copying at most STEP_BYTES between yields. */
async function concatSliced(
  chunks: Uint8Array[],
  total: number,
  slicer: Slicer,
): Promise<Uint8Array> {
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    for (let off = 0; off < c.byteLength; off += STEP_BYTES) {
      const part = c.subarray(off, off + STEP_BYTES);
      out.set(part, pos);
      pos += part.byteLength;
      await slicer.step();
    }
  }
  return out;
}

/** `encodeAsync`: small values go through the sync path; large ones through {@link encodeChunks}. */
export async function encodeAsyncImpl(core: CodecCore, value: unknown): Promise<Uint8Array> {
  if (estimate(value, PIECE_COST) < PIECE_COST) return core.encode(value);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const c of encodeChunks(core, value)) {
    chunks.push(c);
    total += c.byteLength;
  }
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  return concatSliced(chunks, total, new Slicer());
}

// --- decoding ----------------------------------------------------------------------------------------------

/** Decodes the MessagePack payload `b` piecewise. */
export async function unpackSliced(b: Uint8Array, slicer: Slicer): Promise<unknown> {
  if (b.byteLength <= BIG_SPAN) return unpackValue(b);
  const [value, end] = await decodeAt(b, 0, slicer, 0);
  if (end !== b.byteLength) {
    throw new CorruptError(`${b.byteLength - end} unexpected bytes after the MessagePack value`);
  }
  return value;
}

async function decodeAt(
  b: Uint8Array,
  pos: number,
  slicer: Slicer,
  depth: number,
): Promise<[unknown, number]> {
  if (depth >= MAX_DEPTH)
    throw new CorruptError(`MessagePack payload nests deeper than ${MAX_DEPTH} levels`);
  const small = skipValue(b, pos, Math.min(b.byteLength, pos + BIG_SPAN));
  if (small !== -1) {
    const value = unpackValue(b.subarray(pos, small));
    await slicer.step();
    return [value, small];
  }
  if (pos >= b.byteLength) throw new TruncatedError('MessagePack payload ends early');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const t = b[pos] ?? 0;
  const need = (n: number): void => {
    if (pos + n > b.byteLength) throw new TruncatedError('MessagePack payload ends early');
  };
  if ((t >= 0x90 && t <= 0x9f) || t === 0xdc || t === 0xdd) {
    need(t === 0xdc ? 3 : t === 0xdd ? 5 : 1);
    const count = t <= 0x9f ? t & 0x0f : t === 0xdc ? dv.getUint16(pos + 1) : dv.getUint32(pos + 1);
    const start = pos + (t <= 0x9f ? 1 : t === 0xdc ? 3 : 5);
    const out: unknown[] = [];
    const end = await decodeRun(b, start, count, out, slicer, depth);
    return [restoreContainer(out), end];
  }
  if ((t >= 0x80 && t <= 0x8f) || t === 0xde || t === 0xdf) {
    need(t === 0xde ? 3 : t === 0xdf ? 5 : 1);
    const count = t <= 0x8f ? t & 0x0f : t === 0xde ? dv.getUint16(pos + 1) : dv.getUint32(pos + 1);
    const start = pos + (t <= 0x8f ? 1 : t === 0xde ? 3 : 5);
    const flat: unknown[] = [];
    const end = await decodeRun(b, start, count * 2, flat, slicer, depth);
    for (const v of flat)
      if (v === MAP_MARK || v === SET_MARK)
        throw new CorruptError('Map/Set marker used as a map key or value');
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < flat.length; i += 2) {
      const key = flat[i];
      const k = typeof key === 'string' ? key : String(key);
      // Same renaming msgpackr applies in the one-shot path, so both decoders agree.
      obj[k === '__proto__' ? '__proto_' : k] = flat[i + 1];
    }
    return [obj, end];
  }
  if ((t === 0xc8 || t === 0xc9) && b[pos + (t === 0xc8 ? 3 : 5)] === ExtType.Table) {
    need(t === 0xc8 ? 4 : 6);
    const start = pos + (t === 0xc8 ? 4 : 6);
    const end = start + (t === 0xc8 ? dv.getUint16(pos + 1) : dv.getUint32(pos + 1));
    if (end > b.byteLength) throw new TruncatedError('Table extension ends early');
    return [await readTableSliced(b.subarray(start, end), slicer), end];
  }
  if (t === 0xc9) {
    need(6);
    const length = dv.getUint32(pos + 1);
    const Ctor = typedArrayOfExt(b[pos + 5] ?? 0);
    const start = pos + 6;
    if (Ctor !== undefined) {
      if (start + length > b.byteLength)
        throw new TruncatedError('typed array extension ends early');
      if (length % Ctor.BYTES_PER_ELEMENT !== 0) {
        throw new CorruptError(
          `${Ctor.name} extension length ${length} is not a multiple of ${Ctor.BYTES_PER_ELEMENT}`,
        );
      }
      const buffer = uninitializedBuffer(length);
      const target = new Uint8Array(buffer);
      for (let off = 0; off < length; off += STEP_BYTES) {
        target.set(b.subarray(start + off, start + Math.min(length, off + STEP_BYTES)), off);
        await slicer.step();
      }
      return [new Ctor(buffer), start + length];
    }
  }
  // Strings, binaries and Map/Set extensions over BIG_SPAN are decoded in one step.
  const end = skipValue(b, pos, b.byteLength);
  if (end === -1) throw new TruncatedError('MessagePack payload ends early');
  const value = unpackValue(b.subarray(pos, end));
  await slicer.step();
  return [value, end];
}

/** A Table extension's rows, rebuilt a step at a time (same result as the one-shot reader). */
async function readTableSliced(data: Uint8Array, slicer: Slicer): Promise<unknown[]> {
  const { keys, offset } = readKeyList(data);
  const columns = columnData(data, offset);
  await slicer.step();
  const n = valueCount(columns) / keys.length;
  const make = rowFactory(keys, columns instanceof Float64Array);
  const rows = new Array<unknown>(n);
  const rowsPerStep = Math.max(1, Math.floor(TABLE_STEP_VALUES / keys.length));
  for (let from = 0; from < n; from += rowsPerStep) {
    buildRows(make, columns, n, from, Math.min(n, from + rowsPerStep), rows);
    await slicer.step();
  }
  return rows;
}

/** Decodes `count` consecutive values starting at `pos` into `out`, batching small ones. */
async function decodeRun(
  b: Uint8Array,
  pos: number,
  count: number,
  out: unknown[],
  slicer: Slicer,
  depth: number,
): Promise<number> {
  let p = pos;
  let batchStart = p;
  const flush = async (): Promise<void> => {
    if (p > batchStart) {
      const values = unpackSequence(b.subarray(batchStart, p));
      for (const v of values) out.push(v);
      await slicer.step();
    }
  };
  for (let i = 0; i < count; i++) {
    if (p >= b.byteLength) throw new TruncatedError('MessagePack container ends early');
    const end = skipValue(b, p, Math.min(b.byteLength, p + BIG_SPAN));
    if (end === -1) {
      await flush();
      const [value, next] = await decodeAt(b, p, slicer, depth + 1);
      out.push(value);
      p = next;
      batchStart = p;
      continue;
    }
    p = end;
    if (p - batchStart >= BATCH_BYTES) {
      await flush();
      batchStart = p;
    }
  }
  await flush();
  return p;
}

/** `decodeAsync`: header checks, sliced CRC, sliced decompression, then sliced MessagePack decoding. */
export async function decodeAsyncImpl(core: CodecCore, bytes: Uint8Array): Promise<unknown> {
  if (bytes instanceof Uint8Array && bytes.byteLength <= BIG_SPAN) return core.decode(bytes);
  const { maxBytes } = core.options;
  const header = parseHeader(bytes, maxBytes);
  const body = bodyOf(bytes, header);
  const slicer = new Slicer();
  let crc = 0;
  for (let off = 0; off < body.byteLength; off += STEP_BYTES) {
    crc = crc32(body.subarray(off, off + STEP_BYTES), crc);
    await slicer.step();
  }
  checkCrc(crc, header.crc);
  const payload =
    header.codec === CODEC_RAW
      ? body
      : await decompressSliced(core, body, header.dictionary, slicer);
  return unpackSliced(payload, slicer);
}

/** Decompresses `frame` in steps of at most about 1 MiB of output. */
export async function decompressSliced(
  core: CodecCore,
  frame: Uint8Array,
  dictionary: boolean,
  slicer: Slicer,
): Promise<Uint8Array> {
  const { maxBytes } = core.options;
  if (dictionary && core.options.dictionary === undefined) {
    throw new DictionaryError(
      'value was compressed with a zstd dictionary but no dictionary is configured',
    );
  }
  const size = checkZstdFrameHeader(frame, maxBytes);
  const d = new StreamDecompressor(
    dictionary ? core.options.dictionary : undefined,
    maxBytes,
    size,
  );
  let rest = frame;
  do {
    rest = d.push(rest, 256 * 1024);
    await slicer.step();
  } while (rest.byteLength > 0 || d.pending);
  return d.finish();
}
