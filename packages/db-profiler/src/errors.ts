/** Base class of every error thrown by `@peaktrade/db-profiler`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_DBPROF_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option or argument is invalid. The message names the parameter, the value and what is allowed. */
export class InvalidOptionError extends PeakTradeError {
  static readonly code = 'E_DBPROF_INVALID_OPTION';
  /** Name of the offending parameter, e.g. `opts.chunkSize`. */
  readonly parameter: string;
  constructor(parameter: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super(
      InvalidOptionError.code,
      `Invalid ${parameter}: got ${describeValue(value)}; expected ${allowed}`,
      options,
    );
    this.parameter = parameter;
  }
}

/** A table or column name is not a plain SQL identifier (or does not exist in the table). */
export class InvalidIdentifierError extends PeakTradeError {
  static readonly code = 'E_DBPROF_INVALID_IDENTIFIER';
  /** The rejected identifier, as given. */
  readonly identifier: string;
  constructor(parameter: string, identifier: unknown, rule: string, options?: ErrorOptions) {
    super(
      InvalidIdentifierError.code,
      `Invalid ${parameter}: ${describeValue(identifier)} ${rule}`,
      options,
    );
    this.identifier = String(identifier);
  }
}

/**
 * SQLite refused to prepare a statement (syntax error, unknown table, ...). Carries the SQL text,
 * its fingerprint and SQLite's own error code; the original `SqliteError` is the `cause`.
 */
export class InvalidSqlError extends PeakTradeError {
  static readonly code = 'E_DBPROF_INVALID_SQL';
  /** The SQL text as passed to `prepare`. */
  readonly sql: string;
  /** The normalised fingerprint of `sql` (literals replaced by `?`). */
  readonly fingerprint: string;
  /** Short stable hash of the fingerprint (16 hex chars). */
  readonly fingerprintId: string;
  /** SQLite's error code, e.g. `SQLITE_ERROR`, when the cause carried one. */
  readonly sqliteCode: string | undefined;
  constructor(sql: string, fingerprint: string, fingerprintId: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(
      InvalidSqlError.code,
      `SQLite could not prepare statement: ${detail}\n  SQL: ${sql}\n  fingerprint ${fingerprintId}: ${fingerprint}`,
      { cause },
    );
    this.sql = sql;
    this.fingerprint = fingerprint;
    this.fingerprintId = fingerprintId;
    const code = (cause as { code?: unknown } | null)?.code;
    this.sqliteCode = typeof code === 'string' ? code : undefined;
  }
}

/** Strict-mode N+1 detection: one statement ran more than the threshold times inside one scope. */
export class NPlusOneError extends PeakTradeError {
  static readonly code = 'E_DBPROF_N_PLUS_ONE';
  /** Fingerprint of the repeated statement. */
  readonly fingerprint: string;
  /** How many times it had run in the scope when detection fired (threshold + 1). */
  readonly count: number;
  /** The configured threshold N. */
  readonly threshold: number;
  constructor(fingerprint: string, count: number, threshold: number) {
    super(NPlusOneError.code, nPlusOneMessage(fingerprint, count, threshold));
    this.fingerprint = fingerprint;
    this.count = count;
    this.threshold = threshold;
  }
}

/**
 * A batch write failed. The whole batch was rolled back; `rowIndex` and `row` name the first
 * row SQLite rejected (or `-1` when the failure could not be tied to one row).
 */
export class BatchWriteError extends PeakTradeError {
  static readonly code = 'E_DBPROF_BATCH_FAILED';
  /** Table the batch was writing to. */
  readonly table: string;
  /** 0-based index of the failing row in the input, or -1. */
  readonly rowIndex: number;
  /** The failing row as a column → value object, when known. */
  readonly row: Readonly<Record<string, unknown>> | undefined;
  constructor(
    table: string,
    rowIndex: number,
    row: Readonly<Record<string, unknown>> | undefined,
    cause: unknown,
  ) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const where = rowIndex >= 0 ? `row ${rowIndex} ${describeValue(row)}` : 'an unidentified row';
    super(
      BatchWriteError.code,
      `Batch write into ${table} failed at ${where}: ${detail}. The whole batch was rolled back; nothing was written.`,
      { cause },
    );
    this.table = table;
    this.rowIndex = rowIndex;
    this.row = row;
  }
}

/** `profile()` was called on a Database that already has a profiler attached. */
export class ProfilerAttachedError extends PeakTradeError {
  static readonly code = 'E_DBPROF_ALREADY_ATTACHED';
  constructor() {
    super(
      ProfilerAttachedError.code,
      'This Database already has a profiler attached; call detach() on it before profiling again',
    );
  }
}

/** Every error class of this package, by name. */
export const errors = {
  PeakTradeError,
  InvalidOptionError,
  InvalidIdentifierError,
  InvalidSqlError,
  NPlusOneError,
  BatchWriteError,
  ProfilerAttachedError,
};

/** Message shared by the N+1 warning and {@link NPlusOneError}. */
export function nPlusOneMessage(fingerprint: string, count: number, threshold: number): string {
  return `N+1 query: statement ran ${count} times in one scope (threshold ${threshold}): ${fingerprint}`;
}

/** Short, JSON-ish rendering of a value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  try {
    const json = JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'bigint' ? `${v.toString()}n` : v,
    );
    if (json === undefined) return typeof value;
    return json.length > 200 ? `${json.slice(0, 200)}…` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
