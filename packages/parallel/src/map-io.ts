import { AbortError, InvalidOptionError } from './errors.js';
import { RingQueue } from './ring-queue.js';

/** Options of {@link mapIo}. */
export interface MapIoOptions {
  /** Calls of `fn` in flight at once. Integer ≥ 1. Default 16. */
  readonly concurrency?: number;
  /** Cancels the map: no new calls start and the promise rejects with {@link AbortError}. Running calls receive the same signal. */
  readonly signal?: AbortSignal;
  /** Called after each completed item with `(done, total)`. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The function {@link mapIo} calls per item. `signal` is the map's signal (or a never-aborting one). */
export type IoFn<T, R> = (item: T, index: number, signal: AbortSignal) => R | PromiseLike<R>;

const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * Map `items` through an async `fn` on the calling thread with at most `concurrency` calls in
 * flight (for I/O: HTTP, Redis, disk). Results come back in input order. The first error
 * rejects the map and stops new calls from starting (calls already running finish on their own).
 * Scheduling is an index cursor over the input: O(1) per item, no queue of closures.
 *
 * @throws {InvalidOptionError} `concurrency` is not an integer ≥ 1.
 */
export function mapIo<T, R>(
  items: readonly T[] | Iterable<T>,
  fn: IoFn<T, R>,
  options: MapIoOptions = {},
): Promise<R[]> {
  const concurrency = checkConcurrency(options.concurrency ?? 16);
  const list: readonly T[] = Array.isArray(items) ? (items as readonly T[]) : Array.from(items);
  const { onProgress } = options;
  const signal = options.signal ?? NEVER_ABORTED;
  const total = list.length;
  const results = new Array<R>(total);
  if (signal.aborted) return Promise.reject(new AbortError('mapIo', { cause: signal.reason }));
  if (total === 0) return Promise.resolve(results);

  return new Promise<R[]>((resolve, reject) => {
    let next = 0;
    let done = 0;
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- pass through exactly what fn threw
      reject(error);
    };
    const onAbort = (): void => fail(new AbortError('mapIo', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });

    const launch = (): void => {
      const index = next++;
      let value: R | PromiseLike<R>;
      try {
        value = fn(list[index] as T, index, signal);
      } catch (error) {
        fail(error);
        return;
      }
      // Sync results go through a microtask too, so completion order logic is uniform.
      Promise.resolve(value).then((v) => complete(index, v), fail);
    };
    const complete = (index: number, value: R): void => {
      if (settled) return;
      results[index] = value;
      done++;
      if (onProgress !== undefined) {
        // complete() runs in a promise callback: a throw here would escape into a promise nobody
        // awaits and leave the map pending forever, so it ends the map instead.
        try {
          onProgress(done, total);
        } catch (error) {
          fail(error);
          return;
        }
      }
      if (done === total) {
        settled = true;
        signal.removeEventListener('abort', onAbort);
        resolve(results);
      } else if (next < total) {
        launch();
      }
    };
    const initial = Math.min(concurrency, total);
    for (let i = 0; i < initial && !settled; i++) launch();
  });
}

/** A p-limit-style limiter returned by {@link createLimit}. */
export interface Limit {
  /** Run `fn(...args)` when fewer than `concurrency` limited calls are active; resolves with its result. */
  <A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>, ...args: A): Promise<R>;
  /** Calls running now. */
  readonly activeCount: number;
  /** Calls waiting for a slot. */
  readonly pendingCount: number;
  /** The limit. */
  readonly concurrency: number;
  /** Drop every waiting call; their promises reject with {@link AbortError}. Running calls are unaffected. */
  clearQueue(): void;
}

interface Pending {
  readonly fn: (...args: never[]) => unknown;
  readonly args: unknown[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * Create a p-limit-style limiter: `const limit = createLimit(4); await limit(fetchJson, url)`.
 * Waiting calls sit in an O(1) ring-buffer FIFO ({@link RingQueue}) as one small record each (no
 * closures), so 100k queued calls cost the same per call as 10. A call whose `fn` returns a
 * non-promise value frees its slot at once.
 *
 * @throws {InvalidOptionError} `concurrency` is not an integer ≥ 1.
 */
export function createLimit(concurrency: number): Limit {
  const max = checkConcurrency(concurrency);
  const queue = new RingQueue<Pending>(64);
  let active = 0;

  const drain = (): void => {
    while (active < max && queue.size > 0) {
      const p = queue.shift() as Pending;
      run(p.fn, p.args, p.resolve, p.reject);
    }
  };
  const settled = (): void => {
    active--;
    drain();
  };
  const run = (
    fn: (...args: never[]) => unknown,
    args: unknown[],
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ): void => {
    active++;
    let value: unknown;
    try {
      value = fn(...(args as never[]));
    } catch (error) {
      active--;
      reject(error);
      return;
    }
    if (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as PromiseLike<unknown>).then === 'function'
    ) {
      // Subscribe to fn's thenable once, through a native promise (Promise.resolve returns a native
      // promise as it is): calling a foreign then() twice would run a lazy thenable (a query
      // builder) twice, and one that calls both callbacks would free two slots.
      const promise = Promise.resolve(value);
      // The caller's promise adopts it; the slot is freed through one shared callback (no per-call closures).
      resolve(promise);
      promise.then(settled, settled);
    } else {
      active--;
      resolve(value);
    }
  };

  const limit = <A extends unknown[], R>(
    fn: (...args: A) => R | PromiseLike<R>,
    ...args: A
  ): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const f = fn as unknown as (...a: never[]) => unknown;
      const res = resolve as (value: unknown) => void;
      if (active < max && queue.size === 0) run(f, args, res, reject);
      else queue.push({ fn: f, args, resolve: res, reject });
    });

  Object.defineProperties(limit, {
    activeCount: { get: () => active },
    pendingCount: { get: () => queue.size },
    concurrency: { value: max },
    clearQueue: {
      value: () => {
        let p: Pending | undefined;
        while ((p = queue.shift()) !== undefined)
          p.reject(new AbortError('Queued limit() call (clearQueue)'));
      },
    },
  });
  return limit as Limit;
}

function checkConcurrency(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidOptionError('concurrency', value, 'an integer ≥ 1');
  }
  return value;
}
