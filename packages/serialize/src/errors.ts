/** Base class of every error thrown by `@peaktrade/serialize`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_SERIALIZE_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Every code a {@link SerializeError} can carry. */
export type SerializeErrorCode =
  | 'E_SERIALIZE_INVALID_OPTION'
  | 'E_SERIALIZE_INVALID_INPUT'
  | 'E_SERIALIZE_BAD_MAGIC'
  | 'E_SERIALIZE_UNSUPPORTED_VERSION'
  | 'E_SERIALIZE_TRUNCATED'
  | 'E_SERIALIZE_CHECKSUM'
  | 'E_SERIALIZE_CORRUPT'
  | 'E_SERIALIZE_TOO_LARGE'
  | 'E_SERIALIZE_DICTIONARY'
  | 'E_SERIALIZE_UNSUPPORTED_TYPE';

/**
 * Every error of this package. `code` says which problem it is; the subclasses below each fix one code,
 * so `err instanceof SerializeError && err.code === 'E_SERIALIZE_CHECKSUM'` and
 * `err instanceof ChecksumError` are equivalent.
 */
export class SerializeError extends PeakTradeError {
  declare readonly code: SerializeErrorCode;
  constructor(code: SerializeErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** An option passed to `createCodec`/`encode`/`decode` is out of range. Thrown at construction time. */
export class InvalidOptionError extends SerializeError {
  static readonly code = 'E_SERIALIZE_INVALID_OPTION';
  constructor(message: string, options?: ErrorOptions) {
    super(InvalidOptionError.code, message, options);
  }
}

/** `decode` was given something that is not a `Uint8Array` (or a stream chunk that is not bytes). */
export class InvalidInputError extends SerializeError {
  static readonly code = 'E_SERIALIZE_INVALID_INPUT';
  constructor(message: string, options?: ErrorOptions) {
    super(InvalidInputError.code, message, options);
  }
}

/** The first two bytes are not the `PT` magic: this is not a serialized value (or the start is damaged). */
export class BadMagicError extends SerializeError {
  static readonly code = 'E_SERIALIZE_BAD_MAGIC';
  constructor(message: string, options?: ErrorOptions) {
    super(BadMagicError.code, message, options);
  }
}

/** The header carries a format version this build cannot read. */
export class UnsupportedVersionError extends SerializeError {
  static readonly code = 'E_SERIALIZE_UNSUPPORTED_VERSION';
  constructor(message: string, options?: ErrorOptions) {
    super(UnsupportedVersionError.code, message, options);
  }
}

/** The input ends before the header, the raw payload or the zstd frame does. */
export class TruncatedError extends SerializeError {
  static readonly code = 'E_SERIALIZE_TRUNCATED';
  constructor(message: string, options?: ErrorOptions) {
    super(TruncatedError.code, message, options);
  }
}

/** The CRC-32 of a raw payload or the XXH64 content checksum of a zstd frame does not match: bytes were altered. */
export class ChecksumError extends SerializeError {
  static readonly code = 'E_SERIALIZE_CHECKSUM';
  constructor(message: string, options?: ErrorOptions) {
    super(ChecksumError.code, message, options);
  }
}

/** The bytes are structurally invalid: reserved flags, a broken zstd frame, invalid MessagePack, trailing bytes. */
export class CorruptError extends SerializeError {
  static readonly code = 'E_SERIALIZE_CORRUPT';
  constructor(message: string, options?: ErrorOptions) {
    super(CorruptError.code, message, options);
  }
}

/** The payload (encoded or decoded size) is larger than the configured `maxBytes`. */
export class TooLargeError extends SerializeError {
  static readonly code = 'E_SERIALIZE_TOO_LARGE';
  constructor(message: string, options?: ErrorOptions) {
    super(TooLargeError.code, message, options);
  }
}

/** The frame needs a zstd dictionary that was not configured, or was made with a different one. */
export class DictionaryError extends SerializeError {
  static readonly code = 'E_SERIALIZE_DICTIONARY';
  constructor(message: string, options?: ErrorOptions) {
    super(DictionaryError.code, message, options);
  }
}

/**
 * `encode` met a value it cannot represent faithfully (function, symbol, class instance, cycle, a string
 * with a lone surrogate, which UTF-8 cannot hold, ...). The message says what, and for strings where.
 */
export class UnsupportedTypeError extends SerializeError {
  static readonly code = 'E_SERIALIZE_UNSUPPORTED_TYPE';
  constructor(message: string, options?: ErrorOptions) {
    super(UnsupportedTypeError.code, message, options);
  }
}

/** Every error class of this package, by name. */
export const errors = {
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
};
