import {
  HttpConnectionError,
  HttpStatusError,
  LoadAbortedError,
  LoaderOptionError,
  LoadFailedError,
  LoadTimeoutError,
  RetryCallbackError,
} from './errors.js';
import { sleep as defaultSleep, type Sleep } from './rate-limit.js';

/** Retry policy: exponential backoff with full jitter, honouring Retry-After. */
export interface RetryOptions {
  /** Retries after the first attempt (default 3). */
  readonly retries?: number;
  /** Backoff base in milliseconds: attempt n waits random(0, min(maxDelayMs, baseDelayMs * 2^n)) (default 100). */
  readonly baseDelayMs?: number;
  /** Upper bound of one backoff wait, in milliseconds (default 10 000). */
  readonly maxDelayMs?: number;
  /** Retry-After longer than this many milliseconds is not waited for: the load fails instead (default 60 000). */
  readonly maxRetryAfterMs?: number;
  /**
   * Whether an error is worth retrying (default: {@link isTransient}). If it throws, no retry is
   * made: the load fails with {@link RetryCallbackError} (`callback: 'isRetryable'`), whose
   * `cause` is what it threw.
   */
  readonly isRetryable?: (error: unknown) => boolean;
  /** Random source in [0, 1), for tests (default Math.random). */
  readonly random?: () => number;
  /**
   * Sleep function, for tests (default: timers). If a backoff wait throws or rejects, no retry is
   * made: the load fails with {@link RetryCallbackError} (`callback: 'sleep'`), whose `cause` is
   * the error, unless the load's signal has aborted, which is a {@link LoadAbortedError} as
   * usual. A `DataLoader` also waits for its rate limit with it: a failure there stops the load
   * the same way, with a {@link RetryCallbackError} whose `during` is `'rateLimit'`.
   */
  readonly sleep?: Sleep;
  /**
   * Called before each wait with the attempt number (1-based) and the delay chosen. If it
   * throws, no retry is made: the load fails with {@link RetryCallbackError}, whose `cause` is
   * what it threw.
   */
  readonly onRetry?: (attempt: number, delayMs: number, error: unknown) => void;
}

/** Resolved retry policy (options are resolved once, not per call). */
export interface RetryPolicy {
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;
  readonly isRetryable: (error: unknown) => boolean;
  readonly random: () => number;
  readonly sleep: Sleep;
  readonly onRetry: ((attempt: number, delayMs: number, error: unknown) => void) | undefined;
}

/**
 * Default retryable test: timeouts, connection errors (reset, refused, socket hang-up,
 * truncated bodies; not an unknown host name) and HTTP 408, 425, 429, 500, 502, 503, 504. Validation errors and other
 * 4xx are final.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof LoadTimeoutError) return true;
  if (error instanceof HttpStatusError)
    return [408, 425, 429, 500, 502, 503, 504].includes(error.status);
  if (error instanceof LoadAbortedError) return false;
  // A connection that failed or closed early is worth another try; a host name that does not
  // resolve is not (as with undici's errors below).
  if (error instanceof HttpConnectionError)
    return (error.cause as { code?: unknown } | undefined)?.code !== 'ENOTFOUND';
  const code =
    (error as { code?: unknown; cause?: { code?: unknown } } | null)?.cause?.code ??
    (error as { code?: unknown } | null)?.code;
  if (
    typeof code === 'string' &&
    /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|UND_ERR_SOCKET|UND_ERR_CLOSED|ERR_STREAM_PREMATURE_CLOSE|UND_ERR_RES_CONTENT_LENGTH_MISMATCH)$/.test(
      code,
    )
  )
    return true;
  return (
    error instanceof TypeError && /fetch failed|terminated|other side closed/i.test(error.message)
  );
}

/** Resolve and validate retry options once. */
export function resolveRetryPolicy(options: RetryOptions = {}): RetryPolicy {
  const retries = options.retries ?? 3;
  if (!Number.isInteger(retries) || retries < 0)
    throw new LoaderOptionError('retries', retries, 'an integer >= 0');
  const baseDelayMs = options.baseDelayMs ?? 100;
  if (!(baseDelayMs >= 0) || !Number.isFinite(baseDelayMs))
    throw new LoaderOptionError('baseDelayMs', baseDelayMs, 'a finite number >= 0');
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  if (!(maxDelayMs >= baseDelayMs))
    throw new LoaderOptionError(
      'maxDelayMs',
      maxDelayMs,
      `a number >= baseDelayMs (${baseDelayMs})`,
    );
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  if (!(maxRetryAfterMs >= 0))
    throw new LoaderOptionError('maxRetryAfterMs', maxRetryAfterMs, 'a number >= 0');
  return {
    retries,
    baseDelayMs,
    maxDelayMs,
    maxRetryAfterMs,
    isRetryable: options.isRetryable ?? isTransient,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? defaultSleep,
    onRetry: options.onRetry,
  };
}

