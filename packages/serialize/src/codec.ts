import { TooLargeError } from './errors.js';
import { crc32 } from './crc.js';
import { CODEC_RAW, HEADER_BYTES } from './format.js';
import { Zstd, bodyOf, checkCrc, parseHeader, seal } from './frame.js';
import {
  EXT32_HEADER_BYTES,
  packTransient,
  typedArrayExtAt,
  uninitializedBuffer,
  unpackValue,
  wholeTypedArrayView,
} from './msgpack.js';
import { resolveOptions } from './options.js';
import type { ResolvedSerializeOptions, SerializeOptions } from './options.js';
import { decodeAsyncImpl, encodeAsyncImpl } from './async.js';
import { decodeStreamImpl, encodeStreamImpl } from './stream.js';
import type { Readable } from 'node:stream';

/** A source of encoded bytes for {@link Codec.decodeStream}: a Node Readable or any async iterable of chunks. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * An encoder/decoder with its options resolved once. Methods are bound: `const { encode } = codec` works.
 * Not safe to share across worker threads (each thread creates its own); safe for concurrent async use.
 */
export interface Codec {
  /** The resolved options (defaults filled in). */
  readonly options: ResolvedSerializeOptions;
  /** Encodes `value` into header + raw MessagePack (payload under `thresholdBytes`) or header + zstd frame. */
  encode(value: unknown): Uint8Array;
  /** Decodes bytes made by `encode`. Throws {@link SerializeError} for anything malformed. */
  decode(bytes: Uint8Array): unknown;
  /**
   * {@link Codec.decode}, except that a value that is one uncompressed typed array whose elements sit aligned
   * in `bytes` comes back as a view of `bytes` instead of a copy. Only for bytes the caller owns and will
   * not change or reuse: the view shares their memory and keeps all of them alive. Checked exactly as
   * `decode` checks; anything else decodes exactly as `decode` does.
   */
  decodeInPlace(bytes: Uint8Array): unknown;
  /** Same bytes as `encode`, produced in slices that each block the event loop for about 5 ms at most. */
  encodeAsync(value: unknown): Promise<Uint8Array>;
  /**
   * Same result as `decode`, in slices that each block the event loop for about 5 ms at most. Leave `bytes`
   * unchanged until the promise settles: they are checksummed first and read in later slices.
   */
  decodeAsync(bytes: Uint8Array): Promise<unknown>;
  /** A Readable that emits the same bytes as `encode(value)` in chunks (of about 64 KiB for compressed output). */
  encodeStream(value: unknown): Readable;
  /** Decodes a value from a stream of chunks (as produced by `encodeStream` or `encode`), decompressing as they arrive. */
  decodeStream(source: ByteSource): Promise<unknown>;
}

/** Internal: everything the async and stream paths need from a codec. */
export interface CodecCore {
  readonly options: ResolvedSerializeOptions;
  readonly zstd: Zstd;
  readonly encode: (value: unknown) => Uint8Array;
  readonly decode: (bytes: Uint8Array) => unknown;
}

/** Creates a {@link Codec}. Options are validated here: bad ones throw `E_SERIALIZE_INVALID_OPTION`. */
export function createCodec(opts?: SerializeOptions): Codec {
  const options = resolveOptions(opts);
  const { thresholdBytes, maxBytes } = options;
  const zstd = new Zstd(options);

  const encode = (value: unknown): Uint8Array => {
    const packed = packTransient(value, HEADER_BYTES);
    const payloadLength = packed.byteLength - HEADER_BYTES;
    if (payloadLength > maxBytes) {
      throw new TooLargeError(
        `encoded payload is ${payloadLength} bytes, over maxBytes ${maxBytes}`,
      );
    }
    if (payloadLength < thresholdBytes) {
      // An exact-size copy out of the scratch buffer, as a plain Uint8Array (Buffer#slice would not copy).
      const out = new Uint8Array(uninitializedBuffer(packed.byteLength));
      out.set(packed);
      return seal(out, CODEC_RAW);
    }
    return zstd.compressFramed(packed.subarray(HEADER_BYTES));
  };

  const decodeWith = (bytes: Uint8Array, inPlace: boolean): unknown => {
    const header = parseHeader(bytes, maxBytes);
    const body = bodyOf(bytes, header);
    checkCrc(crc32(body), header.crc);
    if (header.codec === CODEC_RAW) {
      return (inPlace ? wholeTypedArrayView(body) : undefined) ?? unpackValue(body);
    }
    const payload = zstd.decompress(body, header.dictionary, maxBytes);
    // A value that is one large typed array is handed out in place: the decompressed buffer is
    // ours alone, so copying its elements out would only cost a pass over them.
    return wholeTypedArrayView(payload) ?? unpackValue(payload);
  };
  const decode = (bytes: Uint8Array): unknown => decodeWith(bytes, false);

  const core: CodecCore = { options, zstd, encode, decode };
  return Object.freeze({
    options,
    encode,
    decode,
    decodeInPlace: (bytes: Uint8Array) => decodeWith(bytes, true),
    encodeAsync: (value: unknown) => encodeAsyncImpl(core, value),
    decodeAsync: (bytes: Uint8Array) => decodeAsyncImpl(core, bytes),
    encodeStream: (value: unknown) => encodeStreamImpl(core, value),
    decodeStream: (source: ByteSource) => decodeStreamImpl(core, source),
  });
}

