import { closeSync, fstatSync, openSync, read, readSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { threadId } from 'node:worker_threads';
import {
  DEFAULT_MAX_BYTES,
  IN_PLACE_PROBE_BYTES,
  createCodec,
  decode,
  decodeInPlace,
  encodedHeader,
  inPlaceOffset,
  type Codec,
  type SerializeOptions,
} from '@peaktrade/serialize';
import { OHLCV_FIELDS, validateColumns, validateKnowing, type OhlcvColumns } from '../columns.js';
import { DataValidationError, LoaderOptionError } from '../errors.js';
import { decodeColumn, encodeColumn } from './column-encoding.js';
import { nameOption, pathOption } from './naming.js';
import type { Source } from './types.js';

/** The `format` field of a columnar file. */
export const COLUMNAR_FORMAT = 'peaktrade.ohlcv';
/**
 * The columnar layout version this build writes by default. Version 3 is a header value followed by
 * one `@peaktrade/serialize` value per column, each a `Float64Array` or an integer-delta column (see
 * {@link encodeColumnar}); version 2 is the same with every column a `Float64Array` (written with
 * `encoding: 'plain'`); version 1 is one value holding every column. This build reads all three.
 */
export const COLUMNAR_VERSION = 3;

/** Options of {@link writeColumnarFile}. */
export interface ColumnarWriteOptions {
  /** Symbol stored in the file (informational). */
  readonly symbol?: string;
  /**
   * How columns are stored.
   * - `'auto'` (the default, layout version 3): a column whose values are all whole numbers, or
   *   all exact to 1–8 decimal places (epoch milliseconds, volumes, prices in cents), is stored as
   *   the differences between neighbouring values, in 1, 2 or 4 bytes each, and comes back bit for
   *   bit; any other column is stored as float 64 values.
   * - `'plain'` (layout version 2, which earlier builds read): every column as float 64 values.
   */
  readonly encoding?: 'auto' | 'plain';
  /**
   * Serialization options. Default: zstd level 1 for the header and float 64 columns, and no
   * compression for integer-delta columns (they are already 2–8 times smaller than float 64, and
   * undoing zstd took longer than reading the bytes it saved). When given, they apply to every value.
   */
  readonly serialize?: SerializeOptions;
}

const defaultCodec = createCodec({ level: 1, thresholdBytes: 1024 });
const uncompressedCodec = createCodec({ thresholdBytes: Infinity });

/**
 * Encode columns as a columnar payload (layout version 3, or 2 with `encoding: 'plain'`):
 * `@peaktrade/serialize` values one after another, first
 * `{ format: 'peaktrade.ohlcv', version, symbol, length, columns, checksums }` (`columns`: the
 * field names in the order their values follow; `checksums`: the body CRC-32 each of their headers
 * carries), then each column as a value of its own: a `Float64Array` (raw little-endian float 64
 * bytes), or in version 3 an integer-delta column `{ encoding: 'delta', scale, first, deltas }` or
 * `{ encoding: 'delta', scale, first, step }`. One value per column lets a reader decompress each
 * column straight into the array it returns: 1M bars decoded in about 55 ms against 86–93 ms as one
 * value (zstd level 1 float 64 columns, on the Intel Xeon VM of 2026-11-27).
 */
export function encodeColumnar(
  columns: OhlcvColumns,
  options: ColumnarWriteOptions = {},
): Uint8Array {
  const encoding = options.encoding ?? 'auto';
  if (encoding !== 'auto' && encoding !== 'plain') {
    throw new LoaderOptionError('encoding', encoding, "'auto' or 'plain'");
  }
  const codec = options.serialize ? createCodec(options.serialize) : defaultCodec;
  const deltaCodec = options.serialize ? codec : uncompressedCodec;
  const frames = OHLCV_FIELDS.map((f) => {
    if (encoding === 'plain') return codec.encode(columns[f]);
    const stored = encodeColumn(columns[f]);
    return stored instanceof Float64Array ? codec.encode(stored) : deltaCodec.encode(stored);
  });
  return assembleColumnar(codec, frames, {
    version: encoding === 'plain' ? 2 : COLUMNAR_VERSION,
    symbol: options.symbol ?? null,
    length: columns.time.length,
  });
}

/**
 * A columnar payload from its column values already encoded (`frames`, one per field of
 * `OHLCV_FIELDS`, in that order): the header value, encoded with `codec`, then the frames.
 */
export function assembleColumnar(
  codec: Codec,
  frames: readonly Uint8Array[],
  head: { readonly version: number; readonly symbol: string | null; readonly length: number },
): Uint8Array {
  const headBytes = codec.encode({
    format: COLUMNAR_FORMAT,
    version: head.version,
    symbol: head.symbol,
    length: head.length,
    columns: [...OHLCV_FIELDS],
    checksums: frames.map((f) => encodedHeader(f).crc32),
  });
  const out = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, headBytes.byteLength));
  out.set(headBytes);
  let at = headBytes.byteLength;
  for (const f of frames) {
    out.set(f, at);
    at += f.byteLength;
  }
  return out;
}

