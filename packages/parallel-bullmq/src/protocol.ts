import type { SerializedError } from '@peaktrade/parallel';

/** Redis key names shared by the backend and the workers. `p` is the key prefix. */
export const keys = {
  dataMeta: (p: string, hash: string) => `${p}:data:${hash}:meta`,
  dataPart: (p: string, hash: string, i: number) => `${p}:data:${hash}:${i}`,
  runMeta: (p: string, runId: string) => `${p}:run:${runId}:meta`,
  runResults: (p: string, runId: string) => `${p}:run:${runId}:results`,
  runCancel: (p: string, runId: string) => `${p}:run:${runId}:cancel`,
  worker: (p: string, queue: string, id: string) => `${p}:workers:${queue}:${id}`,
  workersMatch: (p: string, queue: string) => `${p}:workers:${queue}:*`,
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

/** One strategy's stored outcome (serialized with @peaktrade/serialize). */
export type StoredOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedError };
