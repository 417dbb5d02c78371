/**
 * Byte-level constants of the serialized format (version 2). See README "Format" for the layout.
 * @module
 */

/** First byte of every serialized value: ASCII `P`. */
export const MAGIC_0 = 0x50;
/** Second byte of every serialized value: ASCII `T`. */
export const MAGIC_1 = 0x54;
/** The only format version this build writes and reads. */
export const FORMAT_VERSION = 2;

/** Flags byte, bits 0-1: the body is raw MessagePack. */
export const CODEC_RAW = 0;
/** Flags byte, bits 0-1: the body is one standard zstd frame (content size + XXH64 content checksum on). */
export const CODEC_ZSTD = 1;
/** Flags byte, bit 2: the zstd frame was compressed with a dictionary. Only valid with {@link CODEC_ZSTD}. */
export const FLAG_DICTIONARY = 0x04;

/**
 * Header bytes before the body: magic (2), version (1), flags (1), body length u32 LE (4),
 * CRC-32 (IEEE, as zlib) of the body u32 LE (4).
 */
export const HEADER_BYTES = 12;

/**
 * MessagePack extension type numbers used inside the payload. Standard types are used where MessagePack has
 * them: Date is the timestamp extension (-1), `-0`/NaN/±Infinity are float 64, BigInts that fit in 64 bits are
 * int 64 / uint 64, `undefined` is fixext 1 type 0 (data 0x00, the msgpackr/notepack convention).
 */
export const ExtType = {
  /** `Map` marker (empty data). A Map is the array `[ext(0x01), k0, v0, k1, v1, ...]`. */
  Map: 0x01,
  /** `Set` marker (empty data). A Set is the array `[ext(0x02), m0, m1, ...]` in insertion order. */
  Set: 0x02,
  /** `BigInt` outside the int 64 / uint 64 range: data is big-endian two's complement. */
  BigInt: 0x03,
  /**
   * An array of 16 or more plain objects with the same keys in the same order and only number values:
   * data is the MessagePack array of the keys, then each key's column of float 64 values (little-endian),
   * column after column. Decodes to the array of objects.
   */
  Table: 0x05,
  /** `ArrayBuffer`: data is the bytes. */
  ArrayBuffer: 0x04,
  /** `Int8Array`: data is the raw elements (1 byte each). */
  Int8Array: 0x10,
  /** `Uint8Array` (and Node `Buffer`, which decodes as `Uint8Array`). */
  Uint8Array: 0x11,
  /** `Uint8ClampedArray`. */
  Uint8ClampedArray: 0x12,
  /** `Int16Array`: little-endian. */
  Int16Array: 0x13,
  /** `Uint16Array`: little-endian. */
  Uint16Array: 0x14,
  /** `Int32Array`: little-endian. */
  Int32Array: 0x15,
  /** `Uint32Array`: little-endian. */
  Uint32Array: 0x16,
  /** `Float32Array`: IEEE 754 binary32, little-endian. */
  Float32Array: 0x17,
  /** `Float64Array`: IEEE 754 binary64, little-endian. */
  Float64Array: 0x18,
  /** `BigInt64Array`: little-endian. */
  BigInt64Array: 0x19,
  /** `BigUint64Array`: little-endian. */
  BigUint64Array: 0x1a,
} as const;
