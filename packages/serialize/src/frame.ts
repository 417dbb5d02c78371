/**
 * The outer frame: the 12-byte header (magic, version, flags, body length, body CRC-32) and the body,
 * raw MessagePack or one zstd frame; plus single-shot and incremental zstd with size limits.
 * @module
 */
import { crc32 } from './crc.js';
import { uninitializedBuffer } from './msgpack.js';
import binding from 'zstd-napi/binding.js';
import {
  BadMagicError,
  ChecksumError,
  CorruptError,
  DictionaryError,
  InvalidInputError,
  SerializeError,
  TooLargeError,
  TruncatedError,
  UnsupportedVersionError,
} from './errors.js';
import {
  CODEC_RAW,
  CODEC_ZSTD,
  FLAG_DICTIONARY,
  FORMAT_VERSION,
  MAGIC_0,
  MAGIC_1,
  HEADER_BYTES,
} from './format.js';
import type { ResolvedSerializeOptions } from './options.js';

/** zstd frame magic number 0xFD2FB528, as the four bytes found on the wire. */
const ZSTD_FRAME_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;

/** Writes the first 4 header bytes (magic, version, flags) at `out[0..3]`. */
export function writeHeader(out: Uint8Array, flags: number): void {
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = FORMAT_VERSION;
  out[3] = flags;
}

/** Writes length and CRC-32 of `bodyLength` bytes with checksum `crc` into header bytes 4..11. */
export function writeLengthAndCrc(out: Uint8Array, bodyLength: number, crc: number): void {
  const view = new DataView(out.buffer, out.byteOffset, HEADER_BYTES);
  view.setUint32(4, bodyLength, true);
  view.setUint32(8, crc, true);
}

/** Fills the header of `out`, whose first {@link HEADER_BYTES} bytes were reserved for it, for the body after it. */
export function seal(out: Uint8Array, flags: number): Uint8Array {
  writeHeader(out, flags);
  writeLengthAndCrc(out, out.byteLength - HEADER_BYTES, crc32(out.subarray(HEADER_BYTES)));
  return out;
}

/** What the header says about the body that follows it. */
export interface ParsedHeader {
  readonly codec: typeof CODEC_RAW | typeof CODEC_ZSTD;
  readonly dictionary: boolean;
  /** Body length in bytes, from the header. */
  readonly bodyLength: number;
  /** CRC-32 of the body, from the header. */
  readonly crc: number;
}

function describeInput(bytes: unknown): string {
  if (bytes === null) return 'null';
  if (typeof bytes === 'object')
    return (bytes as { constructor?: { name?: string } }).constructor?.name ?? 'object';
  return typeof bytes;
}

/**
 * Validates the 12-byte header: magic, version, flags, and the body length against `maxBytes`. Throws
 * BAD_MAGIC, UNSUPPORTED_VERSION, CORRUPT, TOO_LARGE, or TRUNCATED when fewer than 12 bytes are given
 * (after checking what is there, so a wrong magic is reported as such even on a short input).
 */
