import { DEFAULT_TARGET_CHUNK_MS, runChunks, sliceItems } from './chunks.js';
import {
  InvalidOptionError,
  NotCloneableError,
  StrategyFailedError,
  deserializeError,
} from './errors.js';
import { optionalPositiveInt } from './map-cpu.js';
import { WorkerPool } from './pool.js';
import type { WireOutcomes } from './runtime.js';
import { OHLCV_FIELDS, SharedColumns, type ColumnView, type OhlcvField } from './shared-columns.js';
import { normalizeTaskRef, type TaskRef } from './task-ref.js';
import { packList, unpackList } from './wire.js';

/** OHLCV market data as `parallelBacktest` takes it: plain columns or {@link SharedColumns}. */
export type BacktestData = ColumnView<OhlcvField> | SharedColumns<OhlcvField>;

/**
 * The function a backtest worker calls, once per strategy: `fn(data, strategy, options)`.
 * `@peaktrade/backtest`'s own `backtest(data, strategy, opts)` has this shape, so it can be
 * referenced directly.
 */
export type BacktestFn<S = unknown, R = unknown, O = unknown> = (
  data: ColumnView<OhlcvField>,
  strategy: S,
  options: O,
) => R | Promise<R>;

/** One strategy's result, at its input position. */
export type BacktestOutcome<S, R> =
  | { readonly index: number; readonly strategy: S; readonly ok: true; readonly value: R }
  | { readonly index: number; readonly strategy: S; readonly ok: false; readonly error: Error };

/** What a {@link ParallelBackend} receives from `parallelBacktest` (already validated). */
export interface BacktestRequest<S = unknown> {
  /** Structured-cloneable strategy specs, in order. */
  readonly strategies: readonly S[];
  /** The market data; `data.columns` are `Float64Array`s (possibly on a `SharedArrayBuffer`). */
  readonly data: BacktestData;
  /** Module + export of the per-strategy function, called as `fn(data, strategy, options)`. */
  readonly backtestFn: TaskRef;
  /** Third argument of every call (structured-cloneable). */
  readonly options: unknown;
  /** Worker (or remote job) concurrency; undefined = the backend's default. */
  readonly maxWorkers: number | undefined;
  /** Strategies per dispatch; undefined = automatic. */
  readonly chunkSize: number | undefined;
  /** Stop at the first failing strategy and reject with {@link StrategyFailedError}. */
  readonly failFast: boolean;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: ((done: number, total: number) => void) | undefined;
}

/** A backend's answer: one entry per strategy, in strategy order. */
export type BackendOutcome<R = unknown> =
  { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: Error };

/**
 * Where `parallelBacktest` runs strategies. The default is {@link localBackend} (worker threads on
 * this machine). Another backend (for example BullMQ across machines) implements this and is
 * passed as `parallelBacktest(..., { backend })`. Contract:
 * - resolve with exactly `strategies.length` outcomes, in strategy order; a strategy's own error is
 *   an `{ ok: false, error }` outcome, never a rejection;
 * - with `failFast`, reject with {@link StrategyFailedError} (`index` = the strategy) at the first
 *   failure and stop starting new work;
 * - on `signal` abort, stop and reject with an `AbortError` (this package's or a DOMException);
 * - call `onProgress(done, total)` as strategies finish (optional but expected);
 * - never mutate `data`.
 */
export interface ParallelBackend {
  /** Short name for logs, e.g. `'local'`, `'bullmq'`. */
  readonly name: string;
  /** Run every strategy; see the interface contract. */
  run<S>(request: BacktestRequest<S>): Promise<readonly BackendOutcome[]>;
}

/** Options of {@link localBackend}. */
export interface LocalBackendOptions {
  /** Use this pool (it is not closed). Default: a pool per run of `maxWorkers` workers, closed afterwards. */
  readonly pool?: WorkerPool;
  /** Aim for chunks taking this many ms when chunking automatically. Default 5. */
  readonly targetChunkMs?: number;
  /** Compare the shared data's checksum before and after the run. Default true. */
  readonly verifyData?: boolean;
}

