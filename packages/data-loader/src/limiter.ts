import { LoadAbortedError, LoaderOptionError } from './errors.js';
import { RingQueue } from './queue.js';

/** A p-limit-style concurrency limiter. */
export interface Limiter {
  /** Run `fn` when a slot is free; resolves or rejects with its result. */
  <T>(fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly pending: number;
  /** The most tasks that ever ran at once. */
  readonly peak: number;
}

interface Task {
  fn: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Create a concurrency limiter with an O(1) queue. At most `concurrency` tasks run at once;
 * the rest wait in FIFO order. A waiting task whose signal aborts leaves the queue and rejects
 * with {@link LoadAbortedError}. Per task it allocates the returned promise and one small
 * record, nothing else.
 * @throws {LoaderOptionError} when concurrency is not a positive integer.
 */
export function createLimiter(concurrency: number): Limiter {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new LoaderOptionError('concurrency', concurrency, 'a positive integer');
  }
  const queue = new RingQueue<Task>();
  let active = 0;
  let peak = 0;

  const release = () => {
    active--;
    const task = queue.shift();
    if (task) start(task);
  };
  const onSettled = (value: unknown) => {
    release();
    return value;
  };
  const onFailed = (error: unknown) => {
    release();
    throw error;
  };
  const start = (task: Task) => {
    if (task.onAbort) task.signal!.removeEventListener('abort', task.onAbort);
    active++;
    if (active > peak) peak = active;
    let result: unknown;
    try {
      result = task.fn();
    } catch (error) {
      release();
      task.reject(error);
      return;
    }
    Promise.resolve(result).then(onSettled, onFailed).then(task.resolve, task.reject);
  };

  const limit = <T>(fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> => {
    if (signal?.aborted)
      return Promise.reject(new LoadAbortedError('queued task', { cause: signal.reason }));
    return new Promise<T>((resolve, reject) => {
      const task: Task = {
        fn,
        resolve: resolve as (value: unknown) => void,
        reject,
        signal,
        onAbort: undefined,
      };
      if (active < concurrency) {
        start(task);
        return;
      }
      if (signal) {
        task.onAbort = () => {
          if (queue.remove((t) => t === task))
            reject(new LoadAbortedError('queued task', { cause: signal.reason }));
        };
        signal.addEventListener('abort', task.onAbort, { once: true });
      }
      queue.push(task);
    });
  };
  return Object.defineProperties(limit, {
    active: { get: () => active },
    pending: { get: () => queue.size },
    peak: { get: () => peak },
  }) as Limiter;
}
