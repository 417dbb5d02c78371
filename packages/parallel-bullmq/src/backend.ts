import { randomBytes } from 'node:crypto';
import { createCodec } from '@peaktrade/serialize';
import {
  AbortError,
  deserializeError,
  StrategyFailedError,
  type BackendOutcome,
  type BacktestRequest,
  type ParallelBackend,
} from '@peaktrade/parallel';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { connect, type ConnectionInput } from './connection.js';
import { encodeDataset, uploadDataset } from './dataset.js';
import {
  BullmqOptionError,
  NoWorkersError,
  RunLostError,
  RedisUnavailableError,
} from './errors.js';
import { keys, type ChunkJob, type StoredOutcome, type WorkerInfo } from './protocol.js';

const codec = createCodec({ level: 1 });

/** Options of {@link bullmqBackend}. Validated once, when the backend is made. */
export interface BullmqBackendOptions {
  /** Redis: URL, ioredis options, or a client (not closed by the backend). */
  readonly connection: ConnectionInput;
  /** BullMQ queue name; workers must use the same (default `peaktrade-backtest`). */
  readonly queueName?: string;
  /** Prefix of this package's own keys (datasets, run results, worker registry). Default `peaktrade`. */
  readonly keyPrefix?: string;
  /**
   * Strategies per job when `parallelBacktest` gives no `chunkSize`. Default: automatic, about
   * four jobs per job slot of the live workers (their `--concurrency` summed), so per-job overhead
   * is amortised and a slow or lost worker still leaves work to rebalance.
   */
  readonly chunkSize?: number;
  /** Attempts per job, the first included (default 3). */
  readonly attempts?: number;
  /** Exponential backoff base between attempts, ms (default 500). */
  readonly backoffMs?: number;
  /** How long an uploaded dataset stays in Redis after its last use, ms (default 1 h). */
  readonly dataTtlMs?: number;
  /** Wait this long at the start of a run for a live worker offering the export, ms (default 10 000). */
  readonly waitForWorkersMs?: number;
  /** Fail the run when Redis stays unreachable this long, ms (default 15 000). */
  readonly redisDownTimeoutMs?: number;
  /** Poll interval for results, ms (default 50). */
  readonly pollMs?: number;
}

/** Counters of a backend, for tests and dashboards. */
export interface BullmqBackendStats {
  /** Runs started. */
  readonly runs: number;
  /** Datasets whose bytes were uploaded (a dataset already in Redis is not uploaded again). */
  readonly uploads: number;
  /** Uploaded bytes in total. */
  readonly uploadedBytes: number;
  /** Jobs enqueued. */
  readonly jobs: number;
}

/** A {@link ParallelBackend} on BullMQ, plus `close()` and `stats()`. */
export interface BullmqBackend extends ParallelBackend {
  stats(): BullmqBackendStats;
  /** Close the queue and the connections the backend opened. */
  close(): Promise<void>;
}

function positiveInt(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new BullmqOptionError(option, value, 'an integer >= 1');
  return value;
}

/**
 * Run `parallelBacktest` across machines: `parallelBacktest(strategies, data, fn, { backend: bullmqBackend({ connection }) })`.
 * Same API, result order and error isolation as the local pool.
 *
 * A run uploads the dataset once (content-addressed), enqueues one job per chunk of strategies,
 * and collects results that workers write idempotently (one field per strategy, `HSETNX`), so a
 * retried or stalled-and-recovered chunk never counts twice. Workers are started with the
 * `peaktrade-worker` CLI on any host.
 */
