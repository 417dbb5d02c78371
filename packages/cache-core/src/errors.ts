/** Base class of every error thrown by `@peaktrade/cache-core`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_CACHE_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * An option has an invalid value (negative TTL, zero `max`, unknown `cacheLevel`, ...).
 * Thrown at construction time. The message names the option, the value and what is allowed.
 */
export class CacheOptionError extends PeakTradeError {
  static readonly code = 'E_CACHE_OPTION';
  /** Name of the offending option, e.g. `max` or `cacheLevel`. */
  readonly option: string;
  /** The value that was given. */
  readonly value: unknown;
  constructor(option: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super(
      CacheOptionError.code,
      `Invalid cache option ${option} = ${describe(value)}: ${allowed}`,
      options,
    );
    this.option = option;
    this.value = value;
  }
}

/**
 * A `cached()` key cannot be built: an argument cannot be encoded stably (a function, a symbol,
 * a cycle), a custom `key()` returned a string with a lone surrogate, or a default key prefix is
 * already used by a different function (pass an explicit `name`).
 */
export class CacheKeyError extends PeakTradeError {
  static readonly code = 'E_CACHE_KEY';
  /** Where the problem is: an argument path such as `args[1].filter`, `key()`, or `name`. */
  readonly path: string;
  constructor(path: string, detail: string, options?: ErrorOptions) {
    super(CacheKeyError.code, `Cannot build a cache key from ${path}: ${detail}`, options);
    this.path = path;
  }
}

/**
 * A `cacheLevel` names a level (e.g. `'redis'`) for which the cache has no tier configured.
 * Raised on the first call that needs it (tiers may be registered after `cached()` ran).
 */
export class CacheLevelUnavailableError extends PeakTradeError {
  static readonly code = 'E_CACHE_LEVEL_UNAVAILABLE';
  /** The requested level. */
  readonly level: string;
  constructor(level: string, configured: readonly string[], options?: ErrorOptions) {
    super(
      CacheLevelUnavailableError.code,
      `cacheLevel '${level}' was requested but the cache has no such tier (configured: ${configured.length === 0 ? 'none' : configured.join(', ')}); register one (e.g. registerDefaultTier) or use cacheLevel 'memory'`,
      options,
    );
    this.level = level;
  }
}

/** A tier call exceeded its timeout. Only seen in stats and diagnostics events, never by callers. */
export class TierTimeoutError extends PeakTradeError {
  static readonly code = 'E_CACHE_TIER_TIMEOUT';
  /** Tier name. */
  readonly tier: string;
  /** The timeout that elapsed, in milliseconds. */
  readonly timeoutMs: number;
  constructor(tier: string, operation: string, timeoutMs: number) {
    super(
      TierTimeoutError.code,
      `Cache tier ${tier} did not answer ${operation} within ${timeoutMs} ms`,
    );
    this.tier = tier;
    this.timeoutMs = timeoutMs;
  }
}

/** The cache was closed; no further operations are accepted. */
export class CacheClosedError extends PeakTradeError {
  static readonly code = 'E_CACHE_CLOSED';
  constructor() {
    super(CacheClosedError.code, 'The cache has been closed');
  }
}

/** Every error class of this package, by name. */
export const errors = {
  PeakTradeError,
  CacheOptionError,
  CacheKeyError,
  CacheLevelUnavailableError,
  TierTimeoutError,
  CacheClosedError,
};

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}