/**
 * Decode a columnar payload (layout version 1 or 2) and validate it. Corrupt bytes raise the
 * serialize package's `SerializeError`; a payload of the wrong shape (a column missing or out of
 * place, bytes left over, lengths that disagree) raises {@link DataValidationError}.
 */
export function decodeColumnar(
  symbol: string,
  bytes: Uint8Array,
  options?: SerializeOptions,
): OhlcvColumns {
  return decodeFrames(symbol, payloadFrames(bytes, options), options, false);
}

/** The values of a whole columnar payload held in `bytes`, as {@link Frames}. */
function payloadFrames(bytes: Uint8Array, options: SerializeOptions | undefined): Frames {
  return {
    byteLength: bytes.byteLength,
    at: (at) => bytes.subarray(at, at + encodedHeader(bytes.subarray(at), options).byteLength),
  };
}

/**
 * The encoded values of a columnar payload: `at(offset)` is the whole value that starts at that
 * offset (cut short where the payload ends), for offsets where one starts; `byteLength` is the
 * payload's length.
 */
interface Frames {
  readonly byteLength: number;
  at(offset: number): Uint8Array;
}

/**
 * {@link decodeColumnar} over `frames`. With `inPlace`, uncompressed columns whose elements are
 * aligned come back as views of their frame (which must then be the reader's own) instead of copies.
 */
function decodeFrames(
  symbol: string,
  frames: Frames,
  options: SerializeOptions | undefined,
  inPlace: boolean,
): OhlcvColumns {
  // serialize's decode keeps one codec per options object: only maxBytes and the dictionary
  // matter for reading, so no codec is built per call.
  const headFrame = frames.at(0);
  const headLength = headFrame.byteLength;
  const value = decode(headFrame, options) as {
    format?: unknown;
    version?: unknown;
    columns?: unknown;
    length?: unknown;
    checksums?: unknown;
  } | null;
  if (typeof value !== 'object' || value === null || value.format !== COLUMNAR_FORMAT) {
    throw new DataValidationError(symbol, `not a ${COLUMNAR_FORMAT} payload`);
  }
  if (value.version === 1) {
    if (headLength !== frames.byteLength) throw trailing(symbol, frames.byteLength - headLength);
    return validateColumns(symbol, value.columns);
  }
  if (value.version !== 2 && value.version !== COLUMNAR_VERSION) {
    throw new DataValidationError(
      symbol,
      `unsupported columnar version ${String(value.version)} (this build reads 1 to ${COLUMNAR_VERSION})`,
    );
  }
  const encoded = value.version === 3;
  const maxBytes = options?.maxBytes ?? DEFAULT_MAX_BYTES;
  const { length, checksums } = value;
  const names = value.columns;
  if (
    !Array.isArray(names) ||
    !Array.isArray(checksums) ||
    names.length !== checksums.length ||
    !Number.isSafeInteger(length) ||
    (length as number) < 0
  ) {
    throw new DataValidationError(symbol, 'malformed columnar header');
  }
  const columns: Record<string, unknown> = {};
  // what decoding the delta columns established, so validation does not scan for it again
  const finite = new Set<string>();
  let timeIncreasing = false;
  let at = headLength;
  for (let i = 0; i < names.length; i++) {
    const field = String(names[i]);
    if (!(OHLCV_FIELDS as readonly string[]).includes(field) || field in columns) {
      throw new DataValidationError(symbol, 'unexpected or repeated column in the header', {
        field,
      });
    }
    if (at >= frames.byteLength) {
      throw new DataValidationError(symbol, 'truncated: the column is missing', { field });
    }
    const frame = frames.at(at);
    const { byteLength: size, crc32 } = encodedHeader(frame, options);
    // Each column's own CRC-32 must be the one the header recorded for that place: columns out of
    // order, or taken from another file, are refused instead of being read as the wrong field.
    if (crc32 !== checksums[i]) {
      throw new DataValidationError(symbol, 'column does not match the header (out of place?)', {
        field,
      });
    }
    const stored = inPlace ? decodeInPlace(frame, options) : decode(frame, options);
    // version 2 columns are float 64 values only (validateColumns names anything else)
    let column = stored;
    if (encoded) {
      const decoded = decodeColumn(symbol, field, stored, length as number, maxBytes);
      column = decoded.values;
      if (decoded.finite) finite.add(field);
      if (field === 'time') timeIncreasing = decoded.increasing;
    }
    if (column instanceof Float64Array && column.length !== length) {
      throw new DataValidationError(
        symbol,
        `length mismatch: ${column.length} values where the header says ${String(length)}`,
        { field },
      );
    }
    columns[field] = column;
    at += size;
  }
  if (at !== frames.byteLength) throw trailing(symbol, frames.byteLength - at);
  return validateKnowing(symbol, columns, { finite, timeIncreasing });
}