export function parseHeader(bytes: Uint8Array, maxBytes: number): ParsedHeader {
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidInputError(`bytes must be a Uint8Array, got ${describeInput(bytes)}`);
  }
  const n = bytes.byteLength;
  if ((n > 0 && bytes[0] !== MAGIC_0) || (n > 1 && bytes[1] !== MAGIC_1)) {
    throw new BadMagicError(
      `not a @peaktrade/serialize value: expected magic 0x50 0x54 ("PT"), got ${hex(bytes.subarray(0, 2))}`,
    );
  }
  if (n > 2 && bytes[2] !== FORMAT_VERSION) {
    throw new UnsupportedVersionError(
      `format version ${bytes[2]} is not supported (this build reads version ${FORMAT_VERSION})`,
    );
  }
  const flags = bytes[3] ?? 0;
  const codec = flags & 0x03;
  const dictionary = (flags & FLAG_DICTIONARY) !== 0;
  if (
    n > 3 &&
    ((flags & ~0x07) !== 0 || codec > CODEC_ZSTD || (dictionary && codec !== CODEC_ZSTD))
  ) {
    throw new CorruptError(`invalid flags byte 0x${flags.toString(16).padStart(2, '0')}`);
  }
  if (n < HEADER_BYTES) {
    throw new TruncatedError(`input is ${n} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const bodyLength = view.getUint32(4, true);
  // A zstd frame is never longer than the bound of its content, and the content is limited to maxBytes.
  const limit = codec === CODEC_RAW ? maxBytes : binding.compressBound(maxBytes) + 64;
  if (bodyLength > limit) {
    throw new TooLargeError(
      `body is ${bodyLength} bytes, over the limit ${limit} implied by maxBytes ${maxBytes}`,
    );
  }
  return {
    codec: codec as ParsedHeader['codec'],
    dictionary,
    bodyLength,
    crc: view.getUint32(8, true),
  };
}

/** Checks that `bytes` holds exactly header + body; returns the body (CRC not yet checked). */
export function bodyOf(bytes: Uint8Array, header: ParsedHeader): Uint8Array {
  const available = bytes.byteLength - HEADER_BYTES;
  if (available < header.bodyLength) {
    throw new TruncatedError(
      `body declares ${header.bodyLength} bytes but only ${available} are present`,
    );
  }
  if (available > header.bodyLength) {
    throw new CorruptError(`${available - header.bodyLength} unexpected bytes after the body`);
  }
  return bytes.subarray(HEADER_BYTES);
}

/** Throws CHECKSUM unless `actual === expected`. */
export function checkCrc(actual: number, expected: number): void {
  if (actual !== expected) {
    throw new ChecksumError(
      `body CRC-32 mismatch (stored 0x${expected.toString(16)}, computed 0x${actual.toString(16)})`,
    );
  }
}

/**
 * Checks the zstd frame header: magic, and the content-checksum flag our format requires.
 * Returns the declared content size (null when the frame does not declare it).
 */
export function checkZstdFrameHeader(frame: Uint8Array, maxBytes: number): number | null {
  for (let i = 0; i < 4 && i < frame.byteLength; i++) {
    if (frame[i] !== ZSTD_FRAME_MAGIC[i])
      throw new CorruptError('payload is not a zstd frame (bad frame magic)');
  }
  if (frame.byteLength < 6) throw new TruncatedError('zstd frame header is truncated');
  const descriptor = frame[4] ?? 0;
  if ((descriptor & 0x04) === 0) {
    throw new CorruptError('zstd frame has no content checksum (the format requires one)');
  }
  if ((descriptor & 0x08) !== 0)
    throw new CorruptError('zstd frame descriptor has its reserved bit set');
  let size: number | null;
  try {
    size = binding.getFrameContentSize(frame);
  } catch (cause) {
    throw new TruncatedError('zstd frame header is truncated or invalid', { cause });
  }
  if (size !== null && size > maxBytes) {
    throw new TooLargeError(
      `zstd frame declares ${size} decompressed bytes, over maxBytes ${maxBytes}`,
    );
  }
  return size;
}

/** Maps a zstd library error to the matching SerializeError. */
export function zstdError(cause: unknown, what: string): SerializeError {
  if (cause instanceof SerializeError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/checksum/i.test(message))
    return new ChecksumError(`${what}: zstd content checksum mismatch`, { cause });
  if (/Src size is incorrect/i.test(message)) {
    return new TruncatedError(`${what}: zstd frame is truncated (${message})`, { cause });
  }
  if (/dictionary/i.test(message)) return new DictionaryError(`${what}: ${message}`, { cause });
  return new CorruptError(`${what}: ${message}`, { cause });
}

/** Where {@link Zstd.decompress} puts the payload in its buffer (see there). */
export const PAYLOAD_SKEW = 2;

/** Single-shot zstd compression/decompression with contexts reused across calls. */
export class Zstd {
  readonly #cctx = new binding.CCtx();
  readonly #dctx = new binding.DCtx();
  readonly #ddict: InstanceType<typeof binding.DDict> | undefined;
  readonly #dictionary: Uint8Array | undefined;
  readonly #dictionaryId: number;
  #scratch = new Uint8Array(0);

  constructor(options: ResolvedSerializeOptions) {
    this.#cctx.setParameter(binding.CParameter.compressionLevel, options.level);
    this.#cctx.setParameter(binding.CParameter.checksumFlag, 1);
    this.#cctx.setParameter(binding.CParameter.contentSizeFlag, 1);
    this.#dictionary = options.dictionary;
    if (options.dictionary !== undefined) {
      this.#cctx.loadDictionary(options.dictionary);
      this.#ddict = new binding.DDict(options.dictionary);
      this.#dictionaryId = this.#ddict.getDictID();
    } else {
      this.#ddict = undefined;
      this.#dictionaryId = 0;
    }
  }

  /** True when a dictionary is configured (compressed output is flagged with it). */
  get hasDictionary(): boolean {
    return this.#ddict !== undefined;
  }

  /** zstd dictionary id of the configured dictionary (0 for raw-content dictionaries or none). */
  get dictionaryId(): number {
    return this.#dictionaryId;
  }

  /** The configured dictionary bytes, if any. */
  get dictionary(): Uint8Array | undefined {
    return this.#dictionary;
  }

  /** Compresses `src` into a new exact-size buffer that starts with the sealed 12-byte header. */
  compressFramed(src: Uint8Array): Uint8Array {
    const bound = binding.compressBound(src.byteLength) + HEADER_BYTES;
    if (this.#scratch.byteLength < bound)
      this.#scratch = new Uint8Array(Math.max(bound, 64 * 1024));
    const written = this.#cctx.compress2(this.#scratch.subarray(HEADER_BYTES), src);
    // An exact-size copy into memory that is not zero-filled first (slice() would zero it).
    const exact = new Uint8Array(uninitializedBuffer(HEADER_BYTES + written));
    exact.set(this.#scratch.subarray(0, HEADER_BYTES + written));
    const out = seal(exact, CODEC_ZSTD | (this.#ddict !== undefined ? FLAG_DICTIONARY : 0));
    // Drop a scratch buffer that grew for one huge payload rather than keep it alive forever.
    if (this.#scratch.byteLength > 8 * 1024 * 1024) this.#scratch = new Uint8Array(0);
    return out;
  }

  /**
   * Decompresses one complete zstd frame whose header says `dictionary`, bounded by `maxBytes`.
   * The result is a fresh buffer nobody else holds; with a known content size it starts
   * {@link PAYLOAD_SKEW} bytes into it.
   */
  decompress(frame: Uint8Array, dictionary: boolean, maxBytes: number): Uint8Array {
    if (dictionary && this.#ddict === undefined) {
      throw new DictionaryError(
        'value was compressed with a zstd dictionary but no dictionary is configured',
      );
    }
    const size = checkZstdFrameHeader(frame, maxBytes);
    let frameSize: number;
    try {
      frameSize = binding.findFrameCompressedSize(frame);
    } catch (cause) {
      throw zstdError(cause, 'decode');
    }
    if (frameSize !== frame.byteLength) {
      throw new CorruptError(
        `${frame.byteLength - frameSize} unexpected bytes after the zstd frame`,
      );
    }
    if (size === null) return this.#decompressUnknownSize(frame, dictionary, maxBytes);
    // Two bytes into its own buffer: a payload that is one typed array (ext 32: 6 header bytes)
    // then has its elements 8-byte aligned, and decode can hand them out in place.
    const out = new Uint8Array(uninitializedBuffer(size + PAYLOAD_SKEW), PAYLOAD_SKEW, size);
    let written: number;
    try {
      written =
        dictionary && this.#ddict !== undefined
          ? this.#dctx.decompressUsingDDict(out, frame, this.#ddict)
          : this.#dctx.decompress(out, frame);
    } catch (cause) {
      throw zstdError(cause, 'decode');
    }
    if (written !== size) {
      throw new CorruptError(`zstd frame declared ${size} bytes but produced ${written}`);
    }
    return out;
  }

  #decompressUnknownSize(frame: Uint8Array, dictionary: boolean, maxBytes: number): Uint8Array {
    const d = new StreamDecompressor(dictionary ? this.#dictionary : undefined, maxBytes);
    d.push(frame);
    return d.finish();
  }
}

/**
 * Incremental zstd decompression with a running size limit, for streams, sliced decoding and frames
 * without a content size. With a known content size it writes straight into one preallocated buffer.
 */
export class StreamDecompressor {
  readonly #dctx = new binding.DCtx();
  readonly #maxBytes: number;
  readonly #chunks: Uint8Array[] = [];
  readonly #expected: number | null;
  readonly #whole: Uint8Array | undefined;
  #total = 0;
  readonly #scratch = new Uint8Array(binding.dStreamOutSize());
  #outFull = false;
  #done = false;

  /**
   * `dictionary`: the dictionary bytes when the frame was flagged as using one. `expectedSize`: the frame's
   * declared content size (already checked against maxBytes), or null.
   */
  constructor(
    dictionary: Uint8Array | undefined,
    maxBytes: number,
    expectedSize: number | null = null,
  ) {
    this.#maxBytes = maxBytes;
    this.#expected = expectedSize;
    this.#whole = expectedSize === null ? undefined : new Uint8Array(expectedSize);
    if (dictionary !== undefined) this.#dctx.loadDictionary(dictionary);
  }

  /** True while decoded output may still be pending inside zstd (push again, even with no input). */
  get pending(): boolean {
    return this.#outFull && !this.#done;
  }

  /** True once the frame (with its checksum) has been fully decoded. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Feeds compressed bytes; stops after producing about `budgetBytes` of output and returns the input it
   * did not consume yet (empty when all was consumed). Throws TOO_LARGE as soon as output passes maxBytes.
   */
  push(input: Uint8Array, budgetBytes = Infinity): Uint8Array {
    let src = input;
    let produced = 0;
    for (;;) {
      if (this.#done) {
        if (src.byteLength > 0)
          throw new CorruptError(`${src.byteLength} unexpected bytes after the zstd frame`);
        return src;
      }
      if (src.byteLength === 0 && !this.#outFull) return src;
      if (produced >= budgetBytes) return src;
      let dst: Uint8Array;
      if (this.#whole !== undefined && this.#total < this.#whole.byteLength) {
        dst = this.#whole.subarray(this.#total, this.#total + 256 * 1024);
      } else {
        dst = this.#scratch;
      }
      let result: [number, number, number];
      try {
        result = this.#dctx.decompressStream(dst, src);
      } catch (cause) {
        throw zstdError(cause, 'decode');
      }
      const [remaining, written, consumed] = result;
      if (written > 0) {
        if (dst === this.#scratch) {
          if (this.#whole !== undefined) {
            throw new CorruptError(
              `zstd frame produces more than its declared ${this.#expected} bytes`,
            );
          }
          this.#chunks.push(dst.slice(0, written));
        }
        this.#total += written;
        produced += written;
        if (this.#total > this.#maxBytes) {
          throw new TooLargeError(`decompressed payload exceeds maxBytes ${this.#maxBytes}`);
        }
      }
      this.#outFull = written === dst.byteLength;
      src = src.subarray(consumed);
      if (remaining === 0) this.#done = true;
      else if (written === 0 && consumed === 0) {
        if (src.byteLength > 0)
          throw new CorruptError('zstd decoder made no progress on its input');
        this.#outFull = false;
      }
    }
  }

  /** Returns the whole decompressed payload; throws TRUNCATED if the frame did not end. */
  finish(): Uint8Array {
    if (!this.#done)
      throw new TruncatedError('zstd frame is truncated (input ended inside the frame)');
    if (this.#whole !== undefined) {
      if (this.#total !== this.#whole.byteLength) {
        throw new CorruptError(
          `zstd frame declared ${this.#expected} bytes but produced ${this.#total}`,
        );
      }
      return this.#whole;
    }
    return Buffer.concat(this.#chunks, this.#total);
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ') || '(nothing)';
}
