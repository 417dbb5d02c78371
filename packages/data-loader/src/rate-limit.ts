import { LoadAbortedError, LoaderOptionError } from './errors.js';

/** Options of a token-bucket rate limit. */
export interface RateLimitOptions {
  /** Tokens added per second (sustained requests per second). */
  readonly ratePerSec: number;
  /** Bucket size: how many requests may go at once after a quiet period (default: max(1, ratePerSec)). */
  readonly burst?: number;
}

/** Sleep function used by the limiter; tests may pass one driven by fake timers. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Default sleep: a timer that rejects with LoadAbortedError when the signal aborts. */
export const sleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new LoadAbortedError('wait', { cause: signal.reason }));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new LoadAbortedError('wait', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** How early (ms) a timer may wake by the clock and still count as a real sleep. */
const EARLY_WAKE_SLACK_MS = 1;

/** One key's token bucket. */
interface Bucket {
  /** Balance at `updatedAt`; negative while callers wait for the tokens they reserved. */
  tokens: number;
  updatedAt: number;
  /** Number of the latest reservation still standing (reservations are numbered 1, 2, ...). */
  last: number;
  /** The highest reservation number whose caller has been let through. */
  started: number;
  /** Reservations above `started` whose caller failed while waiting, not yet given back. */
  failed: Set<number> | undefined;
}

/**
 * Token buckets keyed by host (or any key). `acquire(key)` resolves when the key's bucket has
 * a token, so requests to one host never exceed `ratePerSec` sustained or `burst` at once.
 * Tokens are reserved in arrival order, so waiters are served FIFO per key.
 */
export class KeyedRateLimiter {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #sleep: Sleep;
  readonly #buckets = new Map<string, Bucket>();

  /** @throws {LoaderOptionError} when ratePerSec is not positive or burst is below 1. */
  constructor(options: RateLimitOptions, clock: { now?: () => number; sleep?: Sleep } = {}) {
    if (!(options.ratePerSec > 0) || !Number.isFinite(options.ratePerSec)) {
      throw new LoaderOptionError(
        'rateLimit.ratePerSec',
        options.ratePerSec,
        'a finite number > 0',
      );
    }
    const burst = options.burst ?? Math.max(1, options.ratePerSec);
    if (!(burst >= 1) || !Number.isFinite(burst))
      throw new LoaderOptionError('rateLimit.burst', burst, 'a finite number >= 1');
    this.#ratePerMs = options.ratePerSec / 1000;
    this.#burst = burst;
    this.#now = clock.now ?? (() => performance.now());
    this.#sleep = clock.sleep ?? sleep;
  }

  /**
   * Wait for a token for `key`. Rejects with LoadAbortedError if `signal` aborts while waiting,
   * or with whatever the `sleep` function threw or rejected with. A caller that fails gives its
   * token back once every caller that reserved after it has failed too (at once when it was the
   * last); until then its turn passes unused, because the callers behind it keep the times they
   * reserved, and a newcomer given the freed token would start together with one of them, over
   * the burst.
   */
  async acquire(key: string, signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.#burst, updatedAt: now, last: 0, started: 0, failed: undefined };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(
      this.#burst,
      bucket.tokens + (now - bucket.updatedAt) * this.#ratePerMs,
    );
    bucket.updatedAt = now;
    // Reserve the token now (the balance may go negative); later callers queue behind us.
    bucket.tokens -= 1;
    const reservation = ++bucket.last;
    if (bucket.tokens < 0) {
      // Sleep until the reserved token's time comes, checking the clock on waking: a timer can fire up to
      // a millisecond before its time by performance.now(), and a request must never start early.
      const due = now - bucket.tokens / this.#ratePerMs;
      try {
        for (let t = now; t < due;) {
          await this.#sleep(due - t, signal);
          t = this.#now();
          // A sleep that returns long before its time (one that does not wait at all, such as
          // `async () => {}` passed to make retries instant in tests) would make this loop spin on
          // microtasks until the clock reaches `due`, starving timers and I/O meanwhile. Let the
          // event loop run between such wake-ups; the wait still lasts until `due`.
          if (t < due - EARLY_WAKE_SLACK_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            if (signal?.aborted) throw new LoadAbortedError('wait', { cause: signal.reason });
          }
        }
      } catch (error) {
        giveBack(bucket, reservation);
        throw error;
      }
    }
    if (reservation > bucket.started) bucket.started = reservation;
    // Failed reservations before one that started can no longer be given back.
    if (bucket.failed) for (const n of bucket.failed) if (n < reservation) bucket.failed.delete(n);
  }
}

/**
 * Record that the caller of `reservation` failed while waiting, and give back the tokens of the
 * failed reservations at the end of the queue. Exact: the balance is refilled only in `acquire`,
 * and only capped at the burst there when that caller starts at once, which stops the giving back.
 */
function giveBack(bucket: Bucket, reservation: number): void {
  if (reservation < bucket.started) return; // a later caller started: this turn has passed
  (bucket.failed ??= new Set()).add(reservation);
  while (bucket.failed.delete(bucket.last)) {
    bucket.last--;
    bucket.tokens += 1;
  }
}
