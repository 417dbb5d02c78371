import { validateColumns, type OhlcvColumns } from './columns.js';
import {
  LoadAbortedError,
  LoaderOptionError,
  LoadFailedError,
  LoadTimeoutError,
} from './errors.js';
import { createLimiter, type Limiter } from './limiter.js';
import { KeyedRateLimiter, type RateLimitOptions } from './rate-limit.js';
import {
  resolveRetryPolicy,
  withRetry,
  type RateLimitWait,
  type RetryOptions,
  type RetryPolicy,
} from './retry.js';
import type { Source } from './sources/types.js';

/**
 * The part of a cache the loader uses: cache-core's `LruCache` and `MultiLevelCache` both
 * fit. Only successful, validated loads are written.
 */
export interface LoaderCache {
  get(key: string): OhlcvColumns | undefined | Promise<OhlcvColumns | undefined>;
  set(key: string, value: OhlcvColumns): unknown;
}

/** Options of {@link DataLoader}. All are resolved once, at construction. */
export interface DataLoaderOptions {
  /** Loads in flight at once across all calls (default 16). */
  readonly concurrency?: number;
  /** Per-key (per-host for HTTP) token bucket; off by default. */
  readonly rateLimit?: RateLimitOptions;
  /** Retry policy (default: 3 retries, 100 ms base, full jitter, Retry-After honoured). */
  readonly retry?: RetryOptions;
  /** Retry sources that declare `idempotent: false` too (default false). */
  readonly retryNonIdempotent?: boolean;
  /** Timeout of one attempt in milliseconds (default 10 000). */
  readonly timeoutMs?: number;
  /**
   * Cache of loaded columns; failures are never cached. Keys are `JSON.stringify([source.name,
   * symbol])`, so sources sharing the cache need names of their own (see `Source.name`); a
   * built-in source that cannot derive one (`anonymous`) is refused while a cache is set.
   */
  readonly cache?: LoaderCache;
  /** Largest number of symbols handed to a source's `loadBatch` at once (default 100). */
  readonly maxBatchSize?: number;
}

/** Options of one load. */
export interface LoadOptions {
  readonly signal?: AbortSignal;
}

/** Progress of {@link DataLoader.loadMany}. */
export interface LoadProgress {
  readonly done: number;
  readonly total: number;
  readonly symbol: string;
  readonly ok: boolean;
}

/** Options of {@link DataLoader.loadMany}. */
export interface LoadManyOptions extends LoadOptions {
  /** At most this many of this call's symbols in flight (within the loader's own limit). */
  readonly concurrency?: number;
  readonly onProgress?: (progress: LoadProgress) => void;
}

/** What {@link DataLoader.loadMany} returns: one bad symbol never loses the others. */
export interface LoadManyResult {
  /** Columns of every symbol that loaded. */
  readonly data: Map<string, OhlcvColumns>;
  /** Why each failed symbol failed. */
  readonly failures: Map<string, Error>;
}

/** Counters of a loader. */
export interface LoaderStats {
  /** Source calls made (attempts, including retries and batch calls). */
  readonly attempts: number;
  /**
   * Retries made, each counted when its attempt starts (after its backoff and rate-limit waits):
   * a retry that `onRetry`, a failed `sleep` or an abort prevented is not counted.
   */
  readonly retries: number;
  readonly cacheHits: number;
  readonly loaded: number;
  readonly failed: number;
  /** Loads answered by an identical load already in flight. */
  readonly deduplicated: number;
}

interface Pending {
  resolve(value: OhlcvColumns): void;
  reject(error: unknown): void;
  /** The signal of the load this symbol belongs to. */
  signal: AbortSignal;
}

/** One load in flight, shared by every concurrent caller of the same source and symbol. */
interface Flight {
  readonly promise: Promise<OhlcvColumns>;
  /** Aborts the shared load; used only once no caller is left waiting for it. */
  readonly controller: AbortController;
  /** Callers still waiting. One without a signal never leaves, so the load then always runs to its end. */
  waiters: number;
}

/**
 * Concurrent, rate-limited, retried loading of market data into columns.
 *
 * Each load: cache → in-flight de-duplication → concurrency limit → rate limit → attempt with
 * a timeout (combined with the caller's signal) → validation → cache. Failed attempts are
 * retried with exponential backoff and full jitter when transient; only idempotent sources
 * are retried unless `retryNonIdempotent`. Symbols requested in the same tick from a source
 * with `loadBatch` are fetched in one batch call.
 */
