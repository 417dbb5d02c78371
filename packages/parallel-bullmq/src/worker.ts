import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  WorkerPool,
  localBackend,
  parallelBacktest,
  serializeError,
  type SharedColumns,
} from '@peaktrade/parallel';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { connect, type ConnectionInput } from './connection.js';
import { downloadDataset } from './dataset.js';
import { BullmqOptionError, WorkerModuleError } from './errors.js';
import {
  keys,
  messageCodec as codec,
  type ChunkJob,
  type StoredChunk,
  type StoredOutcome,
  type WorkerInfo,
} from './protocol.js';

/** Results of a run nobody collects (its backend died) are dropped after this. */
const RESULTS_TTL_MS = 24 * 3_600_000;

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  readonly connection: ConnectionInput;
  /** Module whose exports jobs may call: a path (relative to `cwd`), a file: URL, or a package name. */
  readonly module: string;
  readonly queueName?: string;
  readonly keyPrefix?: string;
  /** Jobs processed at once (default 2). */
  readonly concurrency?: number;
  /** Worker threads of the local pool (default: the pool's default, i.e. the CPU count). */
  readonly threads?: number;
  /** A stalled job (its worker died) is taken over after this long without a lock renewal, ms (default 5 000). */
  readonly lockDurationMs?: number;
  /** Datasets kept in memory, most recently used (default 4). */
  readonly maxDatasets?: number;
  readonly cwd?: string;
  /** Called with one line per notable event (job done, dataset downloaded, ...). */
  readonly log?: (line: string) => void;
}

/** A running worker. */
export interface RunningWorker {
  readonly id: string;
  /** Datasets downloaded from Redis (each at most once while cached). */
  readonly downloads: () => number;
  /** Jobs finished. */
  readonly jobsDone: () => number;
  /** Stop taking jobs, finish the active ones (or hand them back when `force`), release everything. */
  close(force?: boolean): Promise<void>;
}

/** Resolve a --module argument to an importable URL. */
export function resolveModule(spec: string, cwd: string): string {
  if (spec.startsWith('file:')) return spec;
  if (spec.startsWith('.') || isAbsolute(spec)) return pathToFileURL(resolve(cwd, spec)).href;
  // A package name, resolved from `cwd` the way `node` would resolve it there.
  return pathToFileURL(createRequire(resolve(cwd, 'noop.js')).resolve(spec)).href;
}

/**
 * Start a worker: loads `module` (failing fast with a clear error if it cannot), connects to
 * Redis (failing fast if it cannot), advertises its exports, and processes chunk jobs on a
 * local piscina pool. Datasets are cached in memory by content hash, so each is downloaded at
 * most once per worker while cached.
 */
export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  const cwd = options.cwd ?? process.cwd();
  const queueName = options.queueName ?? 'peaktrade-backtest';
  const prefix = options.keyPrefix ?? 'peaktrade';
  // Everything is checked before Redis is connected or the pool started: an invalid option
  // found later (BullMQ rejects a queue name with ':', the pool a thread count over its limit)
  // left the connection and the threads open, and the CLI printed the error but never exited.
  if (typeof queueName !== 'string' || !/^[\w.-]+$/.test(queueName))
    throw new BullmqOptionError('queueName', queueName, 'letters, digits, _ . -');
  const concurrency = options.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new BullmqOptionError('concurrency', concurrency, 'an integer >= 1');
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1))
    throw new BullmqOptionError('threads', options.threads, 'an integer >= 1');
  const lockDurationMs = options.lockDurationMs ?? 5_000;
  if (!Number.isInteger(lockDurationMs) || lockDurationMs < 1)
    throw new BullmqOptionError('lockDurationMs', lockDurationMs, 'an integer >= 1');
  const maxDatasets = options.maxDatasets ?? 4;
  if (!Number.isInteger(maxDatasets) || maxDatasets < 1)
    throw new BullmqOptionError('maxDatasets', maxDatasets, 'an integer >= 1');
  const log = options.log ?? (() => {});
  let moduleUrl: string;
  let exportsList: string[];
  try {
    moduleUrl = resolveModule(options.module, cwd);
    const mod = (await import(moduleUrl)) as Record<string, unknown>;
    exportsList = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
  } catch (cause) {
    throw new WorkerModuleError(
      `Cannot load --module ${options.module}: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (exportsList.length === 0)
    throw new WorkerModuleError(`--module ${options.module} exports no functions`);
  // The pool checks its own limits (e.g. at most 1024 threads): made before Redis is connected,
  // a thread count it refuses leaves nothing open.
  const pool = new WorkerPool(
    options.threads !== undefined
      ? { maxWorkers: options.threads, minWorkers: options.threads }
      : {},
  );
  let redis: Redis;
  let owned: boolean;
  try {
    ({ redis, owned } = await connect(options.connection));
  } catch (error) {
    await pool.close({ force: true });
    throw error;
  }
  const id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  // The pool's own before/after checksum per run would read each dataset twice per job; the
  // worker checksums a dataset once when it arrives and checks it after every job instead.
  const backend = localBackend({ pool, verifyData: false });
  /** A cached dataset. Jobs using it hold a reference; it is released when evicted and unused. */
  interface CachedDataset {
    readonly columns: SharedColumns;
    /** A private copy of the bytes as downloaded: after each job the shared bytes must still equal it. */
    readonly pristine: Buffer;
    /** Jobs holding the columns; they are released only when this is 0 after an eviction. */
    users: number;
    evicted: boolean;
    released: boolean;
  }
  const datasets = new Map<string, Promise<CachedDataset>>();
  let downloads = 0;
  let jobsDone = 0;

  const info: WorkerInfo = {
    id,
    host: hostname(),
    pid: process.pid,
    module: moduleUrl,
    exports: exportsList,
    threads: pool.metrics().maxWorkers,
    concurrency,
  };
  const registryKey = keys.worker(prefix, queueName, id);
  const idsKey = keys.workerIds(prefix, queueName);
  // The info key expires unless renewed; the id set lets a backend find it without a SCAN.
  const advertise = () =>
    redis
      .multi()
      .set(registryKey, JSON.stringify(info), 'PX', 5_000)
      .sadd(idsKey, id)
      .pexpire(idsKey, 3_600_000)
      .exec()
      .catch(() => {});
  let heartbeat: ReturnType<typeof setInterval> | undefined;

  const dataset = (hash: string): Promise<CachedDataset> => {
    let found = datasets.get(hash);
    if (found) {
      datasets.delete(hash);
      datasets.set(hash, found); // most recently used last
      return found;
    }
    found = downloadDataset(redis, prefix, hash).then((columns) => {
      downloads++;
      log(`downloaded dataset ${hash.slice(0, 12)}… (${columns.byteLength} bytes)`);
      // A byte copy makes the per-job check a memcmp (well under 1 ms for 5 MB) instead of a
      // checksum pass over the data (several ms), at the cost of the dataset's size in memory.
      const pristine = Buffer.from(new Uint8Array(columns.buffer));
      return { columns, pristine, users: 0, evicted: false, released: false };
    });
    found.catch(() => datasets.delete(hash));
    datasets.set(hash, found);
    while (datasets.size > maxDatasets) {
      const oldest = datasets.keys().next().value as string;
      evict(oldest);
    }
    return found;
  };
  const evict = (hash: string) => {
    const entry = datasets.get(hash);
    datasets.delete(hash);
    void entry?.then(
      (d) => {
        d.evicted = true;
        // Jobs still running on it keep it until they finish (see `unuse`).
        if (d.users === 0) releaseColumns(d);
      },
      () => {},
    );
  };
  const releaseColumns = (d: CachedDataset) => {
    d.released = true;
    d.columns.release();
  };
  /**
   * The dataset of a job, counted as in use from the moment the job has it: the count goes up in
   * the same tick as the look-up resolves, so an eviction by a concurrent job (which releases the
   * columns only when nobody uses them) cannot free them under this job. A dataset that was
   * evicted and released before this job got it is looked up, so downloaded, again.
   */
  const use = async (hash: string): Promise<CachedDataset> => {
    for (;;) {
      const d = await dataset(hash);
      if (!d.released) {
        d.users++;
        return d;
      }
    }
  };
  const unuse = (d: CachedDataset) => {
    d.users--;
    if (d.evicted && d.users === 0 && !d.released) releaseColumns(d);
  };

  /** A job being processed, with what a forced close needs to hand it back to the queue. */
  interface ActiveJob {
    readonly job: Job<ChunkJob>;
    readonly token: string | undefined;
    readonly controller: AbortController;
    handedBack: boolean;
  }
  const active = new Set<ActiveJob>();
  /**
   * Put the active jobs back at the head of the queue (BullMQ's `moveToWait`: no attempt counted,
   * no wait for the lock to expire) and stop them. Their processors then end with a
   * `WaitingError`, which tells BullMQ the job was moved, so it neither completes nor fails it.
   */
  const handBack = async () => {
    await Promise.all(
      [...active].map(async (a) => {
        if (a.handedBack) return;
        a.handedBack = true;
        // A lock already lost means another worker took the job over: nothing to hand back.
        await a.job.moveToWait(a.token).catch(() => {});
        a.controller.abort();
      }),
    );
  };
  const processor = async (job: Job<ChunkJob>, token?: string) => {
    const a: ActiveJob = { job, token, controller: new AbortController(), handedBack: false };
    active.add(a);
    try {
      const result = await processChunk(job, a.controller);
      if (a.handedBack) throw new WaitingError();
      return result;
    } catch (error) {
      if (a.handedBack) throw new WaitingError();
      throw error;
    } finally {
      active.delete(a);
    }
  };

  const processChunk = async (job: Job<ChunkJob>, controller: AbortController) => {
    const data = job.data;
    const cancelKey = keys.runCancel(prefix, data.runId);
    if (!exportsList.includes(data.exportName)) {
      throw new UnrecoverableError(
        `module ${options.module} has no export "${data.exportName}" (exports: ${exportsList.join(', ')})`,
      );
    }
    // A job of a cancelled run is skipped. The check's round trip overlaps the dataset look-up
    // and the decoding, rather than delaying them.
    const cancelled = redis.exists(cancelKey).catch(() => 0);
    let cachedData: CachedDataset;
    try {
      cachedData = await use(data.dataset);
    } catch (error) {
      if ((await cancelled) === 1) return 0;
      throw error;
    }
    let watch: ReturnType<typeof setInterval> | undefined;
    try {
      const { columns: shared, pristine } = cachedData;
      const strategies = codec.decode(Buffer.from(data.strategies, 'base64')) as unknown[];
      const backtestOptions = codec.decode(Buffer.from(data.options, 'base64'));
      if ((await cancelled) === 1) return 0;
      // Cancellation of the run (abort or failFast elsewhere) stops this chunk too.
      watch = setInterval(() => {
        void redis.exists(cancelKey).then(
          (n) => n === 1 && controller.abort(),
          () => {},
        );
      }, 200);
      const outcomes = await parallelBacktest(
        strategies,
        shared,
        { module: moduleUrl, export: data.exportName },
        { backend, backtestOptions, signal: controller.signal },
      );
      if (!Buffer.from(shared.buffer).equals(pristine)) {
        // A task wrote to the read-only market data: these results cannot be trusted, and the copy
        // is dropped so the retry (here or on another worker) starts from clean data.
        evict(data.dataset);
        throw new Error(
          `a task of export "${data.exportName}" modified the shared market data (dataset ${data.dataset.slice(0, 12)}…); its results were discarded`,
        );
      }
      const resultsKey = keys.runResults(prefix, data.runId);
      const stored: StoredChunk = outcomes.map((o): StoredOutcome =>
        o.ok ? { ok: true, value: o.value } : { ok: false, error: serializeError(o.error) },
      );
      // One field per job, written with HSETNX: a chunk retried after a crash (same range, same
      // field) never overwrites or double-counts a result. Encoding the chunk's outcomes as one
      // value costs one serialize call per job instead of one per strategy.
      const results = await redis
        .multi()
        .hsetnx(resultsKey, String(data.start), Buffer.from(codec.encode(stored)))
        .pexpire(resultsKey, RESULTS_TTL_MS)
        .exec();
      const failed = results?.find(([error]) => error !== null);
      if (failed?.[0]) throw failed[0];
      jobsDone++;
      return outcomes.length;
    } catch (error) {
      if (controller.signal.aborted) return 0;
      throw error;
    } finally {
      if (watch !== undefined) clearInterval(watch);
      unuse(cachedData);
    }
  };

  // BullMQ does not close a client it is handed: this one is closed in close() below.
  const workerConnection = redis.duplicate({ maxRetriesPerRequest: null });
  let worker: Worker<ChunkJob> | undefined;
  try {
    worker = new Worker<ChunkJob>(queueName, processor, {
      connection: workerConnection,
      concurrency,
      lockDuration: lockDurationMs,
      stalledInterval: Math.max(500, Math.floor(lockDurationMs / 2)),
      maxStalledCount: 3,
    });
    worker.on('error', (error) => log(`worker error: ${error.message}`));
    worker.on('failed', (job, error) => log(`job ${job?.id ?? '?'} failed: ${error.message}`));
    await worker.waitUntilReady();
    // Advertised only once it can take jobs, so a failed start leaves no registry entry.
    await advertise();
    heartbeat = setInterval(() => void advertise(), 2_000);
    heartbeat.unref();
  } catch (error) {
    // Release what was opened, or the process (the CLI) would print the error and never exit.
    clearInterval(heartbeat);
    await worker?.close(true).catch(() => {});
    await pool.close({ force: true });
    workerConnection.disconnect();
    if (owned) redis.disconnect();
    throw error;
  }
  const bullWorker = worker;
  log(
    `worker ${id} ready on queue ${queueName}: ${exportsList.join(', ')} from ${moduleUrl}, ${info.threads} threads, concurrency ${concurrency}`,
  );

  let closing: Promise<void> | undefined;
  return {
    id,
    downloads: () => downloads,
    jobsDone: () => jobsDone,
    close: async (force = false) => {
      // A forced close hands the active jobs back at once, also while a graceful close (the first
      // SIGTERM) is waiting for them: BullMQ's own close runs once, so a later close(true) alone
      // would just wait for that graceful one, and the jobs would not come back before they end.
      if (force) await handBack();
      await (closing ??= (async () => {
        clearInterval(heartbeat);
        // Without force, BullMQ waits for active jobs (handed back above when forced).
        await bullWorker.close(force);
        await redis
          .multi()
          .unlink(registryKey)
          .srem(idsKey, id)
          .exec()
          .catch(() => {});
        await pool.close({ force });
        for (const hash of [...datasets.keys()]) evict(hash);
        await workerConnection.quit().catch(() => workerConnection.disconnect());
        if (owned) await redis.quit().catch(() => redis.disconnect());
      })());
    },
  };
}
