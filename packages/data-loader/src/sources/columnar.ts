import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { threadId } from 'node:worker_threads';
import { createCodec, type SerializeOptions } from '@peaktrade/serialize';
import { OHLCV_FIELDS, validateColumns, type OhlcvColumns } from '../columns.js';
import { DataValidationError } from '../errors.js';
import { nameOption, pathOption } from './naming.js';
import type { Source } from './types.js';

/** The `format` field of a columnar file. */
export const COLUMNAR_FORMAT = 'peaktrade.ohlcv';
/** The columnar file layout version this build writes. */
export const COLUMNAR_VERSION = 1;

/** Options of {@link writeColumnarFile}. */
export interface ColumnarWriteOptions {
  /** Symbol stored in the file (informational). */
  readonly symbol?: string;
  /**
   * Serialization options. Default: zstd level 1 (prices compress a little, and level 1
   * decompresses at memory speed).
   */
  readonly serialize?: SerializeOptions;
}

const defaultCodec = createCodec({ level: 1, thresholdBytes: 1024 });

/**
 * Encode columns as a columnar file payload: `@peaktrade/serialize` bytes of
 * `{ format: 'peaktrade.ohlcv', version: 1, symbol, columns: { time, open, ... } }`.
 * The columns travel as raw little-endian Float64 bytes.
 */
export function encodeColumnar(
  columns: OhlcvColumns,
  options: ColumnarWriteOptions = {},
): Uint8Array {
  const codec = options.serialize ? createCodec(options.serialize) : defaultCodec;
  const cols = Object.fromEntries(OHLCV_FIELDS.map((f) => [f, columns[f]]));
  return codec.encode({
    format: COLUMNAR_FORMAT,
    version: COLUMNAR_VERSION,
    symbol: options.symbol ?? null,
    columns: cols,
  });
}

/**
 * Decode a columnar payload and validate it. Corrupt bytes raise the serialize package's
 * `SerializeError`; a payload of the wrong shape raises {@link DataValidationError}.
 */
export function decodeColumnar(
  symbol: string,
  bytes: Uint8Array,
  options?: SerializeOptions,
): OhlcvColumns {
  const codec = options ? createCodec(options) : defaultCodec;
  const value = codec.decode(bytes) as {
    format?: unknown;
    version?: unknown;
    columns?: unknown;
  } | null;
  if (typeof value !== 'object' || value === null || value.format !== COLUMNAR_FORMAT) {
    throw new DataValidationError(symbol, `not a ${COLUMNAR_FORMAT} payload`);
  }
  if (value.version !== COLUMNAR_VERSION) {
    throw new DataValidationError(
      symbol,
      `unsupported columnar version ${String(value.version)} (this build reads ${COLUMNAR_VERSION})`,
    );
  }
  return validateColumns(symbol, value.columns);
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
 * Files up to this size are read with one synchronous open/fstat/read/close: each step of an
 * asynchronous read is a round trip through libuv's thread pool, and for a 10k-bar file (140–470
 * KiB) those hand-offs took longer than the read (231 µs against 39 µs on our 2-vCPU VM). The
 * event loop is held for about as long as the copy takes (well under a millisecond); larger
 * files are read asynchronously.
 */
const SYNC_READ_MAX_BYTES = 1024 * 1024;

/** The whole file: synchronously when it is small (see {@link SYNC_READ_MAX_BYTES}), else through the thread pool. */
async function readWhole(path: string, signal?: AbortSignal): Promise<Uint8Array> {
  signal?.throwIfAborted();
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= SYNC_READ_MAX_BYTES) {
      const bytes = Buffer.allocUnsafe(size);
      let at = 0;
      while (at < size) {
        const n = readSync(fd, bytes, at, size - at, at);
        if (n === 0) break;
        at += n;
      }
      // A file that shrank while being read: decoding the short bytes reports it as truncated.
      return at === size ? bytes : bytes.subarray(0, at);
    }
  } finally {
    closeSync(fd);
  }
  return readFile(path, signal ? { signal } : {});
}

/** Read and validate a columnar file. */
export async function readColumnarFile(
  path: string,
  symbol = path,
  options?: SerializeOptions,
): Promise<OhlcvColumns> {
  return decodeColumnar(symbol, await readWhole(path), options);
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
      const bytes = await readWhole(pathOf(symbol), signal);
      return decodeColumnar(symbol, bytes, options.serialize);
    },
  };
}
