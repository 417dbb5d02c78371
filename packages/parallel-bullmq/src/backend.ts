import { randomBytes } from 'node:crypto';
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
import { DatasetHashes, refreshDataset, uploadDataset } from './dataset.js';
import {
  BullmqOptionError,
  NoWorkersError,
  RunLostError,
  RedisUnavailableError,
} from './errors.js';
import {
  keys,
  messageCodec as codec,
  type ChunkJob,
  type StoredChunk,
  type StoredOutcome,
  type WorkerInfo,
} from './protocol.js';

/** Options of {@link bullmqBackend}. Validated once, when the backend is made. */
export interface BullmqBackendOptions {
  /** Redis: URL, ioredis options, or a client (not closed by the backend). */
  readonly connection: ConnectionInput;
  /** BullMQ queue name; workers must use the same (default `peaktrade-backtest`). */
  readonly queueName?: string;
  /** Prefix of this package's own keys (datasets, run results, worker registry). Default `peaktrade`. */
  readonly keyPrefix?: string;
  /**
   * Strategies per job when `parallelBacktest` gives no `chunkSize`. Default: automatic, shrinking
   * chunks sized on the job slots of the live workers (their `--concurrency` summed): each job
   * takes about the remaining work / (2 × slots), down to n / (16 × slots). Few jobs pay the
   * per-job round trips, and the small last ones let every slot finish at about the same time.
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
  /**
   * Results are fetched as soon as BullMQ reports a job completed; this is the interval of the
   * fallback check (events can be missed across a reconnect), ms (default 50).
   */
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
  /**
   * Datasets serialized and content-hashed. A run with a data object seen before, whose bytes
   * have not changed since, reuses the hash it had (see the README, "Data").
   */
  readonly encodes: number;
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
 * and collects results that workers write idempotently (one field per job, `HSETNX`), so a
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
  const hashes = new DatasetHashes();
  let state:
    | Promise<{
        redis: Redis;
        owned: boolean;
        target: string;
        queue: Queue;
        events: QueueEvents;
        /** Connections made here for BullMQ, which does not close a client it was handed. */
        own: Redis[];
      }>
    | undefined;

  const open = () =>
    (state ??= (async () => {
      const { redis, owned, target } = await connect(options.connection);
      const own = [
        redis.duplicate({ maxRetriesPerRequest: null }),
        redis.duplicate({ maxRetriesPerRequest: null }),
      ] as const;
      const queue = new Queue(queueName, { connection: own[0] });
      queue.on('error', () => {});
      const events = new QueueEvents(queueName, { connection: own[1] });
      events.on('error', () => {});
      try {
        await events.waitUntilReady();
      } catch (error) {
        await Promise.all([queue.close(), events.close()]).catch(() => undefined);
        for (const c of own) c.disconnect();
        if (owned) redis.disconnect();
        throw error;
      }
      return { redis, owned, target, queue, events, own: [...own] };
    })().catch((error: unknown) => {
      state = undefined;
      throw error;
    }));

  /** Live workers of the queue: the id set, then their info keys (an expired key is a dead worker). */
  async function liveWorkers(redis: Redis): Promise<WorkerInfo[]> {
    const idsKey = keys.workerIds(prefix, queueName);
    const ids = await redis.smembers(idsKey);
    if (ids.length === 0) return [];
    const infoKeys = ids.map((id) => keys.worker(prefix, queueName, id));
    const values = await redis.mget(...infoKeys);
    const found: WorkerInfo[] = [];
    const dead: number[] = [];
    for (const [i, v] of values.entries()) {
      if (v) found.push(JSON.parse(v) as WorkerInfo);
      else dead.push(i);
    }
    if (dead.length > 0) {
      // Forget dead ids, re-checked in Redis so a worker that just came back is kept.
      void redis
        .eval(
          PRUNE_WORKERS,
          1 + dead.length,
          idsKey,
          ...dead.map((i) => infoKeys[i]!),
          ...dead.map((i) => ids[i]!),
        )
        .catch(() => {});
    }
    return found;
  }