export function bullmqBackend(options: BullmqBackendOptions): BullmqBackend {
  if (options === null || typeof options !== 'object' || options.connection === undefined) {
    throw new BullmqOptionError(
      'connection',
      options?.connection,
      'a Redis URL, ioredis options or an ioredis client',
    );
  }
  const queueName = options.queueName ?? 'peaktrade-backtest';
  if (typeof queueName !== 'string' || !/^[\w.-]+$/.test(queueName))
    throw new BullmqOptionError('queueName', queueName, 'letters, digits, _ . -');
  const prefix = options.keyPrefix ?? 'peaktrade';
  const fixedChunk =
    options.chunkSize === undefined ? undefined : positiveInt('chunkSize', options.chunkSize);
  const attempts = positiveInt('attempts', options.attempts ?? 3);
  const backoffMs = options.backoffMs ?? 500;
  const dataTtlMs = positiveInt('dataTtlMs', options.dataTtlMs ?? 3_600_000);
  const waitForWorkersMs = options.waitForWorkersMs ?? 10_000;
  const redisDownTimeoutMs = positiveInt(
    'redisDownTimeoutMs',
    options.redisDownTimeoutMs ?? 15_000,
  );
  const pollMs = positiveInt('pollMs', options.pollMs ?? 50);
  const stats = { runs: 0, uploads: 0, uploadedBytes: 0, jobs: 0 };
  let state:
    | Promise<{ redis: Redis; owned: boolean; target: string; queue: Queue; events: QueueEvents }>
    | undefined;

  const open = () =>
    (state ??= (async () => {
      const { redis, owned, target } = await connect(options.connection);
      const queue = new Queue(queueName, {
        connection: redis.duplicate({ maxRetriesPerRequest: null }),
      });
      queue.on('error', () => {});
      const events = new QueueEvents(queueName, {
        connection: redis.duplicate({ maxRetriesPerRequest: null }),
      });
      events.on('error', () => {});
      await events.waitUntilReady();
      return { redis, owned, target, queue, events };
    })().catch((error: unknown) => {
      state = undefined;
      throw error;
    }));

  async function liveWorkers(redis: Redis): Promise<WorkerInfo[]> {
    const found: WorkerInfo[] = [];
    let cursor = '0';
    do {
      const [next, names] = await redis.scan(
        cursor,
        'MATCH',
        keys.workersMatch(prefix, queueName),
        'COUNT',
        100,
      );
      cursor = next;
      const values = names.length ? await redis.mget(...names) : [];
      for (const v of values) if (v) found.push(JSON.parse(v) as WorkerInfo);
    } while (cursor !== '0');
    return found;
  }

  async function waitForWorker(redis: Redis, exportName: string): Promise<WorkerInfo[]> {
    const end = performance.now() + waitForWorkersMs;
    for (;;) {
      const workers = await liveWorkers(redis);
      const offering = workers.filter((w) => w.exports.includes(exportName));
      if (offering.length > 0) return offering;
      if (performance.now() >= end) {
        throw new NoWorkersError(queueName, exportName, waitForWorkersMs, [
          ...new Set(workers.flatMap((w) => w.exports)),
        ]);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return {
    name: 'bullmq',
    stats: () => ({ ...stats }),
    async close() {
      if (!state) return;
      const s = await state.catch(() => undefined);
      state = undefined;
      if (!s) return;
      await Promise.all([s.queue.close(), s.events.close()]);
      if (s.owned) await s.redis.quit().catch(() => s.redis.disconnect());
    },
    async run<S>(request: BacktestRequest<S>): Promise<readonly BackendOutcome[]> {
      const { strategies, signal, failFast, onProgress } = request;
      if (signal?.aborted) throw new AbortError('parallelBacktest (bullmq)');
      const { redis, queue, events, target } = await open();
      const exportName = request.backtestFn.export;
      const offering = await waitForWorker(redis, exportName);
      stats.runs++;
      const n = strategies.length;
      if (n === 0) return [];
      const { bytes, hash } = encodeDataset(request.data);
      if (await uploadDataset(redis, prefix, hash, bytes, dataTtlMs)) {
        stats.uploads++;
        stats.uploadedBytes += bytes.length;
      }
      const runId = randomBytes(8).toString('hex');
      const runTtl = Math.max(dataTtlMs, 3_600_000);
      await redis.set(
        keys.runMeta(prefix, runId),
        JSON.stringify({ n, dataset: hash, exportName, startedAt: Date.now() }),
        'PX',
        runTtl,
      );
      const slots = offering.reduce((sum, w) => sum + w.concurrency, 0);
      const chunk = request.chunkSize ?? fixedChunk ?? Math.max(1, Math.ceil(n / (slots * 4)));
      const optionsB64 = Buffer.from(codec.encode(request.options)).toString('base64');
      const jobs = [];
      for (let start = 0; start < n; start += chunk) {
        const data: ChunkJob = {
          runId,
          dataset: hash,
          exportName,
          start,
          strategies: Buffer.from(codec.encode(strategies.slice(start, start + chunk))).toString(
            'base64',
          ),
          options: optionsB64,
        };
        jobs.push({
          name: 'chunk',
          data,
          opts: {
            jobId: `${runId}-${start}`,
            attempts,
            backoff: { type: 'exponential', delay: backoffMs },
            removeOnComplete: true,
            removeOnFail: { age: 3600 },
          },
        });
      }
      await queue.addBulk(jobs);
      stats.jobs += jobs.length;
      const resultsKey = keys.runResults(prefix, runId);
      const jobIds = new Set(jobs.map((j) => j.opts.jobId));
      // A job that failed for good (all attempts): its strategies get that error.
      const failedJobs = new Map<string, string>();
      const onFailed = ({ jobId, failedReason }: { jobId: string; failedReason: string }) => {
        if (!jobIds.has(jobId)) return;
        void queue.getJob(jobId).then(async (job) => {
          if (job && (await job.getState()) === 'failed') failedJobs.set(jobId, failedReason);
        });
      };
      events.on('failed', onFailed);
      // Completed jobs wake the collector at once; the poll interval is only the fallback.
      let wake: (() => void) | undefined;
      const onCompleted = ({ jobId }: { jobId: string }) => {
        if (jobIds.has(jobId)) wake?.();
      };
      events.on('completed', onCompleted);
      const pause = () =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      const cancel = async () => {
        await redis.set(keys.runCancel(prefix, runId), '1', 'PX', runTtl).catch(() => {});
        await Promise.all([...jobIds].map((id) => queue.remove(id).catch(() => 0)));
      };
      try {
        let downSince: number | undefined;
        let lastDone = -1;
        for (;;) {
          if (signal?.aborted) {
            await cancel();
            throw new AbortError('parallelBacktest (bullmq)');
          }
          let done: number;
          try {
            for (const [jobId, reason] of failedJobs) {
              const start = Number(jobId.slice(runId.length + 1));
              const error: StoredOutcome = {
                ok: false,
                error: {
                  name: 'JobFailedError',
                  message: `job ${jobId} failed after ${attempts} attempts: ${reason}`,
                },
              };
              const pipeline = redis.pipeline();
              for (let i = start; i < Math.min(n, start + chunk); i++)
                pipeline.hsetnx(resultsKey, String(i), Buffer.from(codec.encode(error)));
              await pipeline.exec();
              failedJobs.delete(jobId);
            }
            if ((await redis.exists(keys.runMeta(prefix, runId))) === 0)
              throw new RunLostError(runId);
            done = await redis.hlen(resultsKey);
            downSince = undefined;
          } catch (error) {
            if (error instanceof RunLostError) throw error;
            downSince ??= performance.now();
            if (performance.now() - downSince > redisDownTimeoutMs)
              throw new RedisUnavailableError(target, { cause: error });
            await new Promise((r) => setTimeout(r, pollMs));
            continue;
          }
          if (done !== lastDone) {
            lastDone = done;
            onProgress?.(done, n);
          }
          if (failFast && done > 0) {
            const firstError = await findFirstError(redis, resultsKey);
            if (firstError) {
              await cancel();
              throw new StrategyFailedError(firstError.index, {
                cause: deserializeError(firstError.error),
              });
            }
          }
          if (done >= n) break;
          await pause();
        }
        const stored = await redis.hgetallBuffer(resultsKey);
        const out = new Array<BackendOutcome>(n);
        for (let i = 0; i < n; i++) {
          const raw = stored[String(i)];
          if (!raw) throw new RunLostError(runId);
          const o = codec.decode(raw) as StoredOutcome;
          out[i] = o.ok
            ? { ok: true, value: o.value }
            : { ok: false, error: deserializeError(o.error) };
        }
        return out;
      } finally {
        events.off('failed', onFailed);
        events.off('completed', onCompleted);
        await redis.unlink(keys.runMeta(prefix, runId), resultsKey).catch(() => {});
      }
    },
  };
}

async function findFirstError(
  redis: Redis,
  resultsKey: string,
): Promise<{ index: number; error: { name: string; message: string } } | undefined> {
  const stored = await redis.hgetallBuffer(resultsKey);
  let first: { index: number; error: { name: string; message: string } } | undefined;
  for (const [field, raw] of Object.entries(stored)) {
    const o = codec.decode(raw) as StoredOutcome;
    const index = Number(field);
    if (!o.ok && (first === undefined || index < first.index)) first = { index, error: o.error };
  }
  return first;
}
