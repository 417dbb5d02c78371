import { InvalidOptionError } from './errors.js';

/** Options of {@link createCodec}, {@link encode} and {@link decode}. All sizes are in bytes. */
export interface SerializeOptions {
  /** zstd compression level, 1..22 (higher: smaller and slower). Default 3. */
  readonly level?: number;
  /**
   * MessagePack payloads shorter than this many bytes are stored raw (with a CRC-32) instead of compressed.
   * `0` compresses everything, `Infinity` never compresses. Default 1024.
   */
  readonly thresholdBytes?: number;
  /**
   * Largest MessagePack payload accepted, in bytes: `encode` refuses to produce more, `decode` refuses input
   * whose header, frame or content size says more (checked before decompressing). Default 512 MiB.
   */
  readonly maxBytes?: number;
  /**
   * A zstd dictionary (as produced by `zstd --train`, or raw content). When set, compressed payloads are
   * written with it and flagged; decoding such a payload needs the same dictionary.
   */
  readonly dictionary?: Uint8Array;
}

/** Options after defaults and validation. */
export interface ResolvedSerializeOptions {
  readonly level: number;
  readonly thresholdBytes: number;
  readonly maxBytes: number;
  readonly dictionary: Uint8Array | undefined;
}

/** Default zstd level. */
export const DEFAULT_LEVEL = 3;
/** Default raw/compressed threshold in bytes (1 KiB). */
export const DEFAULT_THRESHOLD_BYTES = 1024;
/** Default maximum payload in bytes (512 MiB). */
export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;
/** Hard ceiling of `maxBytes`: the raw length field and the largest typed array are bounded by 4 GiB - 1. */
export const MAX_MAX_BYTES = 0xffff_ffff;

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array) return `Uint8Array(${value.byteLength})`;
  return String(value);
}

/** Validates options and fills in defaults. Throws {@link InvalidOptionError} naming the option. */
export function resolveOptions(opts: SerializeOptions | undefined): ResolvedSerializeOptions {
  if (opts !== undefined && (typeof opts !== 'object' || opts === null)) {
    throw new InvalidOptionError(`options must be an object, got ${describe(opts)}`);
  }
  const level = opts?.level ?? DEFAULT_LEVEL;
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 1 || level > 22) {
    throw new InvalidOptionError(`level must be an integer from 1 to 22, got ${describe(level)}`);
  }
  const thresholdBytes = opts?.thresholdBytes ?? DEFAULT_THRESHOLD_BYTES;
  if (
    typeof thresholdBytes !== 'number' ||
    !(Number.isInteger(thresholdBytes) || thresholdBytes === Infinity) ||
    thresholdBytes < 0
  ) {
    throw new InvalidOptionError(
      `thresholdBytes must be an integer >= 0 or Infinity, got ${describe(thresholdBytes)}`,
    );
  }
  const maxBytes = opts?.maxBytes ?? DEFAULT_MAX_BYTES;
  if (
    typeof maxBytes !== 'number' ||
    !Number.isInteger(maxBytes) ||
    maxBytes < 1 ||
    maxBytes > MAX_MAX_BYTES
  ) {
    throw new InvalidOptionError(
      `maxBytes must be an integer from 1 to ${MAX_MAX_BYTES}, got ${describe(maxBytes)}`,
    );
  }
  const dictionary = opts?.dictionary;
  if (
    dictionary !== undefined &&
    (!(dictionary instanceof Uint8Array) || dictionary.byteLength === 0)
  ) {
    throw new InvalidOptionError(
      `dictionary must be a non-empty Uint8Array, got ${describe(dictionary)}`,
    );
  }
  return { level, thresholdBytes, maxBytes, dictionary };
}