/** Delay before retry number `attempt` (1-based): Retry-After when the server gave one, else full jitter. */
export function retryDelay(policy: RetryPolicy, attempt: number, error: unknown): number {
  if (error instanceof HttpStatusError && error.retryAfterMs !== undefined)
    return error.retryAfterMs;
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return policy.random() * cap;
}

/** A rate-limit wait that {@link withRetry} makes before every attempt. */
export interface RateLimitWait {
  /**
   * The key to wait for (the URL's host for HTTP), asked for before each attempt. A throw here is
   * that attempt's failure, like one of the attempt itself.
   */
  readonly key: () => string;
  /**
   * Resolves when the attempt may start. It waits with the retry policy's `sleep` (as
   * `KeyedRateLimiter.acquire` does), so a failure that is not an abort is reported as the
   * `sleep` callback's.
   */
  readonly acquire: (key: string, signal: AbortSignal | undefined) => Promise<void>;
}

/**
 * Run `attempt` until it succeeds, the error is not retryable, retries run out, or `signal`
 * aborts. Resolves the first success. With `rateLimit`, each attempt first waits for its token.
 * @throws {LoadFailedError} wrapping the last error (its `cause`) after the final attempt.
 * @throws {RetryCallbackError} (a LoadFailedError) when `policy.isRetryable` or `policy.onRetry`
 *   throws, or `policy.sleep` throws or rejects while `signal` has not aborted, in a backoff wait
 *   (`during: 'retry'`) or in `rateLimit.acquire` (`during: 'rateLimit'`, `attempts` counting the
 *   attempts made before it).
 * @throws {LoadAbortedError} when the signal aborts.
 */
export async function withRetry<T>(
  what: string,
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  signal?: AbortSignal,
  rateLimit?: RateLimitWait,
): Promise<T> {
  let lastError: unknown;
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw new LoadAbortedError(what, { cause: signal.reason });
    // The rate-limit key while its token is awaited.
    let waitingFor: string | undefined;
    try {
      if (rateLimit) {
        const key = rateLimit.key();
        waitingFor = key;
        await rateLimit.acquire(key, signal);
        waitingFor = undefined;
      }
      return await attempt(n);
    } catch (error) {
      if (waitingFor !== undefined) {
        // The wait failed, not an attempt: it is never retried, and like a failed backoff wait it
        // is the abort or the sleep's failure.
        if (error instanceof LoadAbortedError) throw error;
        if (signal?.aborted) throw new LoadAbortedError(what, { cause: signal.reason });
        throw new RetryCallbackError(what, n - 1, error, lastError, 'sleep', waitingFor);
      }
      lastError = error;
      if (error instanceof LoadAbortedError) throw error;
      const tooLong =
        error instanceof HttpStatusError &&
        error.retryAfterMs !== undefined &&
        error.retryAfterMs > policy.maxRetryAfterMs;
      if (n > policy.retries || tooLong) throw new LoadFailedError(what, n, error);
      // The policy's callbacks are the caller's code: whatever they throw stops this load with
      // an error that says so, and never escapes in place of a load error.
      let retryable: boolean;
      try {
        retryable = policy.isRetryable(error);
      } catch (callbackError) {
        throw new RetryCallbackError(what, n, callbackError, error, 'isRetryable');
      }
      if (!retryable) throw new LoadFailedError(what, n, error);
      const delay = retryDelay(policy, n, error);
      if (policy.onRetry) {
        try {
          policy.onRetry(n, delay, error);
        } catch (callbackError) {
          throw new RetryCallbackError(what, n, callbackError, error, 'onRetry');
        }
      }
      try {
        await policy.sleep(delay, signal);
      } catch (sleepError) {
        // A wait cut short by the abort is the abort (the default sleep rejects with
        // LoadAbortedError; others may reject with the signal's reason).
        if (sleepError instanceof LoadAbortedError) throw sleepError;
        if (signal?.aborted) throw new LoadAbortedError(what, { cause: signal.reason });
        throw new RetryCallbackError(what, n, sleepError, error, 'sleep');
      }
    }
  }
}

/** `delay-seconds` (RFC 9110 allows digits only; a fraction is accepted as harmless). */
const RETRY_AFTER_SECONDS = /^\d+(?:\.\d+)?$/;
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
/** The three HTTP-date forms: IMF-fixdate, obsolete RFC 850 and asctime (RFC 9110 §5.6.7). */
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`);
const RFC_850 = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`,
);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`);

/**
 * Parse a Retry-After header (seconds or an HTTP date) into milliseconds from `now`; undefined
 * when it is neither. Only those exact forms are read: `Number()` would take "-5", "0x10" or
 * "1e3", and `Date.parse()` takes almost anything holding a digit ("soon 12" is a date in
 * 2001), turning garbage into a zero delay (no backoff at all) or into one long enough to fail
 * the load.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (RETRY_AFTER_SECONDS.test(text)) return Number(text) * 1000;
  let date = Number.NaN;
  if (IMF_FIXDATE.test(text) || RFC_850.test(text)) date = Date.parse(text);
  // asctime carries no zone but means GMT; Date.parse alone would read it as local time.
  else if (ASCTIME.test(text)) date = Date.parse(`${text} GMT`);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
