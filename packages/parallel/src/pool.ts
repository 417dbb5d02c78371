import { EventEmitter } from 'node:events';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import type { ParallelConfig } from '@peaktrade/config';
import { cpuTopology } from '@peaktrade/numeric-accel';
import { Piscina } from 'piscina';
import {
  AbortError,
  InvalidOptionError,
  NotCloneableError,
  PoolClosedError,
  QueueFullError,
  TaskFailedError,
  TaskLoadError,
  WorkerCrashedError,
  deserializeError,
  type SerializedError,
} from './errors.js';
import { RingQueue } from './ring-queue.js';
import { BUSY, DOORBELL, RESULTS, SPINNING, STATE_LENGTH, type WorkerSetup } from './runtime.js';
import {
  cloneMessage,
  cloneReply,
  clones,
  execute,
  isDataCloneError,
  itemNoun,
  locateUncloneableInput,
  toError,
  type TaskMessage,
  type TaskReply,
} from './runtime.js';
import {
  lookupShared,
  viewColumns,
  type SharedColumns,
  type SharedColumnsHandle,
} from './shared-columns.js';
import { normalizeTaskRef, type AnyTaskFn, type TaskRef } from './task-ref.js';
import { defaultPoolSize } from './topology.js';

/** What to do when `run()` finds the queue full. */
export type QueueFullPolicy = 'wait' | 'reject';

/** Options of {@link WorkerPool}. Resolved once, at construction. */
export interface WorkerPoolOptions {
  /** Worker threads, integer 1–1024. Default: `config.max_workers`, else numeric-accel's `accelSettings().threads`. */
  readonly maxWorkers?: number;
  /** Workers kept alive even when idle, 0–maxWorkers. Default 0 (all idle workers stop after `idleTimeoutMs`). */
  readonly minWorkers?: number;
  /** Idle workers above `minWorkers` stop after this many ms, integer ≥ 0. Default: `config.idle_timeout_ms`, else 30 000. */
  readonly idleTimeoutMs?: number;
  /** Tasks waiting for a worker, beyond the running ones, integer ≥ 1. Default: `config.max_queue`, else 10 000. */
  readonly maxQueue?: number;
  /**
   * With a full queue, `'wait'` (default) parks the submitter until a slot frees (its `run()`
   * promise simply settles later; see `metrics().waiting`); `'reject'` fails the call with {@link QueueFullError}.
   */
  readonly onQueueFull?: QueueFullPolicy;
  /** V8 heap limits per worker (`worker_threads` `resourceLimits`). A worker over its limit dies; only its task fails. */
  readonly resourceLimits?: ResourceLimits;
  /**
   * Run tasks on the calling thread instead of workers (debugging). Input and result are still
   * structured-cloned as they would be to and from a worker (same values, same
   * {@link NotCloneableError}s), so switching this never changes results; shared columns still
   * arrive as shared, read-only views. Default: `!config.use_processes`, else false.
   */
  readonly inline?: boolean;
  /**
   * How long (µs) a worker that has just sent a result keeps polling for its next task before it
   * goes to sleep, integer 0–10 000. A sleeping thread is woken through the kernel (and, on a VM,
   * the hypervisor), which costs tens of µs per task; a worker still polling when its next task is
   * posted starts it at once. The poll stops as soon as this pool posts any task, so it only burns
   * CPU when no task follows; and a worker polls only while a CPU is left over for this thread
   * (running and polling workers together stay below the CPUs the process may use), so it never
   * competes with the thread that must receive its result.
   *
   * The pool's own thread polls the same way for a result, for at most as long: right after it
   * posts a task, when a CPU is free for it besides the running and polling workers. Its event
   * loop would otherwise sleep until the result's message wakes it, which costs the same tens of
   * µs. While it polls, this thread runs nothing else: another event waits at most `spinMicros`.
   * When tasks take longer than that, polls time out and the pool polls ever less often (after two
   * in a row, it skips 1, 2, 4 ... up to 64 task starts), so long tasks waste at most one poll in 65.
   * `metrics().resultPolls` counts these polls.
   *
   * 0 turns both off. Default 100.
   */
  readonly spinMicros?: number;
  /** The `[performance.parallel]` section of `loadConfig()`; fills the defaults above. */
  readonly config?: ParallelConfig;
}

/** Options of {@link WorkerPool.run}. */
export interface RunOptions {
  /** Cancel: a queued task is dropped, a running one has its worker terminated (and replaced). */
  readonly signal?: AbortSignal;
  /** Shared columns the task reads as `context.data`. Only the id travels with the task. */
  readonly shared?: SharedColumns<string>;
}