/**
 * The default {@link ParallelBackend}: worker threads on this machine. Plain columns are copied
 * once into {@link SharedColumns}; `SharedColumns` are used as they are. Each worker receives the
 * buffer once and caches it; a dispatch carries only strategy specs. After the run the data's
 * checksum is compared with the one taken before ({@link SharedDataMutatedError} if a task wrote to it).
 */
export function localBackend(backendOptions: LocalBackendOptions = {}): ParallelBackend {
  const targetChunkMs = backendOptions.targetChunkMs ?? DEFAULT_TARGET_CHUNK_MS;
  if (
    typeof targetChunkMs !== 'number' ||
    !(targetChunkMs > 0) ||
    !Number.isFinite(targetChunkMs)
  ) {
    throw new InvalidOptionError('targetChunkMs', targetChunkMs, 'a finite number > 0');
  }
  const verify = backendOptions.verifyData ?? true;
  const given = backendOptions.pool;
  return {
    name: 'local',
    async run<S>(request: BacktestRequest<S>): Promise<readonly BackendOutcome[]> {
      const { strategies, backtestFn, failFast } = request;
      const label = `${backtestFn.module}#${backtestFn.export}`;
      const shared =
        request.data instanceof SharedColumns
          ? request.data
          : SharedColumns.from(pickOhlcv(request.data));
      const ownData = shared !== request.data;
      const before = verify ? shared.checksum() : '';
      const pool =
        given ??
        new WorkerPool(request.maxWorkers === undefined ? {} : { maxWorkers: request.maxWorkers });
      const outcomes = new Array<BackendOutcome>(strategies.length);
      let ok = false;
      try {
        await runChunks({
          pool,
          total: strategies.length,
          chunkSize: request.chunkSize,
          targetChunkMs,
          signal: request.signal,
          what: 'parallelBacktest',
          onProgress: request.onProgress,
          makeMessage: (start, end) => ({
            kind: 'backtest',
            module: backtestFn.module,
            export: backtestFn.export,
            shared: shared.id,
            strategies: packList(sliceItems(strategies, start, end, label, 'strategy')),
            start,
            options: request.options,
            failFast,
          }),
          accept: (start, _end, value) => {
            const wire = value as WireOutcomes;
            const values = unpackList(wire.values);
            const errors = wire.errors;
            for (let i = 0; i < values.length; i++) {
              const failed = errors === null ? undefined : errors[i];
              if (failed === undefined) {
                outcomes[start + i] = { ok: true, value: values[i] };
              } else {
                const cause = deserializeError(failed);
                const index = start + i;
                // The strategy ran, but its result could not be cloned back from the worker.
                const error =
                  failed.unsent === true
                    ? new NotCloneableError(
                        label,
                        'result',
                        `the result of strategy #${index}`,
                        index,
                        { cause },
                      )
                    : cause;
                if (failFast) return new StrategyFailedError(index, { cause: error });
                outcomes[start + i] = { ok: false, error };
              }
            }
            return undefined;
          },
        });
        ok = true;
      } finally {
        if (given === undefined) await pool.close(ok ? {} : { force: true });
        if (verify) shared.verify(before);
        if (ownData) shared.release();
      }
      return outcomes;
    },
  };
}

/** Options of {@link parallelBacktest}. */
export interface ParallelBacktestOptions<O = unknown> {
  /** Workers, integer ≥ 1. Default: the pool default (config or CPU topology). */
  readonly maxWorkers?: number;
  /** Strategies per dispatch, integer ≥ 1. Default: automatic. */
  readonly chunkSize?: number;
  /** Cancels queued and running work; rejects with `AbortError`. */
  readonly signal?: AbortSignal;
  /** Called as strategies finish with `(done, total)`. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Reject with {@link StrategyFailedError} at the first failing strategy and stop the batch. Default false. */
  readonly failFast?: boolean;
  /** Third argument of every `backtestFn` call, e.g. `BacktestOptions` (structured-cloneable). */
  readonly backtestOptions?: O;
  /** Where to run. Default {@link localBackend}(). */
  readonly backend?: ParallelBackend;
}