export class DataLoader {
  readonly #limit: Limiter;
  readonly #rate: KeyedRateLimiter | undefined;
  readonly #policy: RetryPolicy;
  readonly #noRetry: RetryPolicy;
  readonly #retryNonIdempotent: boolean;
  readonly #timeoutMs: number;
  readonly #cache: LoaderCache | undefined;
  readonly #maxBatch: number;
  /** Loads in flight, per source object, then per symbol: never shared between two sources. */
  readonly #inflight = new WeakMap<Source, Map<string, Flight>>();
  readonly #batches = new Map<Source, Map<string, Pending[]>>();
  #stats = { attempts: 0, retries: 0, cacheHits: 0, loaded: 0, failed: 0, deduplicated: 0 };

  /** @throws {LoaderOptionError} naming the bad option. */
  constructor(options: DataLoaderOptions = {}) {
    this.#limit = createLimiter(options.concurrency ?? 16);
    this.#rate = options.rateLimit
      ? new KeyedRateLimiter(
          options.rateLimit,
          options.retry?.sleep ? { sleep: options.retry.sleep } : {},
        )
      : undefined;
    this.#policy = resolveRetryPolicy(options.retry);
    this.#noRetry = { ...this.#policy, retries: 0 };
    this.#retryNonIdempotent = options.retryNonIdempotent ?? false;
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))
      throw new LoaderOptionError('timeoutMs', timeoutMs, 'a finite number of milliseconds > 0');
    this.#timeoutMs = timeoutMs;
    this.#cache = options.cache;
    const maxBatch = options.maxBatchSize ?? 100;
    if (!Number.isInteger(maxBatch) || maxBatch < 1)
      throw new LoaderOptionError('maxBatchSize', maxBatch, 'a positive integer');
    this.#maxBatch = maxBatch;
  }

  /** Counters since construction. */
  get stats(): LoaderStats {
    return { ...this.#stats };
  }

  /** Loads in flight / waiting for a slot. */
  get active(): number {
    return this.#limit.active;
  }

  /**
   * Load one symbol's columns. Concurrent calls for the same source object and symbol share one
   * load. Each caller's `signal` cancels that caller's wait; the shared load itself is aborted
   * only when every caller waiting for it has aborted.
   * @throws {LoadFailedError} after the last attempt (its `cause` says why).
   * @throws {LoadAbortedError} when `signal` aborts.
   * @throws {LoaderOptionError} naming `name`, when the loader has a cache and `source` is
   *   `anonymous` (its cache entries could not be told apart from another source's).
   */
  async load(symbol: string, source: Source, options: LoadOptions = {}): Promise<OhlcvColumns> {
    let key: string | undefined;
    if (this.#cache) {
      if (source.anonymous) throw unnamedSourceError(source);
      key = cacheKey(source, symbol);
      const hit = await this.#cache.get(key);
      if (hit !== undefined) {
        this.#stats.cacheHits++;
        return hit;
      }
    }
    if (options.signal?.aborted)
      throw new LoadAbortedError(`loading ${symbol}`, { cause: options.signal.reason });
    let flights = this.#inflight.get(source);
    if (!flights) {
      flights = new Map();
      this.#inflight.set(source, flights);
    }
    let flight = flights.get(symbol);
    if (flight) this.#stats.deduplicated++;
    else {
      const controller = new AbortController();
      const ours = flights;
      const promise = this.#loadUncached(symbol, source, controller.signal).then(
        (columns) => {
          if (ours.get(symbol) === flight) ours.delete(symbol);
          this.#stats.loaded++;
          if (key !== undefined) this.#cacheSet(key, columns);
          return columns;
        },
        (error: unknown) => {
          if (ours.get(symbol) === flight) ours.delete(symbol);
          this.#stats.failed++;
          throw error;
        },
      );
      flight = { promise, controller, waiters: 0 };
      flights.set(symbol, flight);
    }
    return this.#wait(flights, symbol, flight, options.signal);
  }

  /** Wait for a shared load until it settles or `signal` aborts, whichever comes first. */
  #wait(
    flights: Map<string, Flight>,
    symbol: string,
    flight: Flight,
    signal: AbortSignal | undefined,
  ): Promise<OhlcvColumns> {
    flight.waiters++;
    if (!signal) return flight.promise;
    return new Promise<OhlcvColumns>((resolve, reject) => {
      const onAbort = () => {
        reject(new LoadAbortedError(`loading ${symbol}`, { cause: signal.reason }));
        if (--flight.waiters > 0) return;
        // Nobody is left: stop the load, and let the next caller start a fresh one.
        if (flights.get(symbol) === flight) flights.delete(symbol);
        flight.controller.abort(signal.reason);
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      flight.promise
        .finally(() => signal.removeEventListener('abort', onAbort))
        .then(resolve, reject);
    });
  }

  /**
   * Write a validated load to the cache. The cache is an optimisation: a write that fails
   * (a `MultiLevelCache` closed meanwhile rejects, an `LruCache` may throw) must neither fail a
   * load that succeeded nor leave a rejected promise unhandled, which would end the process.
   */
  #cacheSet(key: string, columns: OhlcvColumns): void {
    try {
      const written = this.#cache?.set(key, columns);
      if (written instanceof Promise) written.catch(() => {});
    } catch {
      // See above: the load stands without its cache entry.
    }
  }

  /**
   * Load many symbols. Resolves once every symbol has loaded or failed; never rejects for a
   * single symbol's failure (see `failures`). Rejects only if `signal` aborts, with the first
   * error `onProgress` threw (after every symbol has settled, so no load is left running), or at
   * once, loading nothing, with the {@link LoaderOptionError} of {@link load} for an `anonymous`
   * source when the loader has a cache.
   */
  async loadMany(
    symbols: readonly string[],
    source: Source,
    options: LoadManyOptions = {},
  ): Promise<LoadManyResult> {
    if (this.#cache && source.anonymous) throw unnamedSourceError(source);
    const data = new Map<string, OhlcvColumns>();
    const failures = new Map<string, Error>();
    const unique = [...new Set(symbols)];
    const local =
      options.concurrency !== undefined ? createLimiter(options.concurrency) : undefined;
    let done = 0;
    // A throwing onProgress must not end loadMany while its loads still run: it is rethrown
    // once every symbol has settled.
    let progressFailed = false;
    let progressError: unknown;
    await Promise.all(
      unique.map(async (symbol) => {
        try {
          const run = () =>
            this.load(symbol, source, options.signal ? { signal: options.signal } : {});
          data.set(symbol, await (local ? local(run, options.signal) : run()));
        } catch (error) {
          failures.set(symbol, error instanceof Error ? error : new Error(String(error)));
        }
        done++;
        try {
          options.onProgress?.({ done, total: unique.length, symbol, ok: data.has(symbol) });
        } catch (error) {
          if (!progressFailed) {
            progressFailed = true;
            progressError = error;
          }
        }
      }),
    );
    if (options.signal?.aborted)
      throw new LoadAbortedError(`loadMany of ${unique.length} symbols`, {
        cause: options.signal.reason,
      });
    if (progressFailed) throw progressError;
    return { data, failures };
  }

  #loadUncached(symbol: string, source: Source, signal: AbortSignal): Promise<OhlcvColumns> {
    if (source.loadBatch) return this.#enqueueBatch(symbol, source, signal);
    const policy =
      source.idempotent === false && !this.#retryNonIdempotent ? this.#noRetry : this.#policy;
    return this.#limit(
      () =>
        withRetry(
          symbol,
          policy,
          (n) =>
            this.#attempt(`loading ${symbol}`, n, signal, async (attemptSignal) =>
              validateColumns(symbol, await source.load(symbol, { signal: attemptSignal })),
            ),
          signal,
          this.#rateLimitWait(() => source.rateKey?.(symbol) ?? source.name),
        ),
      signal,
    );
  }

  /**
   * The wait for a rate-limit token that {@link withRetry} makes before each attempt, so that a
   * failing `sleep` there is reported like one in a backoff wait; undefined without a rate limit.
   */
  #rateLimitWait(key: () => string): RateLimitWait | undefined {
    const rate = this.#rate;
    return rate && { key, acquire: (k, signal) => rate.acquire(k, signal) };
  }

  /**
   * Run one attempt with the per-attempt timeout combined with the caller's signal. The attempt
   * settles with whichever comes first: the source's answer, the timeout or the abort. It does
   * not wait for a source that ignores its signal, which would otherwise hold a concurrency slot
   * forever and make the timeout meaningless. `n` is the attempt's number: from 2 on, a retry.
   */
  #attempt<T>(
    what: string,
    n: number,
    signal: AbortSignal,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (signal.aborted) return Promise.reject(new LoadAbortedError(what, { cause: signal.reason }));
    this.#stats.attempts++;
    if (n > 1) this.#stats.retries++;
    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const timer = setTimeout(() => {
        done();
        const error = new LoadTimeoutError(what, this.#timeoutMs);
        reject(error);
        controller.abort(error);
      }, this.#timeoutMs);
      const onAbort = () => {
        done();
        reject(new LoadAbortedError(what, { cause: signal.reason }));
        controller.abort(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // A late answer after a timeout or abort is dropped (the promise has settled already).
      new Promise<T>((r) => r(fn(controller.signal))).finally(done).then(resolve, reject);
    });
  }

  /** Collect symbols requested in this tick for a batching source; flush once per tick. */
  #enqueueBatch(symbol: string, source: Source, signal: AbortSignal): Promise<OhlcvColumns> {
    return new Promise<OhlcvColumns>((resolve, reject) => {
      let pending = this.#batches.get(source);
      if (!pending) {
        pending = new Map();
        this.#batches.set(source, pending);
        process.nextTick(() => this.#flushBatch(source));
      }
      const waiters = pending.get(symbol) ?? [];
      waiters.push({ resolve, reject, signal });
      pending.set(symbol, waiters);
    });
  }

  #flushBatch(source: Source): void {
    const pending = this.#batches.get(source);
    this.#batches.delete(source);
    if (!pending) return;
    const symbols = [...pending.keys()];
    for (let i = 0; i < symbols.length; i += this.#maxBatch) {
      const chunk = symbols.slice(i, i + this.#maxBatch);
      const what = `batch of ${chunk.length} symbols from ${source.name}`;
      // The batch serves every symbol in it, each with its own load's signal: it stops only
      // when all of them have aborted, never because one caller gave up.
      const signal = whenAllAborted(
        chunk.flatMap((symbol) => pending.get(symbol)!.map((w) => w.signal)),
      );
      const policy =
        source.idempotent === false && !this.#retryNonIdempotent ? this.#noRetry : this.#policy;
      const run = this.#limit(
        () =>
          withRetry(
            what,
            policy,
            (n) =>
              this.#attempt(what, n, signal, (attemptSignal) =>
                source.loadBatch!(chunk, { signal: attemptSignal }),
              ),
            signal,
            this.#rateLimitWait(() => source.name),
          ),
        signal,
      );
      run.then(
        (results) => {
          for (const symbol of chunk) {
            const result = results.get(symbol);
            for (const waiter of pending.get(symbol) ?? []) {
              if (result instanceof Error) waiter.reject(new LoadFailedError(symbol, 1, result));
              else if (result === undefined)
                waiter.reject(
                  new LoadFailedError(
                    symbol,
                    1,
                    new Error(`${source.name} returned no data for ${symbol}`),
                  ),
                );
              else {
                try {
                  waiter.resolve(validateColumns(symbol, result));
                } catch (error) {
                  waiter.reject(new LoadFailedError(symbol, 1, error));
                }
              }
            }
          }
        },
        (error: unknown) => {
          for (const symbol of chunk)
            for (const waiter of pending.get(symbol) ?? []) waiter.reject(error);
        },
      );
    }
  }
}

/**
 * The cache key of a symbol from a source. JSON keeps it unambiguous whatever the name and the
 * symbol hold (`a:b` + `c` and `a` + `b:c` would both be `a:b:c` if joined with a colon).
 */
function cacheKey(source: Source, symbol: string): string {
  return JSON.stringify([source.name, symbol]);
}

function unnamedSourceError(source: Source): LoaderOptionError {
  return new LoaderOptionError(
    'name',
    undefined,
    `a name for source "${source.name}" while the DataLoader has a cache: the source's URL or path ` +
      `is a function (or its database is in memory), so no name telling its data apart from ` +
      `another source's can be derived, and the two would share cache entries. Pass one, e.g. ` +
      `httpSource({ name: 'prices-api', url }), or give a URL or path template string instead`,
  );
}

/**
 * A signal that aborts once every one of `signals` has (with the last one's reason). The
 * signals are the loader's own per-load ones, which live no longer than their load, so the
 * listeners need no removal.
 */
function whenAllAborted(signals: readonly AbortSignal[]): AbortSignal {
  const controller = new AbortController();
  let left = signals.length;
  for (const signal of signals) {
    const onAbort = () => {
      if (--left === 0) controller.abort(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  return controller.signal;
}
