/** Base class of every error thrown by `@peaktrade/data-loader`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_LOADER_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option had an invalid value; names the option, the value and what is allowed. */
export class LoaderOptionError extends PeakTradeError {
  static readonly code = 'E_LOADER_OPTION';
  readonly option: string;
  constructor(option: string, value: unknown, allowed: string) {
    super(
      LoaderOptionError.code,
      `Invalid option ${option} = ${String(value)}: expected ${allowed}`,
    );
    this.option = option;
  }
}

/** A payload could not be turned into valid OHLCV columns. Names the symbol, the row or field, and the reason. */
export class DataValidationError extends PeakTradeError {
  static readonly code = 'E_LOADER_INVALID_DATA';
  readonly symbol: string;
  /** 0-based data row (not counting a CSV header), when the problem is in one row. */
  readonly row: number | undefined;
  /** Column or field name, when the problem is in one field. */
  readonly field: string | undefined;
  readonly reason: string;
  constructor(
    symbol: string,
    reason: string,
    where: { row?: number; field?: string } = {},
    options?: ErrorOptions,
  ) {
    const at = [
      where.row !== undefined ? `row ${where.row}` : '',
      where.field !== undefined ? `field "${where.field}"` : '',
    ]
      .filter(Boolean)
      .join(', ');
    super(
      DataValidationError.code,
      `Invalid data for ${symbol}${at ? ` at ${at}` : ''}: ${reason}`,
      options,
    );
    this.symbol = symbol;
    this.row = where.row;
    this.field = where.field;
    this.reason = reason;
  }
}

/** An HTTP response had a non-2xx status. */
export class HttpStatusError extends PeakTradeError {
  static readonly code = 'E_LOADER_HTTP_STATUS';
  readonly status: number;
  readonly url: string;
  /** Delay the server asked for through `Retry-After`, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  constructor(url: string, status: number, retryAfterMs: number | undefined) {
    super(
      HttpStatusError.code,
      `GET ${url} answered HTTP ${status}${retryAfterMs !== undefined ? ` (Retry-After ${retryAfterMs} ms)` : ''}`,
    );
    this.status = status;
    this.url = url;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The connection failed before a whole response arrived: refused, reset, or closed early (a body
 * shorter than its Content-Length, a chunked body without its last chunk). Transient: retried by
 * default. `cause` is the socket's error, when there was one.
 */
export class HttpConnectionError extends PeakTradeError {
  static readonly code = 'E_LOADER_HTTP_CONNECTION';
  readonly url: string;
  constructor(url: string, reason: string, options?: ErrorOptions) {
    super(HttpConnectionError.code, `GET ${url}: ${reason}`, options);
    this.url = url;
  }
}

/**
 * The server's answer is not valid HTTP/1.1 (a bad status line or header, headers over the size
 * limit, a bad chunk size, a body over the size limit). Final: not retried by default.
 */
export class HttpProtocolError extends PeakTradeError {
  static readonly code = 'E_LOADER_HTTP_PROTOCOL';
  readonly url: string;
  constructor(url: string, reason: string) {
    super(HttpProtocolError.code, `GET ${url}: ${reason}`);
    this.url = url;
  }
}

/** One attempt ran past its timeout. */
export class LoadTimeoutError extends PeakTradeError {
  static readonly code = 'E_LOADER_TIMEOUT';
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super(LoadTimeoutError.code, `${what} timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's AbortSignal fired. */
export class LoadAbortedError extends PeakTradeError {
  static readonly code = 'E_LOADER_ABORTED';
  constructor(what: string, options?: ErrorOptions) {
    super(LoadAbortedError.code, `${what} was aborted`, options);
  }
}

/** Every attempt failed; `cause` is the last attempt's error, `attempts` how many were made. */
export class LoadFailedError extends PeakTradeError {
  // Typed as string so that a subclass can have its own code.
  static readonly code: string = 'E_LOADER_FAILED';
  readonly symbol: string;
  readonly attempts: number;
  /**
   * @param detail for subclasses: their own code, and the reason to state instead of the
   *   cause's message.
   */
  constructor(
    symbol: string,
    attempts: number,
    cause: unknown,
    detail?: { readonly code: string; readonly reason: string },
  ) {
    const why = detail?.reason ?? messageOf(cause);
    super(
      detail?.code ?? LoadFailedError.code,
      `Loading ${symbol} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${why}`,
      { cause },
    );
    this.symbol = symbol;
    this.attempts = attempts;
  }
}

/** A retry policy callback that {@link RetryCallbackError} reports. */
export type RetryCallbackName = 'isRetryable' | 'onRetry' | 'sleep';

/**
 * A callback of the retry policy failed, so the load stopped there instead of retrying:
 * `isRetryable` or `onRetry` threw, or `sleep` threw or rejected (other than because the load's
 * signal aborted, which is a {@link LoadAbortedError}), either in a backoff wait or while the
 * load waited for a rate-limit token. `callback` says which, `during` where. A
 * {@link LoadFailedError}: `cause` is what the callback threw, `attemptError` the error of the
 * attempt it was called for. Nothing is cached; other loads are not affected.
 */
export class RetryCallbackError extends LoadFailedError {
  static override readonly code = 'E_LOADER_RETRY_CALLBACK';
  /**
   * The error of the failed attempt that the callback was called to retry; for a rate-limit wait,
   * the previous attempt's error (undefined before the first attempt).
   */
  readonly attemptError: unknown;
  /** Which callback failed. */
  readonly callback: RetryCallbackName;
  /**
   * Where it was called: `'retry'` after a failed attempt (`isRetryable`, `onRetry`, the backoff
   * `sleep`), `'rateLimit'` waiting for a rate-limit token before an attempt (`sleep`).
   */
  readonly during: 'retry' | 'rateLimit';
  /** The rate-limit key waited for (the URL's host for HTTP), when `during` is `'rateLimit'`. */
  readonly rateLimitKey: string | undefined;
  /**
   * @param rateLimitKey given when `sleep` failed waiting for a token of this rate-limit key
   *   before attempt `attempts + 1`, rather than in a retry.
   */
  constructor(
    symbol: string,
    attempts: number,
    callbackError: unknown,
    attemptError: unknown,
    callback: RetryCallbackName = 'onRetry',
    rateLimitKey?: string,
  ) {
    let what: string;
    if (rateLimitKey !== undefined) {
      what =
        `${callback} failed (${messageOf(callbackError)}) waiting for a rate-limit token for ` +
        `${JSON.stringify(rateLimitKey)} before attempt ${attempts + 1}`;
      if (attempts > 0) what += ` (attempt ${attempts} failed: ${messageOf(attemptError)})`;
    } else {
      what =
        callback === 'isRetryable'
          ? `isRetryable threw (${messageOf(callbackError)}) deciding whether to retry after`
          : callback === 'sleep'
            ? `sleep failed (${messageOf(callbackError)}) waiting to retry after`
            : `onRetry threw (${messageOf(callbackError)}) before retrying after`;
      what += `: ${messageOf(attemptError)}`;
    }
    super(symbol, attempts, callbackError, { code: RetryCallbackError.code, reason: what });
    this.attemptError = attemptError;
    this.callback = callback;
    this.during = rateLimitKey === undefined ? 'retry' : 'rateLimit';
    this.rateLimitKey = rateLimitKey;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Every error class of this package, by name. */
export const errors = {
  PeakTradeError,
  LoaderOptionError,
  DataValidationError,
  HttpStatusError,
  HttpConnectionError,
  HttpProtocolError,
  LoadTimeoutError,
  LoadAbortedError,
  LoadFailedError,
  RetryCallbackError,
};