/** Percentiles of a latency distribution, in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

/** A snapshot of pool activity. Tasks here are pool dispatches (a `mapCpu` chunk is one task). */
export interface PoolMetrics {
  /** Configured maximum of worker threads. */
  readonly maxWorkers: number;
  /** Worker threads alive now (started and not yet exited). */
  readonly threads: number;
  /** Tasks running now. */
  readonly running: number;
  /** Tasks queued for a worker. */
  readonly queued: number;
  /** Submitters parked by a full queue (`onQueueFull: 'wait'`). */
  readonly waiting: number;
  /** Tasks that returned a value. */
  readonly completed: number;
  /** Tasks that failed: the task threw, its module failed to load, or its worker crashed. */
  readonly failed: number;
  /** Of `failed`: tasks whose worker crashed. */
  readonly crashed: number;
  /** Tasks cancelled by their signal or a forced close. */
  readonly cancelled: number;
  /** Workers that crashed or exited on their own while idle or starting up (no task to fail); also emitted as `'workerCrash'`. */
  readonly idleCrashes: number;
  /**
   * Replies that reached the pool after their task was aborted (its worker was already being
   * terminated), and were dropped. Not crashes: the task had finished just as the abort came.
   */
  readonly lateReplies: number;
  /** Busy share of capacity since the pool started (or `resetMetrics()`): Σ run time / (elapsed × maxWorkers), 0–1. */
  readonly utilisation: number;
  /** Time from submission to start on a worker. */
  readonly queueWaitMs: LatencySummary;
  /** Time from start to result, as seen by the pool (includes the message round trip). */
  readonly runTimeMs: LatencySummary;
  /**
   * How often this thread polled for a short task's result instead of sleeping until it came (see
   * {@link WorkerPoolOptions.spinMicros}), and of those, how often the result came while it polled.
   */
  readonly resultPolls: { readonly count: number; readonly hits: number };
}

/** Events of {@link WorkerPool}. */
export interface WorkerPoolEvents {
  /**
   * A worker died with no task running (nothing else reports it): an error thrown, or
   * `process.exit()` called, by a timer or callback a finished task left behind; or it died while
   * starting up (a replacement for a dead worker, say) with no task waiting for it alone. Also
   * counted in `metrics().idleCrashes`. The pool starts a new worker when it needs one (at once
   * with `minWorkers`, unless a worker failed during start-up before).
   */
  workerCrash: [error: Error];
  /**
   * Piscina reported an error that is neither a worker crash nor a late reply (for example a close
   * that timed out). Emitted only when there is a listener; without one the pool emits a process
   * warning instead (code `E_PARALLEL_POOL_ERROR`), so such an error never throws.
   */
  error: [error: Error];
}

/** The public getters of piscina's `PiscinaWorker` (its `'workerCreate'` event argument) read here. */
interface PiscinaWorkerState {
  readonly id: number;
  readonly currentUsage: number;
  readonly destroyed: boolean;
}

/** What the pool knows of one worker thread piscina started (see `#trackWorkers`). */
interface TrackedWorker {
  /** Its `threadId` (the `Worker`'s own reads -1 once the thread has exited). */
  readonly id: number;
  /** Settles when the thread has exited. */
  readonly exited: Promise<void>;
  /** Piscina's view of it, from its `'workerCreate'` event (once piscina counts it as ready). */
  state: PiscinaWorkerState | undefined;
  /** It finished starting up: it sent its first message (piscina's ready signal). */
  started: boolean;
  /** Piscina dropped it from its pool: stopped it on purpose, or after it died. */
  removed: boolean;
}

/** Why a worker died with no task on it, and what a task left without a worker fails with. */
interface LostWorker {
  readonly error: Error;
  readonly reason: WorkerCrashedError['reason'];
}

const enum JobState {
  Queued,
  Waiting,
  Running,
  Done,
}

interface Job {
  readonly message: TaskMessage;
  readonly label: string;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (reply: TaskReply & { ok: true }) => void;
  readonly reject: (error: Error) => void;
  state: JobState;
  submittedNs: bigint;
  onAbort: (() => void) | undefined;
}

/** Options of a piscina run without a signal: one shared object, not one per task. */
const NO_RUN_OPTIONS = Object.freeze({});

/** @internal Raw dispatch used by mapCpu and parallelBacktest (resolves with the whole reply). */
export const kDispatch = Symbol('dispatch');

/** The CommonJS file piscina loads (see worker-entry.cts); it imports the ES module worker. */
const WORKER_ENTRY: URL = import.meta.url.endsWith('.ts')
  ? new URL('../dist/worker-entry.cjs', import.meta.url) // running from sources (tests): use the build
  : new URL('./worker-entry.cjs', import.meta.url);

const inlineViews = new WeakMap<SharedColumnsHandle, Readonly<Record<string, Float64Array>>>();
function resolveInline(id: string): Readonly<Record<string, Float64Array>> {
  const handle = lookupShared(id);
  if (handle === undefined)
    throw new Error(`Shared columns ${id} are not available: released, or never created`);
  let views = inlineViews.get(handle);
  if (views === undefined) {
    views = Object.freeze(viewColumns(handle.buffer, handle.names, handle.length));
    inlineViews.set(handle, views);
  }
  return views;
}