/**
 * Run `backtestFn(data, strategy, options)` for every strategy, in parallel, and return the
 * outcomes **in strategy order**, equal to a serial loop over the strategies.
 *
 * `backtestFn` is a **reference** to an exported function, not a function, because functions
 * cannot cross threads: `taskRef(new URL('./my-backtest.js', import.meta.url), 'run')`, or
 * `{ module: import.meta.resolve('@peaktrade/backtest'), export: 'backtest' }`.
 *
 * A strategy that throws, or returns a result that cannot be structured-cloned back
 * ({@link NotCloneableError}), gives an `{ ok: false, error }` outcome and the others carry on,
 * unless `failFast` is set. Market data reaches each worker once through shared memory.
 *
 * @throws {InvalidOptionError} bad arguments (at call time).
 * @throws {StrategyFailedError} with `failFast`, the first failing strategy.
 * @throws {AbortError} `signal` fired.
 * @throws {SharedDataMutatedError} a task wrote to the shared data.
 * @throws {NotCloneableError} a strategy (its `index`) or `backtestOptions` could not be cloned to a worker (a getter in it threw: `cause`).
 */
export async function parallelBacktest<S, R = unknown, O = unknown>(
  strategies: readonly S[],
  data: BacktestData,
  backtestFn: TaskRef<BacktestFn<S, R, O>>,
  options: ParallelBacktestOptions<O> = {},
): Promise<BacktestOutcome<S, Awaited<R>>[]> {
  if (!Array.isArray(strategies))
    throw new InvalidOptionError('strategies', strategies, 'an array of strategy specs');
  checkData(data);
  const ref = normalizeTaskRef(backtestFn, 'backtestFn');
  const maxWorkers = optionalPositiveInt('maxWorkers', options.maxWorkers);
  const chunkSize = optionalPositiveInt('chunkSize', options.chunkSize);
  const failFast = options.failFast ?? false;
  if (typeof failFast !== 'boolean')
    throw new InvalidOptionError('failFast', failFast, 'a boolean');
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new InvalidOptionError(
      'onProgress',
      options.onProgress,
      'a function (done, total) => void',
    );
  }
  const backend = options.backend ?? localBackend();
  if (typeof backend !== 'object' || backend === null || typeof backend.run !== 'function') {
    throw new InvalidOptionError('backend', backend, 'a ParallelBackend ({ name, run(request) })');
  }
  const outcomes = await backend.run<S>({
    strategies,
    data,
    backtestFn: ref,
    options: options.backtestOptions,
    maxWorkers,
    chunkSize,
    failFast,
    signal: options.signal,
    onProgress: options.onProgress,
  });
  if (outcomes.length !== strategies.length) {
    throw new InvalidOptionError(
      'backend',
      backend.name,
      `a backend returning ${strategies.length} outcomes (got ${outcomes.length})`,
    );
  }
  const out = new Array<BacktestOutcome<S, Awaited<R>>>(strategies.length);
  for (let i = 0; i < strategies.length; i++) {
    const o = outcomes[i] as BackendOutcome;
    const strategy = strategies[i] as S;
    out[i] = o.ok
      ? { index: i, strategy, ok: true, value: o.value as Awaited<R> }
      : { index: i, strategy, ok: false, error: o.error };
  }
  return out;
}

function pickOhlcv(data: ColumnView<OhlcvField>): ColumnView<OhlcvField> {
  const { time, open, high, low, close, volume } = data;
  return { time, open, high, low, close, volume };
}

function checkData(data: unknown): void {
  if (data instanceof SharedColumns) {
    for (const f of OHLCV_FIELDS) {
      if (!data.names.includes(f))
        throw new InvalidOptionError(
          'data',
          data.names,
          `columns including ${OHLCV_FIELDS.join(', ')}`,
        );
    }
    return;
  }
  if (typeof data !== 'object' || data === null) {
    throw new InvalidOptionError(
      'data',
      data,
      'OHLCV columns { time, open, high, low, close, volume } of Float64Array, or SharedColumns',
    );
  }
  let length = -1;
  for (const f of OHLCV_FIELDS) {
    const col = (data as Record<string, unknown>)[f];
    if (!(col instanceof Float64Array))
      throw new InvalidOptionError(`data.${f}`, col, 'a Float64Array');
    if (length === -1) length = col.length;
    else if (col.length !== length)
      throw new InvalidOptionError(
        `data.${f}.length`,
        col.length,
        `${length} (all columns equal length)`,
      );
  }
}
