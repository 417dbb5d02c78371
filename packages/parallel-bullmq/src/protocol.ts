import type { SerializedError } from '@peaktrade/parallel';
import { createCodec } from '@peaktrade/serialize';

/** The codec of everything the backend and the workers exchange through Redis (jobs and results). */
export const messageCodec = createCodec({ level: 1 });

/** Redis key names shared by the backend and the workers. `p` is the key prefix. */
export const keys = {
  dataMeta: (p: string, hash: string) => `${p}:data:${hash}:meta`,
  dataPart: (p: string, hash: string, i: number) => `${p}:data:${hash}:${i}`,
  runMeta: (p: string, runId: string) => `${p}:run:${runId}:meta`,
  /** Hash of one run's results: one field per job (its first strategy index), written with HSETNX. */
  runResults: (p: string, runId: string) => `${p}:run:${runId}:results`,
  runCancel: (p: string, runId: string) => `${p}:run:${runId}:cancel`,
  /** A live worker's {@link WorkerInfo}, with a short TTL its heartbeat renews. */
  worker: (p: string, queue: string, id: string) => `${p}:workers:${queue}:${id}`,
  /** Set of the ids of the workers of a queue (a member whose `worker` key expired is dead). */
  workerIds: (p: string, queue: string) => `${p}:workers:${queue}`,
};

/** What one BullMQ job carries: a chunk of strategies of one run. */
export interface ChunkJob {
  readonly runId: string;
  /** Content hash of the dataset (sha256 of its serialized bytes). */
  readonly dataset: string;
  /** Export of the worker's module to call as fn(data, strategy, options). */
  readonly exportName: string;
  /** Index of the first strategy of this chunk in the run. */
  readonly start: number;
  /** The strategies, as base64 of @peaktrade/serialize bytes (keeps types JSON would lose). */
  readonly strategies: string;
  /** Third argument of every call, base64 of serialize bytes. */
  readonly options: string;
}

/** What a worker advertises in Redis while alive. */
export interface WorkerInfo {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly module: string;
  readonly exports: readonly string[];
  readonly threads: number;
  readonly concurrency: number;
}

/** One strategy's stored outcome. */
export type StoredOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedError };

/**
 * What one job stores in the run's results hash, under the field `String(start)`: the outcomes
 * of its strategies in order, serialized with @peaktrade/serialize as one value. A job's range
 * never changes between attempts, so `HSETNX` on that field stores each result exactly once.
 */
export type StoredChunk = readonly StoredOutcome[];
