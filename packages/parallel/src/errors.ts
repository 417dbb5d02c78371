/** Base class of every error thrown by `@peaktrade/parallel`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_PARALLEL_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option or argument is invalid. Names the parameter, the value given and what is allowed. */
export class InvalidOptionError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_INVALID_OPTION';
  /** The option or parameter name, e.g. `maxWorkers`. */
  readonly option: string;
  /** The value that was given. */
  readonly value: unknown;
  constructor(option: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super(
      InvalidOptionError.code,
      `Invalid ${option}: got ${describe(value)}; expected ${allowed}`,
      options,
    );
    this.option = option;
    this.value = value;
  }
}

/**
 * A task function threw (or rejected) inside a worker. The worker itself is fine and stays in
 * the pool. `remoteName`, `message` and `stack` are the original error's; `cause` holds a
 * reconstructed copy of it.
 */
export class TaskFailedError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_TASK_FAILED';
  /** The task that failed, as `module#export`. */
  readonly task: string;
  /** `name` of the original error (e.g. `RangeError`). */
  readonly remoteName: string;
  /** `code` of the original error, when it had a string one. */
  readonly remoteCode: string | undefined;
  /** For `mapCpu`: index of the item that threw; otherwise undefined. */
  readonly index: number | undefined;
  constructor(task: string, remote: SerializedError, index?: number, options?: ErrorOptions) {
    const at = index === undefined ? '' : ` on item #${index}`;
    super(
      TaskFailedError.code,
      `Task ${task} failed${at}: ${remote.name}: ${remote.message}`,
      options,
    );
    this.task = task;
    this.index = index;
    this.remoteName = remote.name;
    this.remoteCode = remote.code;
    if (remote.stack !== undefined)
      this.stack = `${this.name}: ${this.message}\n--- worker stack ---\n${remote.stack}`;
  }
}

/**
 * The worker running a task died: it threw outside a task, called `process.exit`, or ran out
 * of memory under `resourceLimits`. Only the task(s) on that worker fail; the pool replaces
 * the worker and carries on. `cause` is the underlying error from `worker_threads`.
 */
export class WorkerCrashedError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_WORKER_CRASHED';
  /** The task that was running, as `module#export`. */
  readonly task: string;
  /** Why: `'exit'` (process.exit / exit code), `'oom'` (resourceLimits) or `'uncaught'`. */
  readonly reason: 'exit' | 'oom' | 'uncaught';
  constructor(
    task: string,
    reason: 'exit' | 'oom' | 'uncaught',
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      WorkerCrashedError.code,
      `Worker crashed while running ${task} (${reason}): ${detail}`,
      options,
    );
    this.task = task;
    this.reason = reason;
  }
}

/**
 * A value could not be structured-cloned across threads: a task's input (or a `mapCpu` item,
 * a strategy, the `context` or `backtestOptions`) on its way to a worker, or a task's result on
 * its way back. Functions, symbols, `WeakMap`s, promises and objects holding any of them cannot be
 * cloned; and structured clone reads every own enumerable property, so a getter that throws while
 * it is read fails the clone too. Only this task fails; the worker is neither blamed nor replaced.
 * `cause` is the `DataCloneError`, or what the getter threw (from the worker, rebuilt, for a result).
 */
export class NotCloneableError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_NOT_CLONEABLE';
  /** The task, as `module#export`. */
  readonly task: string;
  /** `'input'`: could not be sent to a worker; `'result'`: could not be sent back. */
  readonly direction: 'input' | 'result';
  /** What could not be cloned, e.g. `'input'`, `'item #3'`, `'context'`, `'result of strategy #2'`. */
  readonly part: string;
  /** For `mapCpu` / `parallelBacktest`: the item's or strategy's index, when known; else undefined. */
  readonly index: number | undefined;
  constructor(
    task: string,
    direction: 'input' | 'result',
    part: string,
    index?: number,
    options?: ErrorOptions,
  ) {
    const cause = options?.cause;
    const head =
      direction === 'input'
        ? `Cannot send the input of ${task} to a worker thread`
        : `Cannot send the result of ${task} back from its worker thread`;
    const verb = direction === 'input' ? 'Pass' : 'Return';
    // Anything but a DataCloneError was thrown by the value itself while structured clone read it.
    const threw =
      cause !== undefined && !(cause instanceof Error && cause.name === 'DataCloneError');
    super(
      NotCloneableError.code,
      threw
        ? `${head}: reading ${part} threw while it was being structured-cloned (${describeThrown(cause)}). Structured clone reads every own enumerable property, getters included: ${verb.toLowerCase()} plain data, or a getter that does not throw`
        : `${head}: ${part} could not be structured-cloned (${cause instanceof Error ? `${cause.name}: ${cause.message}` : 'DataCloneError'}). ${verb} plain data: no functions, symbols, WeakMaps, or objects holding them`,
      options,
    );
    this.task = task;
    this.direction = direction;
    this.part = part;
    this.index = index;
  }
}

