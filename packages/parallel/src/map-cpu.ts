import { DEFAULT_TARGET_CHUNK_MS, runChunks, sliceItems } from './chunks.js';
import { InvalidOptionError } from './errors.js';
import { WorkerPool } from './pool.js';
import type { TaskContext } from './runtime.js';
import type { SharedColumns } from './shared-columns.js';
import { normalizeTaskRef, type AnyTaskFn, type TaskRef } from './task-ref.js';
import { packList, unpackList, type WireList } from './wire.js';

/** Options of {@link mapCpu}. */
export interface MapCpuOptions {
  /** Pool to run on. Default: a pool made for this call (`maxWorkers`) and closed afterwards. */
  readonly pool?: WorkerPool;
  /** Workers of the pool made for this call when `pool` is omitted. Default: as {@link WorkerPool}. */
  readonly maxWorkers?: number;
  /** Items per dispatch. Default: automatic (chunks sized to take about `targetChunkMs` each). */
  readonly chunkSize?: number;
  /** Automatic chunking aims for chunks of this many ms of work, > 0. Default 5. */
  readonly targetChunkMs?: number;
  /** Cancels queued and running chunks (running ones have their worker terminated); rejects with `AbortError`. */
  readonly signal?: AbortSignal;
  /** Called after each finished chunk with `(itemsDone, total)`. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Shared columns passed to the task as `context.data` (only the id travels per chunk). */
  readonly shared?: SharedColumns<string>;
  /** Extra structured-cloneable value passed to the task as `context.options` (cloned once per chunk). */
  readonly context?: unknown;
}

/** A task function for {@link mapCpu}: `fn(item, index, context)`. */
export type MapCpuFn<T = never, R = unknown> = (
  item: T,
  index: number,
  context: TaskContext,
) => R | Promise<R>;

/**
 * Map `items` through the function named by `task` on worker threads. Items are batched into
 * chunks automatically (tiny items are grouped until the per-dispatch cost is amortised); results
 * come back in input order. The first item that throws rejects the whole map with
 * {@link TaskFailedError} (its `index` is the item's)  and cancels the rest.
 *
 * @param items structured-cloneable inputs.
 * @param task `taskRef(moduleUrl, 'exportName')`; the export is called as `fn(item, index, context)`.
 * @throws {InvalidOptionError} on bad options, at call time.
 * @throws {NotCloneableError} an item (its `index`) or `context` could not be cloned to a worker (a getter in it threw: `cause`),
 * or an item's result back.
 */
export async function mapCpu<F extends AnyTaskFn>(
  items: readonly Parameters<F>[0][],
  task: TaskRef<F>,
  options: MapCpuOptions = {},
): Promise<Awaited<ReturnType<F>>[]> {
  const ref = normalizeTaskRef<F>(task, 'task');
  if (!Array.isArray(items)) throw new InvalidOptionError('items', items, 'an array');
  const chunkSize = optionalPositiveInt('chunkSize', options.chunkSize);
  const targetChunkMs = options.targetChunkMs ?? DEFAULT_TARGET_CHUNK_MS;
  if (
    typeof targetChunkMs !== 'number' ||
    !(targetChunkMs > 0) ||
    !Number.isFinite(targetChunkMs)
  ) {
    throw new InvalidOptionError('targetChunkMs', targetChunkMs, 'a finite number > 0');
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new InvalidOptionError(
      'onProgress',
      options.onProgress,
      'a function (done, total) => void',
    );
  }
  const own = options.pool === undefined;
  const pool =
    options.pool ??
    new WorkerPool(options.maxWorkers === undefined ? {} : { maxWorkers: options.maxWorkers });
  const results = new Array<Awaited<ReturnType<F>>>(items.length);
  const shared = options.shared?.id ?? null;
  const context = options.context;
  const label = `${ref.module}#${ref.export}`;
  let ok = false;
  try {
    await runChunks({
      pool,
      total: items.length,
      chunkSize,
      targetChunkMs,
      signal: options.signal,
      what: `mapCpu(${label})`,
      onProgress: options.onProgress,
      makeMessage: (start, end) => ({
        kind: 'map',
        module: ref.module,
        export: ref.export,
        shared,
        items: packList(sliceItems(items, start, end, label, 'item')),
        start,
        options: context,
      }),
      accept: (start, _end, value) => {
        const out = unpackList(value as WireList) as Awaited<ReturnType<F>>[];
        for (let i = 0; i < out.length; i++) results[start + i] = out[i] as Awaited<ReturnType<F>>;
        return undefined;
      },
    });
    ok = true;
    return results;
  } finally {
    if (own) await pool.close(ok ? {} : { force: true });
  }
}

/** @internal */
export function optionalPositiveInt(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new InvalidOptionError(name, value, 'an integer ≥ 1');
  return value;
}
