/** Base class of every error thrown by `@peaktrade/cache-redis`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_REDIS_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option had an invalid value; names the option, the value and what is allowed. */
export class RedisOptionError extends PeakTradeError {
  static readonly code = 'E_REDIS_OPTION';
  readonly option: string;
  constructor(option: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super(
      RedisOptionError.code,
      `Invalid option ${option} = ${show(value)}: expected ${allowed}`,
      options,
    );
    this.option = option;
  }
}

/** A value as the user wrote it: NaN and Infinity as such (JSON would say null), never a throw. */
function show(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The circuit breaker is open: L2 is skipped without contacting Redis. */
export class CircuitOpenError extends PeakTradeError {
  static readonly code = 'E_REDIS_CIRCUIT_OPEN';
  /** Milliseconds until the breaker lets one probe through. */
  readonly retryInMs: number;
  constructor(tier: string, retryInMs: number) {
    super(
      CircuitOpenError.code,
      `${tier}: circuit open after repeated Redis failures; next probe in ${Math.ceil(retryInMs)} ms`,
    );
    this.retryInMs = retryInMs;
  }
}

/** A Redis command failed (timeout, connection down, server error). `cause` is ioredis's error. */
export class RedisCommandError extends PeakTradeError {
  static readonly code = 'E_REDIS_COMMAND';
  readonly op: string;
  constructor(tier: string, op: string, options?: ErrorOptions) {
    const why = options?.cause instanceof Error ? options.cause.message : String(options?.cause);
    super(RedisCommandError.code, `${tier}: ${op} failed: ${why}`, options);
    this.op = op;
  }
}

/** Waiting for another process's load (distributed single-flight) ran past `waitMs`. */
export class LeaseWaitTimeoutError extends PeakTradeError {
  static readonly code = 'E_REDIS_LEASE_WAIT';
  constructor(key: string, waitMs: number) {
    super(LeaseWaitTimeoutError.code, `Waited ${waitMs} ms for another process to load "${key}"`);
  }
}

/**
 * A value's encoded bytes are longer than `maxValueBytes` (by default 512 MiB, Redis' default
 * `proto-max-bulk-len`), so Redis would refuse them. Raised before anything is sent: the write
 * stores nothing and does not count as a Redis failure.
 */
export class ValueTooLargeError extends PeakTradeError {
  static readonly code = 'E_REDIS_VALUE_TOO_LARGE';
  /** The cache key of the value. */
  readonly key: string;
  /** Its encoded size, in bytes. */
  readonly bytes: number;
  /** The limit it is over, in bytes (the tier's `maxValueBytes`). */
  readonly maxValueBytes: number;
  /** `form`: what was measured, `encoded` (a write) or `as a bus broadcast` (coalesce). */
  constructor(tier: string, key: string, bytes: number, maxValueBytes: number, form = 'encoded') {
    super(
      ValueTooLargeError.code,
      `${tier}: value of key ${JSON.stringify(key)} is ${bytes} bytes ${form}, over maxValueBytes ${maxValueBytes} ` +
        `(Redis refuses a value longer than its proto-max-bulk-len; raise both to store it)`,
    );
    this.key = key;
    this.bytes = bytes;
    this.maxValueBytes = maxValueBytes;
  }
}

/** Every error class of this package, by name. */
export const errors = {
  PeakTradeError,
  RedisOptionError,
  CircuitOpenError,
  RedisCommandError,
  LeaseWaitTimeoutError,
  ValueTooLargeError,
};