/** Work was cancelled through an `AbortSignal`. `cause` is the signal's reason. */
export class AbortError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_ABORTED';
  constructor(what: string, options?: ErrorOptions) {
    super(AbortError.code, `${what} was aborted`, options);
  }
}

/** `run()` was called with a full queue and `onQueueFull: 'reject'`. */
export class QueueFullError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_QUEUE_FULL';
  constructor(maxQueue: number, options?: ErrorOptions) {
    super(
      QueueFullError.code,
      `Worker pool queue is full (maxQueue = ${maxQueue}); wait for tasks to finish or use onQueueFull: 'wait'`,
      options,
    );
  }
}

/** The pool was closed (or is closing) and does not take new tasks; or queued work was dropped by `close({ force: true })`. */
export class PoolClosedError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_POOL_CLOSED';
  constructor(detail = 'Worker pool is closed', options?: ErrorOptions) {
    super(PoolClosedError.code, detail, options);
  }
}

/** A task module could not be loaded, or it has no function under the requested export name. */
export class TaskLoadError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_TASK_LOAD';
  constructor(message: string, options?: ErrorOptions) {
    super(TaskLoadError.code, message, options);
  }
}

/** Shared columns changed during a run (their checksum differs): a task wrote to read-only data. */
export class SharedDataMutatedError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_SHARED_MUTATED';
  /** Checksum before the run. */
  readonly expected: string;
  /** Checksum after the run. */
  readonly actual: string;
  constructor(id: string, expected: string, actual: string, options?: ErrorOptions) {
    super(
      SharedDataMutatedError.code,
      `Shared columns ${id} were modified during the run (checksum ${expected} -> ${actual}); shared data is read-only`,
      options,
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * One strategy of `parallelBacktest` failed and `failFast` was set. `index` is the strategy's
 * position; `cause` is the strategy's error.
 */
export class StrategyFailedError extends PeakTradeError {
  static readonly code = 'E_PARALLEL_STRATEGY_FAILED';
  /** Index of the failing strategy in the input array. */
  readonly index: number;
  constructor(index: number, options?: ErrorOptions) {
    const cause = options?.cause;
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(StrategyFailedError.code, `Strategy #${index} failed (failFast): ${detail}`, options);
    this.index = index;
  }
}

/** Every error class of this package, by name. */
export const errors = {
  PeakTradeError,
  InvalidOptionError,
  TaskFailedError,
  WorkerCrashedError,
  NotCloneableError,
  AbortError,
  QueueFullError,
  PoolClosedError,
  TaskLoadError,
  SharedDataMutatedError,
  StrategyFailedError,
};

/** An error as it crosses threads: plain data, structured-clone safe. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
}

/** Turn anything thrown into a {@link SerializedError}. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const out: { name: string; message: string; stack?: string; code?: string } = {
      name: error.name,
      message: error.message,
    };
    if (error.stack !== undefined) out.stack = error.stack;
    if (typeof code === 'string') out.code = code;
    return out;
  }
  return { name: 'NonError', message: describe(error) };
}

/** Rebuild a plain `Error` from a {@link SerializedError} (same name, message, stack and code). */
export function deserializeError(data: SerializedError): Error {
  const error = new Error(data.message) as Error & { code?: string };
  error.name = data.name;
  if (data.stack !== undefined) error.stack = data.stack;
  if (data.code !== undefined) error.code = data.code;
  return error;
}

/** A thrown value as `Name: message` (an Error) or as described by {@link describe}. */
function describeThrown(value: unknown): string {
  return value instanceof Error
    ? `${value.name}: ${value.message}`
    : `non-Error value thrown: ${describe(value)}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (value === undefined) return 'undefined';
  if (value instanceof URL) return `URL(${value.href})`;
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