/**
 * A pool of worker threads (piscina underneath) that runs functions exported by JavaScript
 * modules, named by {@link TaskRef}. One task per worker at a time, so a worker crash fails
 * only the task it was running; the worker is replaced and the pool carries on.
 *
 * Scheduling is the pool's own: at most `maxWorkers` tasks are handed to piscina, the rest wait
 * in an O(1) FIFO bounded by `maxQueue` (backpressure per `onQueueFull`). Errors a task throws
 * reject its `run()` with {@link TaskFailedError}; a dead worker gives {@link WorkerCrashedError}.
 */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  /** Resolved worker count. */
  readonly maxWorkers: number;
  /** Resolved queue bound. */
  readonly maxQueue: number;
  /** Resolved idle timeout (ms). */
  readonly idleTimeoutMs: number;
  /** True when tasks run on the calling thread. */
  readonly inline: boolean;
  /** Resolved {@link WorkerPoolOptions.spinMicros}. */
  readonly spinMicros: number;
  /** Counters shared with the workers: the doorbell, busy and polling workers (see {@link WorkerSetup}). */
  readonly #state = new Int32Array(new SharedArrayBuffer(4 * STATE_LENGTH));
  /** CPUs this process may use (the pool's thread polls for a result only while one is free). */
  readonly #cpus: number;
  /** Task starts left before this thread polls for a result again (after polls that timed out). */
  #pollSkips = 0;
  /** Polls for a result in a row that timed out. */
  #pollMisses = 0;
  /** A poll for a result is scheduled and has not run yet. */
  #pollScheduled = false;
  #resultPolls = 0;
  #resultPollHits = 0;

  readonly #piscina: Piscina | undefined;
  readonly #onQueueFull: QueueFullPolicy;
  readonly #queue = new RingQueue<Job>(64);
  readonly #waiting = new RingQueue<Job>(16);

  #queuedLive = 0;
  #waitingLive = 0;
  #running = 0;
  #completed = 0;
  #failed = 0;
  #crashed = 0;
  #cancelled = 0;
  #idleCrashes = 0;
  #lateReplies = 0;
  /** The worker whose own 'error' event is being dispatched (see #trackWorkers). */
  #erroredWorker: TrackedWorker | undefined;
  #busyNs = 0n;
  #sinceNs = process.hrtime.bigint();
  #wait: RecordableHistogram = createHistogram();
  #run: RecordableHistogram = createHistogram();
  /** Every worker thread piscina started that has not exited yet, by thread id. */
  readonly #workers = new Map<number, TrackedWorker>();
  /** Of #workers: those piscina still holds (not `removed`). */
  #held = 0;
  #closing: Promise<void> | undefined;
  /** close({ force: true }) was called: running tasks are being terminated on purpose. */
  #forced = false;
  /** Set while piscina is reset after workers died before they could take the tasks waiting for them (see #workerLost). */
  #startupFailure: LostWorker | undefined;
  #resetting: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  /** @throws {InvalidOptionError} on any invalid option (names it, the value and what is allowed). */
  constructor(options: WorkerPoolOptions = {}) {
    super();
    const cfg = options.config;
    this.maxWorkers = intOption(
      'maxWorkers',
      options.maxWorkers ?? cfg?.max_workers ?? defaultPoolSize(),
      1,
      1024,
    );
    const minWorkers = intOption('minWorkers', options.minWorkers ?? 0, 0, this.maxWorkers);
    this.idleTimeoutMs = intOption(
      'idleTimeoutMs',
      options.idleTimeoutMs ?? cfg?.idle_timeout_ms ?? 30_000,
      0,
      2 ** 31 - 1,
    );
    this.maxQueue = intOption(
      'maxQueue',
      options.maxQueue ?? cfg?.max_queue ?? 10_000,
      1,
      Number.MAX_SAFE_INTEGER,
    );
    const policy = options.onQueueFull ?? 'wait';
    if (policy !== 'wait' && policy !== 'reject')
      throw new InvalidOptionError('onQueueFull', policy, "'wait' or 'reject'");
    this.#onQueueFull = policy;
    this.spinMicros = intOption('spinMicros', options.spinMicros ?? 100, 0, 10_000);
    const inline = options.inline ?? (cfg === undefined ? false : !cfg.use_processes);
    if (typeof inline !== 'boolean') throw new InvalidOptionError('inline', inline, 'a boolean');
    this.inline = inline;
    if (
      options.resourceLimits !== undefined &&
      (typeof options.resourceLimits !== 'object' || options.resourceLimits === null)
    ) {
      throw new InvalidOptionError(
        'resourceLimits',
        options.resourceLimits,
        'a worker_threads ResourceLimits object',
      );
    }
    this.#cpus = cpuTopology().effectiveParallelism;
    if (inline) {
      this.#piscina = undefined;
      return;
    }
    const piscina = new Piscina({
      // A path, not a file: URL: piscina converts a URL string back to a path on every run().
      filename: fileURLToPath(WORKER_ENTRY),
      maxThreads: this.maxWorkers,
      minThreads: minWorkers,
      idleTimeout: this.idleTimeoutMs,
      concurrentTasksPerWorker: 1,
      // Keep each worker's event loop running between tasks (piscina's default 'sync' blocks it in
      // Atomics.wait): a stray timer left by a finished task then fails while the worker is idle
      // (reported as 'workerCrash') instead of inside the next, innocent task. 'sync' would not
      // make warm dispatch faster either: a thread blocked in Atomics.wait needs the same kernel
      // wake-up as one blocked in its event loop (measured: no difference on the 2-core VM).
      atomics: 'disabled',
      recordTiming: false,
      workerData: {
        state: this.#state,
        spinMicros: this.spinMicros,
        cpus: this.#cpus,
      } satisfies WorkerSetup,
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
    });
    piscina.on('error', (error: unknown) => {
      const worker = this.#erroredWorker;
      this.#erroredWorker = undefined;
      // Watch a worker piscina started in place of the dead one before it can fail in turn.
      this.#trackWorkers();
      const kind = piscinaErrorKind(error, worker !== undefined);
      if (kind === 'late-reply') {
        this.#lateReplies++;
        return;
      }
      if (kind === 'other' || worker === undefined) {
        this.#reportPoolError(toError(error));
        return;
      }
      // A worker died with no task on it (piscina reports a death that fails a task to that task).
      const err = toError(error);
      const reason = crashReason(err);
      this.#workerLost(
        piscina,
        worker.started
          ? { error: err, reason }
          : {
              error: new Error(
                `Worker thread ${worker.id} failed during start-up, before it could take a task: ${err.name}: ${err.message}`,
                { cause: err },
              ),
              reason,
            },
      );
    });
    piscina.on('workerCreate', (worker: PiscinaWorkerState) => {
      const known = this.#workers.has(worker.id);
      this.#trackWorkers();
      const tracked = this.#workers.get(worker.id);
      if (tracked !== undefined) {
        tracked.state = worker;
        // First seen now, after its ready message: it has started.
        if (!known) tracked.started = true;
      }
      // Piscina may start another worker right after this event, for tasks still waiting.
      queueMicrotask(() => this.#trackWorkers());
    });
    piscina.on('workerDestroy', (worker: PiscinaWorkerState) => {
      // Reads -1 for a thread that has exited; its 'exit' watcher has marked it already.
      const tracked = this.#workers.get(worker.id);
      if (tracked !== undefined) this.#markRemoved(tracked);
    });
    this.#piscina = piscina;
    this.#trackWorkers(); // the minWorkers started by the constructor
  }

  /**
   * A pool configured from `[performance.parallel]` (`loadConfig()` when `config` is omitted),
   * with `overrides` on top.
   */
  static async fromConfig(
    overrides: Omit<WorkerPoolOptions, 'config'> = {},
    config?: ParallelConfig,
  ): Promise<WorkerPool> {
    const section = config ?? (await import('@peaktrade/config')).loadConfig().performance.parallel;
    return new WorkerPool({ ...overrides, config: section });
  }

  /**
   * Run `ref`'s function as `fn(input, context)` on a worker and resolve with its (awaited) result.
   * `input` and the result are structured-cloned; shared columns travel by id only.
   *
   * @throws {TaskFailedError} the function threw or rejected (the worker survives).
   * @throws {NotCloneableError} `input` could not be cloned to the worker (a getter in it threw: `cause`), or the result back (the worker survives).
   * @throws {TaskLoadError} the module could not be imported or lacks the export.
   * @throws {WorkerCrashedError} the worker died while running this task.
   * @throws {AbortError} `signal` fired.
   * @throws {QueueFullError} the queue was full and `onQueueFull` is `'reject'`.
   * @throws {PoolClosedError} the pool is closed or closing.
   */
  async run<F extends AnyTaskFn>(
    ref: TaskRef<F>,
    input: Parameters<F>[0],
    options: RunOptions = {},
  ): Promise<Awaited<ReturnType<F>>> {
    const task = normalizeTaskRef<F>(ref, 'ref');
    const reply = await this[kDispatch](
      {
        kind: 'call',
        module: task.module,
        export: task.export,
        shared: options.shared?.id ?? null,
        input,
      },
      options.signal,
    );
    // Keeps the SharedColumns object reachable (its finalizer would release the id) until the task is done.
    void options.shared;
    return reply.value as Awaited<ReturnType<F>>;
  }

  /** @internal Submit a raw message. */
  [kDispatch](
    message: TaskMessage,
    signal: AbortSignal | undefined,
  ): Promise<TaskReply & { ok: true }> {
    const label = `${message.module}#${message.export}`;
    if (this.#closing !== undefined)
      return Promise.reject(new PoolClosedError(`Worker pool is closed; cannot run ${label}`));
    if (signal?.aborted === true)
      return Promise.reject(new AbortError(`Task ${label}`, { cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const job: Job = {
        message,
        label,
        signal,
        resolve,
        reject,
        state: JobState.Queued,
        submittedNs: process.hrtime.bigint(),
        onAbort: undefined,
      };
      if (this.#canStart() && this.#queuedLive === 0) {
        this.#start(job);
        return;
      }
      if (this.#queuedLive >= this.maxQueue) {
        if (this.#onQueueFull === 'reject') {
          reject(new QueueFullError(this.maxQueue));
          return;
        }
        job.state = JobState.Waiting;
        this.#waiting.push(job);
        this.#waitingLive++;
      } else {
        this.#queue.push(job);
        this.#queuedLive++;
      }
      if (signal !== undefined) {
        job.onAbort = () => this.#cancelPending(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
    });
  }

  /** Current activity and latency figures. */
  metrics(): PoolMetrics {
    const elapsedNs = Number(process.hrtime.bigint() - this.#sinceNs);
    return {
      maxWorkers: this.maxWorkers,
      threads: this.#workers.size,
      running: this.#running,
      queued: this.#queuedLive,
      waiting: this.#waitingLive,
      completed: this.#completed,
      failed: this.#failed,
      crashed: this.#crashed,
      cancelled: this.#cancelled,
      idleCrashes: this.#idleCrashes,
      lateReplies: this.#lateReplies,
      utilisation:
        elapsedNs > 0 ? Math.min(1, Number(this.#busyNs) / (elapsedNs * this.maxWorkers)) : 0,
      queueWaitMs: summarize(this.#wait),
      runTimeMs: summarize(this.#run),
      resultPolls: { count: this.#resultPolls, hits: this.#resultPollHits },
    };
  }

  /** Restart utilisation and latency accounting (counters keep counting). */
  resetMetrics(): void {
    this.#wait.reset();
    this.#run.reset();
    this.#busyNs = 0n;
    this.#sinceNs = process.hrtime.bigint();
  }

  /** Worker threads alive now (started and not yet exited). */
  get threadCount(): number {
    return this.#workers.size;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Stop the pool. Graceful by default: no new tasks are taken, queued and running tasks finish,
   * then every worker exits and the promise resolves. With `force: true`, queued and waiting
   * tasks reject with {@link PoolClosedError} and running ones are terminated. Idempotent.
   */
  close(options: { readonly force?: boolean } = {}): Promise<void> {
    if (this.#closing === undefined) this.#closing = this.#close(options.force === true);
    else if (options.force === true) this.#dropPending();
    return this.#closing;
  }

  /** `await using pool = new WorkerPool()` closes gracefully at scope end. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(force: boolean): Promise<void> {
    if (force) this.#dropPending();
    if (this.#running > 0 || this.#queuedLive > 0 || this.#waitingLive > 0) {
      await new Promise<void>((resolve) => (this.#idle = resolve));
    }
    if (this.#piscina !== undefined) {
      this.#trackWorkers();
      await (force ? this.#piscina.destroy() : this.#piscina.close());
      await Promise.all(Array.from(this.#workers.values(), (worker) => worker.exited));
    }
  }

  #dropPending(): void {
    this.#forced = true;
    for (const q of [this.#waiting, this.#queue]) {
      let job: Job | undefined;
      while ((job = q.shift()) !== undefined) {
        if (job.state === JobState.Done) continue;
        job.state = JobState.Done;
        this.#detach(job);
        this.#cancelled++;
        job.reject(
          new PoolClosedError(`Worker pool was closed (force) before ${job.label} started`),
        );
      }
    }
    this.#queuedLive = 0;
    this.#waitingLive = 0;
    if (this.#piscina !== undefined && this.#running > 0) void this.#piscina.destroy();
    this.#checkIdle();
  }

  #cancelPending(job: Job): void {
    if (job.state === JobState.Queued) this.#queuedLive--;
    else if (job.state === JobState.Waiting) this.#waitingLive--;
    else return; // running: piscina terminates the worker and rejects
    job.state = JobState.Done;
    this.#cancelled++;
    job.reject(new AbortError(`Task ${job.label}`, { cause: job.signal?.reason }));
    this.#refill();
    this.#checkIdle();
  }

  #detach(job: Job): void {
    if (job.onAbort !== undefined && job.signal !== undefined)
      job.signal.removeEventListener('abort', job.onAbort);
  }

  #start(job: Job): void {
    job.state = JobState.Running;
    this.#running++;
    const startNs = process.hrtime.bigint();
    this.#wait.record(Math.max(1, Number(startNs - job.submittedNs)));
    const settle = (reply: TaskReply | undefined, crash: unknown): void => {
      if (this.#piscina !== undefined) Atomics.sub(this.#state, BUSY, 1);
      const endNs = process.hrtime.bigint();
      const ran = endNs - startNs;
      this.#busyNs += ran;
      this.#run.record(Math.max(1, Number(ran)));
      this.#running--;
      job.state = JobState.Done;
      this.#detach(job);
      if (reply !== undefined && reply.ok) {
        this.#completed++;
        job.resolve(reply);
        this.#pump();
        return;
      }
      if (reply !== undefined) {
        this.#failed++;
        job.reject(
          reply.load
            ? new TaskLoadError(reply.error.message, { cause: deserializeError(reply.error) })
            : reply.unsent
              ? resultNotCloneable(job, reply.index, reply.error)
              : new TaskFailedError(
                  job.label,
                  reply.error,
                  reply.index >= 0 ? reply.index : undefined,
                  {
                    cause: deserializeError(reply.error),
                  },
                ),
        );
      } else {
        job.reject(this.#classify(job, crash));
        // Piscina may have started a replacement worker: watch it from the start.
        this.#trackWorkers();
      }
      // Start the next queued task only after the submitter has seen this failure: mapCpu and
      // parallelBacktest then cancel their own queued chunks first, instead of having one start
      // here and terminating its worker a moment later to stop it.
      queueMicrotask(() => this.#pump());
    };
    if (this.#piscina === undefined) {
      // Inline: run on this thread (queued as a microtask so run() never blocks synchronously).
      // Input and result are structured-cloned as postMessage would clone them to and from a
      // worker, so a task never holds the caller's objects (nor the caller the task's), and what
      // cannot be cloned fails the same way; shared columns still arrive as shared views.
      void Promise.resolve()
        .then(() => execute(cloneMessage(job.message), resolveInline))
        .then(
          (reply) => settle(cloneReply(job.message, reply), undefined),
          (error: unknown) => settle(undefined, error),
        );
      return;
    }
    // Counted here and uncounted when the task settles, whatever ends it (a reply, a crash, an
    // abort that terminates the worker): the workers read it to decide whether to poll.
    Atomics.add(this.#state, BUSY, 1);
    const results = Atomics.load(this.#state, RESULTS);
    const runOptions = job.signal === undefined ? NO_RUN_OPTIONS : { signal: job.signal };
    this.#piscina.run(job.message, runOptions).then(
      (reply: TaskReply) => settle(reply, undefined),
      (error: unknown) => settle(undefined, error),
    );
    // Piscina has posted the task (this pool starts one only when a worker is free): a worker
    // polling for its next task stops polling and takes it from its port without sleeping.
    Atomics.add(this.#state, DOORBELL, 1);
    if (this.#pollSkips > 0) this.#pollSkips--;
    else if (!this.#pollScheduled && this.spinMicros > 0) {
      // After this callback and its microtasks: the submitter may post more tasks first.
      this.#pollScheduled = true;
      setImmediate(this.#pollForResult, results);
    }
    // Piscina starts a worker for a task no ready worker can take: watch it from its start.
    if (this.#held < this.maxWorkers) this.#trackWorkers();
  }

  // Polling for a short task's result (see WorkerPoolOptions.spinMicros): with nothing else to run,
  // this thread's event loop would sleep until the result's message wakes it, at the cost of a
  // kernel (on a VM, hypervisor) wake-up. Returning as soon as a worker has counted a posted result,
  // the loop finds the message already in its port and takes it without sleeping. Any result ends
  // the poll: whichever task it belongs to, the loop has work again. When polls time out (the tasks
  // take longer than spinMicros), the second in a row skips the polls of the next task start, the
  // third those of the next 2, then 4 ... up to 64: tasks that long waste at most one poll in 65
  // starts. One timeout alone skips nothing (a busy VM delays a short task now and then), and a poll
  // that sees a result resets the count.
  readonly #pollForResult = (seen: number): void => {
    this.#pollScheduled = false;
    const state = this.#state;
    const busy = Atomics.load(state, BUSY);
    // Nothing running (already settled), or no CPU free: the workers need them more than a poll.
    if (busy === 0 || busy + Math.max(0, Atomics.load(state, SPINNING)) >= this.#cpus) return;
    this.#resultPolls++;
    const until = performance.now() + this.spinMicros / 1000;
    do {
      for (let i = 0; i < 64; i++) {
        if (Atomics.load(state, RESULTS) !== seen) {
          this.#resultPollHits++;
          this.#pollMisses = 0;
          return;
        }
      }
    } while (performance.now() < until);
    const misses = ++this.#pollMisses;
    this.#pollSkips = misses < 2 ? 0 : 2 ** Math.min(6, misses - 2);
  };

  #classify(job: Job, error: unknown): Error {
    const err = toError(error);
    if ((error instanceof Error && error.name === 'AbortError') || job.signal?.aborted === true) {
      this.#cancelled++;
      return new AbortError(`Task ${job.label}`, { cause: job.signal?.reason ?? err });
    }
    // postMessage on this thread (structuredClone, inline) refused the task's message: the input is
    // at fault, not the worker, which never saw the task and stays in the pool. Piscina hands us
    // what the clone threw: a DataCloneError, or whatever a getter in the input threw while it was
    // read, which looks like any other error; cloning the message again (only on this failure
    // path) tells that one apart from a worker's death.
    if (isDataCloneError(error) || !clones(job.message)) {
      this.#failed++;
      const { part, index, cause } = locateUncloneableInput(job.message, error);
      return new NotCloneableError(job.label, 'input', part, index, { cause });
    }
    // Only a forced close terminates running tasks; a worker that dies while a graceful close
    // waits for it crashed like any other and is reported (and counted) as such.
    if (this.#forced) {
      this.#cancelled++;
      return new PoolClosedError(`Worker pool was closed (force) while ${job.label} was running`, {
        cause: err,
      });
    }
    this.#failed++;
    this.#crashed++;
    // A task rejected by the reset after a start-up failure (see #workerLost) never ran: no
    // worker could start to take it. It fails with that worker's error.
    const lost = this.#startupFailure;
    if (lost !== undefined && err.message === 'Terminating worker thread') {
      return new WorkerCrashedError(
        job.label,
        lost.reason,
        `no worker could start to run it, so it never ran: ${lost.error.message}${lost.reason === 'oom' ? OOM_HINT : ''}`,
        { cause: lost.error },
      );
    }
    const reason = crashReason(err);
    if (reason === 'oom')
      return new WorkerCrashedError(job.label, 'oom', `${err.message}${OOM_HINT}`, { cause: err });
    if (reason === 'exit')
      return new WorkerCrashedError(job.label, 'exit', err.message, { cause: err });
    return new WorkerCrashedError(
      job.label,
      'uncaught',
      `${err.name}: ${err.message} (thrown outside the task's own call stack)`,
      {
        cause: err,
      },
    );
  }

  #pump(): void {
    // Piscina starts a worker when a finished one leaves tasks in its queue: watch it from its start.
    if (this.#held < this.maxWorkers) this.#trackWorkers();
    while (this.#canStart() && this.#queuedLive > 0) {
      const job = this.#queue.shift();
      if (job === undefined) break;
      if (job.state !== JobState.Queued) continue; // cancelled tombstone
      this.#queuedLive--;
      this.#start(job);
    }
    this.#refill();
    this.#checkIdle();
  }

  #refill(): void {
    while (this.#waitingLive > 0 && this.#queuedLive < this.maxQueue) {
      const job = this.#waiting.shift();
      if (job === undefined) break;
      if (job.state !== JobState.Waiting) continue;
      this.#waitingLive--;
      if (this.#canStart() && this.#queuedLive === 0) {
        this.#start(job);
      } else {
        job.state = JobState.Queued;
        this.#queue.push(job);
        this.#queuedLive++;
      }
    }
  }

  /** A worker slot is free, and piscina is not being reset (it would refuse tasks meanwhile). */
  #canStart(): boolean {
    return this.#running < this.maxWorkers && this.#resetting === undefined;
  }

  #checkIdle(): void {
    if (
      this.#idle !== undefined &&
      this.#running === 0 &&
      this.#queuedLive === 0 &&
      this.#waitingLive === 0
    ) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  /** Surface an error that is not a crash: an 'error' event if anyone listens, else a warning. */
  #reportPoolError(error: Error): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
      return;
    }
    process.emitWarning(
      `@peaktrade/parallel: the worker pool reported an error that is not a worker crash: ${error.name}: ${error.message}`,
      { code: 'E_PARALLEL_POOL_ERROR' },
    );
  }

  /**
   * Watch every worker thread piscina has started and the pool does not watch yet, from its start
   * (piscina reports a worker only once it is ready, and a replacement can die before that). Called
   * wherever piscina may have started one: after `run()` hands it a task, after a task settles, after
   * a worker died, and once a worker is ready; `#held` < `maxWorkers` says whether it can have.
   */
  #trackWorkers(): void {
    const piscina = this.#piscina;
    if (piscina === undefined) return;
    for (const worker of piscina.threads) {
      const id = worker.threadId;
      if (id < 0 || this.#workers.has(id)) continue;
      let exited!: () => void;
      const tracked: TrackedWorker = {
        id,
        exited: new Promise<void>((resolve) => (exited = resolve)),
        state: undefined,
        started: false,
        removed: false,
      };
      this.#workers.set(id, tracked);
      this.#held++;
      // Piscina's own 'error' listener (added when it created the worker) re-emits a worker's
      // error on the pool when no task was running on it. Bracketing it tells that emit apart
      // from piscina's other 'error' emits, which are not crashes, and names the worker.
      worker.prependListener('error', () => (this.#erroredWorker = tracked));
      worker.on('error', () => (this.#erroredWorker = undefined));
      // A worker's first message is piscina's ready signal: its start-up is over.
      worker.once('message', () => (tracked.started = true));
      // Before piscina's own 'exit' listener, which drops the worker silently when it ran no task.
      worker.prependOnceListener('exit', (code: number) => this.#onExit(piscina, tracked, code));
      worker.once('exit', () => {
        this.#workers.delete(id);
        // A worker terminated while it polled for a next task never took itself off the count.
        // Clearing it may undercount another poller for a moment (at worst one extra poller).
        Atomics.store(this.#state, SPINNING, 0);
        exited();
      });
    }
  }

  #markRemoved(worker: TrackedWorker): void {
    if (worker.removed) return;
    worker.removed = true;
    this.#held--;
  }

  /**
   * Report a worker that exits on its own with no task on it: `process.exit()` from a timer a
   * finished task left behind, or a death during start-up. Runs before piscina's own 'exit'
   * listener, so `removed` still tells a worker piscina stopped on purpose (idle timeout, close,
   * abort, after an error it already reported) from one that left by itself, and `currentUsage`
   * one that was running a task (that task fails with WorkerCrashedError instead).
   */
  #onExit(piscina: Piscina, worker: TrackedWorker, code: number): void {
    const removed = worker.removed || worker.state?.destroyed === true;
    this.#markRemoved(worker);
    if (removed || (worker.state?.currentUsage ?? 0) > 0) return;
    const error = new Error(
      worker.started
        ? `Worker thread ${worker.id} exited with code ${code} while idle (no task was running on it: process.exit() in a timer or callback left by an earlier task?)`
        : `Worker thread ${worker.id} exited with code ${code} during start-up, before it could take a task`,
    );
    // After piscina's own 'exit' listener has dropped the worker (and maybe started another), so
    // the pool is seen as it is, and a listener that submits a task at once does not get the dead worker.
    queueMicrotask(() => this.#workerLost(piscina, { error, reason: 'exit' }));
  }

  /**
   * A worker died with no task on it; nothing else reports this. When no worker is left and tasks
   * we handed to piscina wait for one, the dead worker was to take them: it died before it was
   * ready (e.g. resourceLimits too small for it to start, or a replacement that failed while
   * starting). Piscina does not replace a worker that fails during start-up, so those tasks would
   * wait forever: fail them with this error (destroy() rejects piscina's queue; no live worker is
   * touched), then start anew. Otherwise it counts as an idle crash and is emitted as 'workerCrash'.
   */
  #workerLost(piscina: Piscina, lost: LostWorker): void {
    this.#trackWorkers();
    if (piscina.threads.length === 0 && piscina.queueSize > 0 && this.#resetting === undefined) {
      this.#startupFailure = lost;
      this.#resetting = piscina.destroy().then(() => {
        this.#startupFailure = undefined;
        this.#resetting = undefined;
        this.#pump();
      });
      return;
    }
    this.#idleCrashes++;
    this.emit('workerCrash', lost.error);
  }
}

/** The error for a task whose result (or item `index`'s) could not be cloned back from its worker. */
function resultNotCloneable(job: Job, index: number, error: SerializedError): NotCloneableError {
  const at = index >= 0 ? index : undefined;
  const part =
    at === undefined ? 'the result' : `the result of ${itemNoun(job.message.kind)} #${at}`;
  return new NotCloneableError(job.label, 'result', part, at, { cause: deserializeError(error) });
}

/**
 * @internal What a piscina `'error'` event means. Piscina 5 emits it (1) from a worker's own
 * `'error'` event when no task was running on that worker: a real death (`'crash'`); (2) as
 * "Unexpected message from Worker" when a reply arrives for a task it no longer tracks, which
 * happens when the task finished just as its signal aborted it (or a forced close terminated it):
 * `'late-reply'`; (3) when `close()` times out. Anything not from a worker and not a late reply
 * is `'other'`.
 */
export function piscinaErrorKind(
  error: unknown,
  fromWorker: boolean,
): 'crash' | 'late-reply' | 'other' {
  if (fromWorker) return 'crash';
  if (error instanceof Error && error.message.startsWith('Unexpected message from Worker'))
    return 'late-reply';
  return 'other';
}

/** Appended to the message of a worker that ran out of memory. */
const OOM_HINT = " (raise resourceLimits or lower the task's memory use)";

/** Why a worker died, from the error piscina reported for it. */
function crashReason(error: Error): WorkerCrashedError['reason'] {
  if ((error as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') return 'oom';
  if (/^worker exited with code/i.test(error.message)) return 'exit';
  return 'uncaught';
}

function summarize(h: RecordableHistogram): LatencySummary {
  const count = h.count;
  if (count === 0) return { count: 0, p50: 0, p99: 0, mean: 0, max: 0 };
  return {
    count,
    p50: h.percentile(50) / 1e6,
    p99: h.percentile(99) / 1e6,
    mean: h.mean / 1e6,
    max: h.max / 1e6,
  };
}

function intOption(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range =
      max >= Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    throw new InvalidOptionError(name, value, range);
  }
  return value;
}