let defaultCodec: Codec | undefined;
const codecsByOptions = new WeakMap<SerializeOptions, Codec>();

/** The codec for `opts`: the shared default one, or one cached per options object (resolved once). */
export function codecFor(opts: SerializeOptions | undefined): Codec {
  if (opts === undefined) return (defaultCodec ??= createCodec());
  let codec = codecsByOptions.get(opts);
  if (codec === undefined) {
    codec = createCodec(opts);
    codecsByOptions.set(opts, codec);
  }
  return codec;
}

/**
 * Encodes `value` with default options, or with `opts` (resolved once per options object and cached).
 * @returns header + raw MessagePack, or header + zstd frame; see the README for the byte layout.
 */
export function encode(value: unknown, opts?: SerializeOptions): Uint8Array {
  return codecFor(opts).encode(value);
}

/** Decodes bytes made by {@link encode}. `opts` supplies `maxBytes` and `dictionary`. */
export function decode(bytes: Uint8Array, opts?: SerializeOptions): unknown {
  return codecFor(opts).decode(bytes);
}

/** {@link Codec.decodeInPlace} with default options, or with `opts` (for `maxBytes` and `dictionary`). */
export function decodeInPlace(bytes: Uint8Array, opts?: SerializeOptions): unknown {
  return codecFor(opts).decodeInPlace(bytes);
}

/**
 * Bytes of an encoded value that {@link inPlaceOffset} reads (the 12-byte header and the 6-byte ext 32
 * header after it); where the elements of a value read in place start.
 */
export const IN_PLACE_PROBE_BYTES = HEADER_BYTES + EXT32_HEADER_BYTES;

/**
 * Where {@link decodeInPlace} would find the elements of the encoded value that starts `bytes`: their
 * offset from the start of `bytes` ({@link IN_PLACE_PROBE_BYTES}) when the value is one uncompressed typed
 * array of 64 KiB or more, else undefined (a compressed value, or any other value, is not read in place
 * from `bytes`). A writer or reader that places such values so that this offset lands on a multiple of the
 * element size lets `decodeInPlace` skip the copy. Reads only the first {@link IN_PLACE_PROBE_BYTES} bytes
 * (give it at least those); nothing is checksummed.
 * @throws {SerializeError} for a bad or truncated header
 */
export function inPlaceOffset(bytes: Uint8Array, opts?: SerializeOptions): number | undefined {
  const header = parseHeader(bytes, codecFor(opts).options.maxBytes);
  if (header.codec !== CODEC_RAW) return undefined;
  return typedArrayExtAt(bytes, HEADER_BYTES, header.bodyLength) === undefined
    ? undefined
    : IN_PLACE_PROBE_BYTES;
}

/**
 * What the header of the encoded value that starts `bytes` says, to split values written one after
 * another: `byteLength` (the header plus the body length it gives) and `crc32` (the body's CRC-32
 * it carries). Only the header is checked (magic, version, flags, body length against
 * `opts.maxBytes`); decoding the value checks the rest.
 * @throws {SerializeError} for a bad or truncated header
 */
export function encodedHeader(
  bytes: Uint8Array,
  opts?: SerializeOptions,
): { readonly byteLength: number; readonly crc32: number } {
  const header = parseHeader(bytes, codecFor(opts).options.maxBytes);
  return { byteLength: HEADER_BYTES + header.bodyLength, crc32: header.crc };
}

/** {@link encode} in slices that keep the event loop responsive (for payloads over about 1 MiB). */
export function encodeAsync(value: unknown, opts?: SerializeOptions): Promise<Uint8Array> {
  return codecFor(opts).encodeAsync(value);
}

/** {@link decode} in slices that keep the event loop responsive (for payloads over about 1 MiB). */
export function decodeAsync(bytes: Uint8Array, opts?: SerializeOptions): Promise<unknown> {
  return codecFor(opts).decodeAsync(bytes);
}

/** A Readable emitting the bytes of `encode(value, opts)` in chunks. */
export function encodeStream(value: unknown, opts?: SerializeOptions): Readable {
  return codecFor(opts).encodeStream(value);
}

/** Decodes one value from a stream/iterable of byte chunks. */
export function decodeStream(source: ByteSource, opts?: SerializeOptions): Promise<unknown> {
  return codecFor(opts).decodeStream(source);
}