function trailing(symbol: string, extra: number): DataValidationError {
  return new DataValidationError(symbol, `${extra} unexpected bytes after the last column`);
}

/**
 * Write columns to `path` atomically (a temporary file, then rename), so a reader never sees
 * half a file.
 */
export async function writeColumnarFile(
  path: string,
  columns: OhlcvColumns,
  options?: ColumnarWriteOptions,
): Promise<void> {
  validateColumns(options?.symbol ?? path, columns);
  // Unique per write (process, thread and a counter), not per millisecond: two writes of one
  // path sharing a temporary file would mix their bytes, and the second rename would fail.
  const tmp = `${path}.tmp-${process.pid}-${threadId}-${++tmpSeq}`;
  try {
    await writeFile(tmp, encodeColumnar(columns, options));
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Counter naming temporary files (see {@link writeColumnarFile}). */
let tmpSeq = 0;

/**
 * Files up to this size are read whole with synchronous reads, and their columns copied out: each
 * step of an asynchronous read is a round trip through libuv's thread pool, and for a 10k-bar file
 * (140–470 KiB) those hand-offs took longer than the read (231 µs against 39 µs on our 2-vCPU VM).
 * The event loop is held for about as long as the copy takes (well under a millisecond); larger
 * files are read asynchronously, value by value (see {@link readColumnarFrames}).
 */
const SYNC_READ_MAX_BYTES = 1024 * 1024;

/** Most values a columnar file is read as one by one (a header and six columns, with room to spare). */
const MAX_FRAMES = 16;

/**
 * Reads the columnar file at `path` and decodes it. A file over {@link SYNC_READ_MAX_BYTES} is read
 * value by value, each into a buffer of its own, except that a layout 3 file up to
 * {@link WHOLE_READ_MAX_BYTES} is read whole in one step once its header value is read: its delta columns are
 * expanded into new arrays anyway, and one read saves two thread-pool round trips per column (a
 * 1M-bar file of delta columns: 16.9–21.8 ms against 17.8–26.2 ms read value by value, medians of 30
 * alternated rounds of 3 reads, four runs of one script, 2-vCPU AMD EPYC VM, family 25 model 17,
 * Node 20.20.2, 2026-11-27).
 *
 * Each value gets its own buffer, placed so that an uncompressed column's elements are aligned and
 * can be handed out in place (no copy). Column-sized buffers also cost less than one buffer for the
 * whole file: on a 2-vCPU AMD EPYC VM (family 25, 2026-11-27) reading 48 MB into one fresh buffer took
 * 64–77 ms (the allocator maps new memory for blocks over 32 MiB and every page faults in), against
 * 16–22 ms into six 8 MB buffers, which the allocator recycles from earlier reads (medians of 15). Each value takes one asynchronous
 * `read` (`fs.promises.readFile` reads 512 KiB per thread-pool round trip).
 */
async function readColumnarFrames(
  path: string,
  symbol: string,
  options: SerializeOptions | undefined,
  signal: AbortSignal | undefined,
): Promise<OhlcvColumns> {
  signal?.throwIfAborted();
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const sync = size <= SYNC_READ_MAX_BYTES;
    const readInto = async (into: Uint8Array, at: number): Promise<number> => {
      let got = 0;
      while (got < into.byteLength) {
        const n = sync
          ? readSync(fd, into, got, into.byteLength - got, at + got)
          : await readAt(fd, into, got, at + got);
        signal?.throwIfAborted();
        if (n === 0) break;
        got += n;
      }
      return got;
    };
    // Awaited where it is returned: the file stays open (finally) until its reads are done. With
    // `inPlace`, aligned uncompressed columns may be views of the buffer, which nobody else holds.
    const decodeWhole = async (inPlace = false): Promise<OhlcvColumns> => {
      const whole = Buffer.allocUnsafeSlow(size);
      const bytes = whole.subarray(0, await readInto(whole, 0));
      return decodeFrames(symbol, payloadFrames(bytes, options), options, inPlace);
    };
    // one read of the whole file; copying its columns out costs less than a read per value
    if (sync) return await decodeWhole();
    const byOffset = new Map<number, Uint8Array>();
    let at = 0;
    while (at < size && byOffset.size < MAX_FRAMES) {
      // the value's header and the start of its body: what inPlaceOffset reads
      const header = new Uint8Array(Math.min(IN_PLACE_PROBE_BYTES, size - at));
      await readInto(header, at);
      let length: number;
      let elements: number | undefined;
      try {
        length = encodedHeader(header, options).byteLength;
        elements = inPlaceOffset(header, options);
      } catch {
        // Not (all of) a value header: decoding meets these bytes as it would in the whole file.
        byOffset.set(at, header);
        break;
      }
      // No more than the file holds (a corrupt length must not allocate), placed so that the
      // elements of an uncompressed typed array land on a multiple of 8. Not zero-filled: the read
      // overwrites it, and only the bytes read are used.
      const kept = Math.min(length, size - at);
      const skew = elements === undefined ? 0 : (8 - (elements % 8)) % 8;
      const frame = new Uint8Array(Buffer.allocUnsafeSlow(kept + skew).buffer, skew, kept);
      const value = frame.subarray(0, await readInto(frame, at));
      byOffset.set(at, value);
      // Layout 3 mostly holds delta columns, which are expanded into new arrays anyway: once its
      // header value says so, the file is read whole (one thread-pool round trip, not two per column).
      if (at === 0 && size <= WHOLE_READ_MAX_BYTES && headerVersion(value, options) === 3)
        return await decodeWhole(true);
      at += length;
    }
    // not a columnar layout this reader knows value by value: read it whole
    if (at < size && byOffset.size === MAX_FRAMES) return await decodeWhole();
    const frames: Frames = {
      byteLength: size,
      at: (offset) => byOffset.get(offset) ?? new Uint8Array(0),
    };
    // The frames were just read into buffers nobody else holds: columns may be views of them.
    return decodeFrames(symbol, frames, options, true);
  } finally {
    closeSync(fd);
  }
}

/**
 * A layout 3 file up to this size is read whole once its header value is read (a 1M-bar OHLCV file
 * of delta columns is about 6 MB). Above it, the columns are read one by one, so that uncompressed
 * float columns can be handed out in place instead of copied out of one big buffer.
 */
const WHOLE_READ_MAX_BYTES = 16 * 1024 * 1024;

/** The layout version a columnar file's header value gives, or undefined when it is not one. */
function headerVersion(head: Uint8Array, options: SerializeOptions | undefined): unknown {
  try {
    const value = decode(head, options) as { version?: unknown } | null;
    return typeof value === 'object' && value !== null ? value.version : undefined;
  } catch {
    // decodeFrames meets the same bytes and reports them
    return undefined;
  }
}

/** One asynchronous `read(2)` of what fits in `into[from..]`, from file offset `position`. */
function readAt(fd: number, into: Uint8Array, from: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, into, from, into.byteLength - from, position, (error, n) =>
      error ? reject(error) : resolve(n),
    );
  });
}