  async function waitForWorker(
    redis: Redis,
    exportName: string,
    signal: AbortSignal | undefined,
  ): Promise<WorkerInfo[]> {
    const end = performance.now() + waitForWorkersMs;
    for (;;) {
      // The wait can be long (no worker up yet): an abort ends it, rather than the timeout.
      if (signal?.aborted) throw new AbortError('parallelBacktest (bullmq)');
      const workers = await liveWorkers(redis);
      const offering = workers.filter((w) => w.exports.includes(exportName));
      if (offering.length > 0) return offering;
      if (performance.now() >= end) {
        throw new NoWorkersError(queueName, exportName, waitForWorkersMs, [
          ...new Set(workers.flatMap((w) => w.exports)),
        ]);
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, 100);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  return {
    name: 'bullmq',
    stats: () => ({ ...stats, encodes: hashes.encodes }),
    async close() {
      if (!state) return;
      const s = await state.catch(() => undefined);
      state = undefined;
      if (!s) return;
      await Promise.all([s.queue.close(), s.events.close()]);
      await Promise.all(
        [...s.own, ...(s.owned ? [s.redis] : [])].map((c) => c.quit().catch(() => c.disconnect())),
      );
    },
    async run<S>(request: BacktestRequest<S>): Promise<readonly BackendOutcome[]> {
      const { strategies, signal, failFast, onProgress } = request;
      if (signal?.aborted) throw new AbortError('parallelBacktest (bullmq)');
      const { redis, queue, events, target } = await open();
      const exportName = request.backtestFn.export;
      const n = strategies.length;
      // Independent round trips: finding the workers, and making sure Redis holds the dataset.
      const [offering, hash] = await Promise.all([
        waitForWorker(redis, exportName, signal),
        n === 0 ? undefined : ensureDataset(redis, request.data),
      ]);
      stats.runs++;
      if (n === 0 || hash === undefined) return [];
      // Aborted while the dataset was uploaded: no job is enqueued, so nothing is left to cancel.
      if (signal?.aborted) throw new AbortError('parallelBacktest (bullmq)');
      const runId = randomBytes(8).toString('hex');
      const runTtl = Math.max(dataTtlMs, 3_600_000);
      const slots = offering.reduce((sum, w) => sum + w.concurrency, 0);
      const ranges = planChunks(n, slots, request.chunkSize ?? fixedChunk);
      const optionsB64 = Buffer.from(codec.encode(request.options)).toString('base64');
      /** Job id → its range of strategies. */
      const jobRanges = new Map<string, { start: number; end: number }>();
      const jobs = ranges.map(({ start, end }) => {
        const jobId = `${runId}-${start}`;
        jobRanges.set(jobId, { start, end });
        const data: ChunkJob = {
          runId,
          dataset: hash,
          exportName,
          start,
          strategies: Buffer.from(codec.encode(strategies.slice(start, end))).toString('base64'),
          options: optionsB64,
        };
        return {
          name: 'chunk',
          data,
          opts: {
            jobId,
            attempts,
            backoff: { type: 'exponential', delay: backoffMs },
            removeOnComplete: true,
            removeOnFail: { age: 3600 },
          },
        };
      });
      const resultsKey = keys.runResults(prefix, runId);
      const metaKey = keys.runMeta(prefix, runId);
      // Jobs reported done (completed, or failed for good and given error results): fetch these.
      const reported = new Set<string>();
      // A job that failed for good (all attempts): its strategies get that error.
      const failedJobs = new Map<string, string>();
      let wake: (() => void) | undefined;
      let finished = false;
      const onFailed = ({ jobId, failedReason }: { jobId: string; failedReason: string }) => {
        if (!jobRanges.has(jobId)) return;
        // A failed attempt that will be retried is not final: only the job's state tells.
        queue
          .getJob(jobId)
          .then(async (job) => {
            if (job && (await job.getState()) === 'failed') {
              failedJobs.set(jobId, failedReason);
              wake?.();
            }
          })
          .catch(() => {
            if (!finished) setTimeout(() => onFailed({ jobId, failedReason }), pollMs);
          });
      };
      // Completed jobs wake the collector at once; the poll interval is only the fallback.
      const onCompleted = ({ jobId }: { jobId: string }) => {
        if (!jobRanges.has(jobId)) return;
        reported.add(jobId);
        wake?.();
      };
      events.on('failed', onFailed);
      events.on('completed', onCompleted);
      const pause = () =>
        new Promise<void>((resolve) => {
          // Something was reported while the collector was busy: no waiting.
          if (reported.size > 0 || failedJobs.size > 0) {
            resolve();
            return;
          }
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          };
        });
      const cancel = async () => {
        await redis.set(keys.runCancel(prefix, runId), '1', 'PX', runTtl).catch(() => {});
        await Promise.all([...jobRanges.keys()].map((id) => queue.remove(id).catch(() => 0)));
      };
      try {
        await Promise.all([
          redis.set(
            metaKey,
            JSON.stringify({ n, dataset: hash, exportName, startedAt: Date.now() }),
            'PX',
            runTtl,
          ),
          queue.addBulk(jobs),
        ]);
        stats.jobs += jobs.length;
        const out = new Array<BackendOutcome>(n);
        /** Jobs whose results are not collected yet. */
        const pending = new Map(jobRanges);
        let done = 0;
        let firstError: { index: number; error: Error } | undefined;
        const collect = (jobId: string, raw: Buffer) => {
          const { start, end } = pending.get(jobId)!;
          const decoded: unknown = codec.decode(raw);
          if (!Array.isArray(decoded) || decoded.length !== end - start)
            throw new Error(`job ${jobId} of run ${runId} stored a malformed result`);
          for (const [i, o] of (decoded as StoredChunk).entries()) {
            if (o.ok) {
              out[start + i] = { ok: true, value: o.value };
            } else {
              const error = deserializeError(o.error);
              out[start + i] = { ok: false, error };
              if (failFast && (firstError === undefined || start + i < firstError.index))
                firstError = { index: start + i, error };
            }
          }
          pending.delete(jobId);
          done += end - start;
        };
        let downSince: number | undefined;
        let lastDone = 0;
        for (;;) {
          if (signal?.aborted) {
            await cancel();
            throw new AbortError('parallelBacktest (bullmq)');
          }
          let fetched: [string, Buffer | null][];
          try {
            for (const [jobId, reason] of failedJobs) {
              const { start, end } = jobRanges.get(jobId)!;
              const error: StoredOutcome = {
                ok: false,
                error: {
                  name: 'JobFailedError',
                  message: `job ${jobId} failed after ${attempts} attempts: ${reason}`,
                },
              };
              const chunk: StoredChunk = Array.from({ length: end - start }, () => error);
              await redis.hsetnx(resultsKey, String(start), Buffer.from(codec.encode(chunk)));
              failedJobs.delete(jobId);
              reported.add(jobId);
            }
            // One round trip: is the run still there, how many jobs stored results, and the
            // results of the jobs reported done.
            const wanted = [...reported].filter((id) => pending.has(id));
            reported.clear();
            const pipeline = redis.pipeline().exists(metaKey).hlen(resultsKey);
            if (wanted.length > 0)
              pipeline.hmgetBuffer(
                resultsKey,
                ...wanted.map((id) => String(jobRanges.get(id)!.start)),
              );
            const replies = (await pipeline.exec()) ?? [];
            for (const [error] of replies) if (error) throw error;
            if (replies[0]?.[1] === 0) throw new RunLostError(runId);
            const stored = replies[1]?.[1] as number;
            const values = (replies[2]?.[1] ?? []) as (Buffer | null)[];
            fetched = wanted.map((id, i) => [id, values[i] ?? null]);
            // Events are not guaranteed (e.g. across a reconnect): fetch whatever else is stored.
            const known = jobRanges.size - pending.size + values.filter(Boolean).length;
            if (stored > known) {
              const rest = [...pending.keys()].filter((id) => !wanted.includes(id));
              const more = await redis.hmgetBuffer(
                resultsKey,
                ...rest.map((id) => String(jobRanges.get(id)!.start)),
              );
              for (const [i, id] of rest.entries()) fetched.push([id, more[i] ?? null]);
            }
            downSince = undefined;
          } catch (error) {
            if (error instanceof RunLostError) throw error;
            downSince ??= performance.now();
            if (performance.now() - downSince > redisDownTimeoutMs)
              throw new RedisUnavailableError(target, { cause: error });
            await new Promise((r) => setTimeout(r, pollMs));
            continue;
          }
          for (const [jobId, raw] of fetched) if (raw && pending.has(jobId)) collect(jobId, raw);
          if (done !== lastDone) {
            lastDone = done;
            onProgress?.(done, n);
          }
          if (firstError) {
            await cancel();
            throw new StrategyFailedError(firstError.index, { cause: firstError.error });
          }
          if (pending.size === 0) break;
          await pause();
        }
        return out;
      } finally {
        finished = true;
        wake = undefined;
        events.off('failed', onFailed);
        events.off('completed', onCompleted);
        await redis.unlink(metaKey, resultsKey).catch(() => {});
      }
    },
  };

  /** Make sure Redis holds `data`; returns its content hash. */
  async function ensureDataset(redis: Redis, data: BacktestRequest['data']): Promise<string> {
    const known = hashes.lookup(data);
    if (known && (await refreshDataset(redis, prefix, known.hash, known.parts, dataTtlMs)))
      return known.hash;
    const { bytes, hash } = hashes.encode(data);
    if (await uploadDataset(redis, prefix, hash, bytes, dataTtlMs)) {
      stats.uploads++;
      stats.uploadedBytes += bytes.length;
    }
    return hash;
  }
}

/**
 * Split `[0, n)` into job ranges. With a fixed size, equal chunks. Automatically, chunks shrink as
 * the work left does (each about the remaining work / (2 × slots), down to n / (16 × slots)):
 * the first jobs are big, so few jobs pay the per-job round trips, and the last are small, so
 * the slots finish close together even when one runs slower than another.
 */
export function planChunks(
  n: number,
  slots: number,
  fixed: number | undefined,
): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  const minimum = Math.max(1, Math.ceil(n / (Math.max(1, slots) * 16)));
  for (let start = 0; start < n;) {
    const size = fixed ?? Math.max(minimum, Math.ceil((n - start) / (2 * Math.max(1, slots))));
    const end = Math.min(n, start + size);
    ranges.push({ start, end });
    start = end;
  }
  return ranges;
}

const PRUNE_WORKERS = `for i, id in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then redis.call('SREM', KEYS[1], id) end
end
return 0`;
