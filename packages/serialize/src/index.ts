export {
  createCodec,
  encode,
  decode,
  decodeInPlace,
  inPlaceOffset,
  IN_PLACE_PROBE_BYTES,
  encodeAsync,
  decodeAsync,
  encodeStream,
  decodeStream,
  encodedHeader,
} from './codec.js';
export type { Codec, ByteSource } from './codec.js';
export {
  resolveOptions,
  DEFAULT_LEVEL,
  DEFAULT_THRESHOLD_BYTES,
  DEFAULT_MAX_BYTES,
  MAX_MAX_BYTES,
} from './options.js';
export type { SerializeOptions, ResolvedSerializeOptions } from './options.js';
export {
  ExtType,
  FORMAT_VERSION,
  CODEC_RAW,
  CODEC_ZSTD,
  FLAG_DICTIONARY,
  HEADER_BYTES,
} from './format.js';
export { MAX_DEPTH } from './msgpack.js';
export { crc32Implementation } from './crc.js';
export {
  PeakTradeError,
  SerializeError,
  InvalidOptionError,
  InvalidInputError,
  BadMagicError,
  UnsupportedVersionError,
  TruncatedError,
  ChecksumError,
  CorruptError,
  TooLargeError,
  DictionaryError,
  UnsupportedTypeError,
  errors,
} from './errors.js';
export type { SerializeErrorCode } from './errors.js';
