/** Base class of every error thrown by `@peaktrade/cache-disk`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_CACHE_DISK_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * An option given to `new DiskTier(...)`, or an argument of a call (`ttlMs`, `tags`, a key),
 * is invalid. The message names the parameter, the value given and what is allowed.
 */
export class DiskTierOptionError extends PeakTradeError {
  static readonly code = 'E_CACHE_DISK_OPTION';
  /** The option or argument name, e.g. `maxBytes`. */
  readonly option: string;
  /** The value that was given. */
  readonly value: unknown;
  constructor(option: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super(
      DiskTierOptionError.code,
      `Invalid DiskTier ${option}: got ${describe(value)}; expected ${allowed}`,
      options,
    );
    this.option = option;
    this.value = value;
  }
}

/**
 * The cache file is not a SQLite database, or SQLite reports it corrupt (at open, by the
 * integrity check, or later by a statement). Thrown under `onCorrupt: 'throw'`; under
 * `'recreate'` the file is moved aside instead and this error is only the `cause` of the
 * `recreated` event (or rejects the one call that met corruption at run time).
 */
export class DiskCorruptError extends PeakTradeError {
  static readonly code = 'E_CACHE_DISK_CORRUPT';
  /** The cache file path. */
  readonly file: string;
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(
      DiskCorruptError.code,
      `Cache file ${file} is not a usable SQLite database: ${detail}`,
      options,
    );
    this.file = file;
  }
}

/**
 * The file is a valid SQLite database but not one this version can use: another application's
 * database, or a cache written by a newer `@peaktrade/cache-disk` (schema version too high).
 * Never "recovered" by moving the file aside, because it is not corrupt.
 */
export class DiskSchemaError extends PeakTradeError {
  static readonly code = 'E_CACHE_DISK_SCHEMA';
  /** The cache file path. */
  readonly file: string;
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(DiskSchemaError.code, `Cache file ${file} cannot be used: ${detail}`, options);
    this.file = file;
  }
}

/**
 * SQLite failed for a reason other than corruption: the file is locked by another process for
 * longer than `busyTimeoutMs` (`sqliteCode` `SQLITE_BUSY`), the disk is full, permissions...
 */
export class DiskStorageError extends PeakTradeError {
  static readonly code = 'E_CACHE_DISK_STORAGE';
  /** SQLite's error code, e.g. `SQLITE_BUSY`, `SQLITE_FULL`; undefined for non-SQLite failures. */
  readonly sqliteCode: string | undefined;
  constructor(
    operation: string,
    file: string,
    sqliteCode: string | undefined,
    options?: ErrorOptions,
  ) {
    const reason = options?.cause instanceof Error ? options.cause.message : String(options?.cause);
    super(
      DiskStorageError.code,
      `DiskTier ${operation} failed on ${file}${sqliteCode === undefined ? '' : ` (${sqliteCode})`}: ${reason}`,
      options,
    );
    this.sqliteCode = sqliteCode;
  }
}

/** A stored value could not be decoded by the tier's codec (the `cause` is the codec's error). */
export class DiskValueError extends PeakTradeError {
  static readonly code = 'E_CACHE_DISK_VALUE';
  /** The key whose value failed. */
  readonly key: string;
  constructor(key: string, operation: 'encode' | 'decode', options?: ErrorOptions) {
    super(
      DiskValueError.code,
      `DiskTier could not ${operation} the value of key ${JSON.stringify(key)}`,
      options,
    );
    this.key = key;
  }
}

/** A method was called after `close()`. */
export class DiskTierClosedError extends PeakTradeError {
  static readonly code = 'E_CACHE_DISK_CLOSED';
  constructor(file: string, operation: string) {
    super(DiskTierClosedError.code, `DiskTier on ${file} is closed; cannot ${operation}`);
  }
}

/** Every error class of this package, by name. */
export const errors = {
  PeakTradeError,
  DiskTierOptionError,
  DiskCorruptError,
  DiskSchemaError,
  DiskStorageError,
  DiskValueError,
  DiskTierClosedError,
};

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'function') return 'a function';
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}
