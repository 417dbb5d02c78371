import { setMaxListeners } from 'node:events';
import { AbortError, NotCloneableError } from './errors.js';
import { kDispatch, type WorkerPool } from './pool.js';
import type { TaskMessage } from './runtime.js';

/**
 * Default target duration of one chunk (ms). Every chunk boundary leaves its worker idle for two
 * cross-thread wake-ups (its reply, then its next chunk), and on some VMs those cost far more than
 * a warm dispatch: 0.34–0.45 ms a boundary on a 2-vCPU AMD EPYC family 26 VM (2026-11-27, 06:30
 * UTC), and on an AMD EPYC family 25 VM (2026-11-27, 10:40–11:40 UTC) a task to a worker that had
 * slept 2 ms took 228–302 µs. On the latter, 200 sma-cross strategies over 100k bars took 318–374
 * ms on 1 worker and 175–195 ms on 2 with 5 ms chunks, 305–312 and 156–167 ms with 10 ms chunks
 * (no better at 20 or 40 ms), and 270–313 ms serially (medians of 6, interleaved, five runs of one
 * script). 10 ms keeps abort and progress fine-grained.
 */
export const DEFAULT_TARGET_CHUNK_MS = 10;
/** Items in the first chunks, before any timing is known. */
const PROBE_CHUNK = 4;
/** Chunks per worker at least, so a slow chunk at the end does not leave other workers idle. */
const MIN_CHUNKS_PER_WORKER = 4;

/** @internal Inputs of {@link runChunks}. */
export interface ChunkPlan {
  readonly pool: WorkerPool;
  readonly total: number;
  /** Fixed items per chunk, or undefined for automatic sizing. */
  readonly chunkSize: number | undefined;
  readonly targetChunkMs: number;
  readonly signal: AbortSignal | undefined;
  readonly what: string;
  /** Build the message for items [start, end). */
  makeMessage(start: number, end: number): TaskMessage;
  /** Store a chunk's value; return an Error to stop the whole run with it. */
  accept(start: number, end: number, value: unknown): Error | undefined;
  readonly onProgress: ((done: number, total: number) => void) | undefined;
}

/**
 * @internal Dispatch `[0, total)` in chunks over the pool. With automatic sizing the first chunks
 * are small probes; each finished chunk updates a per-item cost estimate (worker-measured run
 * time), and later chunks are sized to take `targetChunkMs`, capped so every worker gets at least
 * {@link MIN_CHUNKS_PER_WORKER} chunks, and near the end to 1 / (2 × maxWorkers) of the items left
 * (guided scheduling, so the workers finish together). At most 2 × maxWorkers chunks are in flight (fewer with a smaller
 * `maxQueue`), so a worker always has its next chunk queued. The first failure, or the signal, cancels in-flight chunks
 * (running ones have their worker terminated) and rejects.
 */
export function runChunks(plan: ChunkPlan): Promise<void> {
  const { pool, total, signal } = plan;
  const workers = pool.maxWorkers;
  const maxChunk = Math.max(1, Math.ceil(total / (workers * MIN_CHUNKS_PER_WORKER)));
  const targetNs = plan.targetChunkMs * 1e6;
  // One running and one queued chunk per worker, without overrunning a small pool queue.
  const inFlightMax = workers + Math.min(workers, pool.maxQueue);
  let size = plan.chunkSize ?? Math.min(PROBE_CHUNK, maxChunk);
  let perItemNs = -1;

  if (signal?.aborted === true)
    return Promise.reject(new AbortError(plan.what, { cause: signal.reason }));
  if (total === 0) return Promise.resolve();

  const internal = new AbortController();
  setMaxListeners(Infinity, internal.signal);

  return new Promise<void>((resolve, reject) => {
    let next = 0;
    let inFlight = 0;
    let done = 0;
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) {
        resolve();
      } else {
        internal.abort(error);
        reject(error);
      }
    };
    const onAbort = (): void => finish(new AbortError(plan.what, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });

    // A chunk's message is built (reading its items) and each reply is stored and reported inside
    // callbacks: anything they throw ends the run with that error and cancels the other chunks,
    // instead of escaping into a promise nobody awaits and leaving the run pending forever.
    const completed = (start: number, end: number, reply: { value: unknown; runNs: number }) => {
      const failure = plan.accept(start, end, reply.value);
      if (failure !== undefined) {
        finish(failure);
        return;
      }
      done += end - start;
      if (plan.chunkSize === undefined) {
        const n = end - start;
        const sample = reply.runNs / n;
        perItemNs = perItemNs < 0 ? sample : 0.5 * perItemNs + 0.5 * sample;
        size = Math.max(1, Math.min(maxChunk, Math.round(targetNs / Math.max(perItemNs, 1))));
      }
      if (plan.onProgress !== undefined) plan.onProgress(done, total);
      if (done === total) finish(undefined);
      else dispatch();
    };
    const dispatch = (): void => {
      while (!settled && inFlight < inFlightMax && next < total) {
        const start = next;
        let end = Math.min(total, start + size);
        // Guided tail: once sizes come from timings, no chunk takes more than 1 / (2 × workers) of
        // what is left, so chunks shrink near the end and the workers finish together instead of
        // one idling through the other's last full-size chunk.
        if (plan.chunkSize === undefined && perItemNs >= 0)
          end = Math.min(end, start + Math.ceil((total - start) / (2 * workers)));
        next = end;
        const message = plan.makeMessage(start, end);
        inFlight++;
        pool[kDispatch](message, internal.signal).then(
          (reply) => {
            inFlight--;
            if (settled) return;
            try {
              completed(start, end, reply);
            } catch (error) {
              finish(error instanceof Error ? error : new Error(String(error)));
            }
          },
          (error: unknown) => {
            inFlight--;
            finish(error instanceof Error ? error : new Error(String(error)));
          },
        );
      }
    };
    try {
      dispatch();
    } catch (error) {
      finish(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/**
 * @internal `list.slice(start, end)`, the items of one chunk. When reading one throws (an index
 * getter on the caller's array), the chunk cannot be sent: {@link NotCloneableError} naming that
 * item (its `noun` and index) with what the getter threw as `cause`, as structured clone would
 * fail on a getter inside an item. The search for the item runs only after a failure.
 */
export function sliceItems<T>(
  list: readonly T[],
  start: number,
  end: number,
  task: string,
  noun: 'item' | 'strategy',
): T[] {
  try {
    return list.slice(start, end);
  } catch (error) {
    for (let i = start; i < end; i++) {
      try {
        void list[i];
      } catch (cause) {
        throw new NotCloneableError(task, 'input', `${noun} #${i}`, i, { cause });
      }
    }
    throw error;
  }
}