/** Read and validate a columnar file. */
export async function readColumnarFile(
  path: string,
  symbol = path,
  options?: SerializeOptions,
): Promise<OhlcvColumns> {
  return readColumnarFrames(path, symbol, options, undefined);
}

/** Options of {@link columnarFileSource}. */
export interface ColumnarSourceOptions {
  /**
   * File of a symbol: a template such as `'data/{symbol}.ptc'` (made absolute against the current
   * directory when the source is made; every `{symbol}` is replaced by the symbol, which may then
   * not hold `/`, `\` or NUL, nor be `.` or `..`), or a function such as `(s) => \`data/${s}.ptc\``.
   */
  readonly path: string | ((symbol: string) => string);
  readonly serialize?: SerializeOptions;
  /**
   * Name of this source in cache keys and reports. Default with a template `path`:
   * `columnar-file:<absolute template>` (`serialize` options only decide whether a file can be
   * decoded, not what it holds, so they are not part of it). With a function `path` no name can
   * be derived: a `DataLoader` with a `cache` then refuses the source until it has one.
   */
  readonly name?: string;
}

/** A source that reads one columnar file per symbol. */
export function columnarFileSource(options: ColumnarSourceOptions): Source {
  const explicitName = nameOption(options.name);
  const { absolute, pathOf } = pathOption('path', options.path);
  const name = explicitName ?? (absolute !== undefined ? `columnar-file:${absolute}` : undefined);
  return {
    name: name ?? 'columnar-file',
    ...(name ? {} : { anonymous: true }),
    async load(symbol, { signal }) {
      return readColumnarFrames(pathOf(symbol), symbol, options.serialize, signal);
    },
  };
}
