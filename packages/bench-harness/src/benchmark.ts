import { GCProfiler, getHeapStatistics } from 'node:v8';
import { recordResult } from './recorder.js';
import { exposedGc, nowNs, timerResolutionNs } from './clock.js';
import { BenchFunctionError, BenchOptionError } from './errors.js';
import { compileLoop, type CompiledLoop, type HeapTally } from './loop.js';
import { DEFAULT_SEED, summarize, type SampleStats } from './stats.js';

/** A function to benchmark: synchronous, or returning a promise that is awaited on every call. */
export type BenchFn = (...args: never[]) => unknown;

/** Options of {@link benchmark}. */
export interface BenchOptions {
  /** Name shown in reports and used as the key in baselines. */
  readonly name: string;
  /** Time budget in ms for the whole benchmark (calibration, warmup, measurement). Default 500. */
  readonly timeMs?: number;
  /**
   * Measure exactly this many calls instead of running for `timeMs` (rounded down to a multiple of
   * the batch size, at least one batch). The harness still picks the batch size.
   */
  readonly iterations?: number;
  /** Number of warmup calls before measuring. Default: about 10% of `timeMs`. */
  readonly warmup?: number;
  /** Arguments passed to every call, `fn(...args)`. */
  readonly args?: readonly unknown[];
  /** Bootstrap seed for the confidence interval. Default {@link DEFAULT_SEED}. */
  readonly seed?: number;
}

/** How calls were timed: one call per clock read, or many calls per clock read. */
export type BatchingMode = 'single' | 'batched';

/** Statistics of a benchmark, all in ns per call. */
export type BenchStats = SampleStats;

/** What {@link benchmark} measured. Times are ns per call. */
export interface BenchResult {
  readonly name: string;
  /** One value per sample, in time order: ns per call, averaged over the sample's batch. */
  readonly samples: Float64Array;
  /** Summary of `samples`, ns per call. `ci95` is a seeded percentile bootstrap CI of the median. */
  readonly stats: BenchStats;
  /** Calls per second at the median, `1e9 / stats.median`. */
  readonly opsPerSec: number;
  /** V8 heap bytes allocated per call (mean over GC-free samples). Only with `--expose-gc`. */
  readonly heapBytesPerIter?: number;
  /** Garbage collections during the measured phase. Only with `--expose-gc`. */
  readonly gcCount?: number;
  /** Timer resolution of this process in ns (smallest observable clock step). */
  readonly timerResolutionNs: number;
  /** Reasons to distrust the figures (too-short samples, few samples, high dispersion, ...). */
  readonly warnings: string[];
  /** Calls per sample. */
  readonly batchSize: number;
  /** `single` when each call was timed on its own (`batchSize` 1), else `batched`. */
  readonly batching: BatchingMode;
  /** True when the function returned promises (each call was awaited). */
  readonly async: boolean;
  /** Calls measured (`samples.length × batchSize`), warmup excluded. */
  readonly iterations: number;
  /** Wall time the whole benchmark took, ms. */
  readonly durationMs: number;
  /**
   * End index (exclusive) in `samples` of each measuring round: one round for {@link benchmark},
   * one per interleaved round in a suite. Lets comparisons pair rounds that ran side by side.
   */
  readonly roundEnds?: readonly number[];
}

/** Default time budget of one benchmark, ms. */
export const DEFAULT_TIME_MS = 500;
/** Samples the harness aims for within the budget. */
const TARGET_SAMPLES = 2000;
/** Minimum samples, even if that overruns the budget. */
const MIN_SAMPLES = 5;
/** Longest a sample is aimed to last, ns. */
const MAX_SAMPLE_NS = 10e6;
/** Largest batch. */
const MAX_BATCH = 1 << 20;
/** Samples shorter than this many timer steps are flagged. */
const SHORT_SAMPLE_STEPS = 100;

interface ResolvedOptions {
  readonly name: string;
  readonly budgetNs: number;
  readonly iterations: number | undefined;
  readonly warmup: number | undefined;
  readonly args: readonly unknown[];
  readonly seed: number;
}

/** Validates and resolves {@link BenchOptions}; throws {@link BenchOptionError}. */
export function resolveBenchOptions(opts: BenchOptions, prefix = ''): ResolvedOptions {
  if (opts === null || typeof opts !== 'object')
    throw new BenchOptionError(`${prefix}options`, opts, 'an object with a name');
  if (typeof opts.name !== 'string' || opts.name.length === 0) {
    throw new BenchOptionError(`${prefix}name`, opts.name, 'a non-empty string');
  }
  const timeMs = opts.timeMs ?? DEFAULT_TIME_MS;
  if (typeof timeMs !== 'number' || !Number.isFinite(timeMs) || timeMs <= 0) {
    throw new BenchOptionError(
      `${prefix}timeMs`,
      opts.timeMs,
      'a finite number of milliseconds > 0',
    );
  }
  if (
    opts.iterations !== undefined &&
    (!Number.isSafeInteger(opts.iterations) || opts.iterations < 1)
  ) {
    throw new BenchOptionError(`${prefix}iterations`, opts.iterations, 'an integer ≥ 1');
  }
  if (opts.warmup !== undefined && (!Number.isSafeInteger(opts.warmup) || opts.warmup < 0)) {
    throw new BenchOptionError(`${prefix}warmup`, opts.warmup, 'an integer ≥ 0');
  }
  if (opts.args !== undefined && !Array.isArray(opts.args)) {
    throw new BenchOptionError(`${prefix}args`, opts.args, 'an array of arguments');
  }
  if (opts.seed !== undefined && !Number.isInteger(opts.seed)) {
    throw new BenchOptionError(`${prefix}seed`, opts.seed, 'an integer');
  }
  return {
    name: opts.name,
    budgetNs: timeMs * 1e6,
    iterations: opts.iterations,
    warmup: opts.warmup,
    args: opts.args ?? [],
    seed: opts.seed ?? DEFAULT_SEED,
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/**
 * One benchmark's state: calibration, a compiled loop and a growing sample buffer. Suites drive
 * several runners in interleaved rounds; {@link benchmark} drives one.
 * @internal
 */
export class Runner {
  readonly #fn: BenchFn;
  readonly #opts: ResolvedOptions;
  /** When this runner's own work began (prepare): its budget counts from here, not from construction. */
  #start = nowNs();
  #async = false;
  #batch = 1;
  #targetSampleNs = 0;
  #loop: CompiledLoop | undefined;
  #samples = new Float64Array(64);
  #count = 0;
  #heap: HeapTally | undefined;
  #heapEmpty = 0;
  #gcCount = 0;
  readonly #roundEnds: number[] = [];

  constructor(fn: BenchFn, opts: BenchOptions, prefix = '') {
    if (typeof fn !== 'function') throw new BenchOptionError(`${prefix}fn`, fn, 'a function');
    this.#fn = fn;
    this.#opts = resolveBenchOptions(opts, prefix);
  }

  get name(): string {
    return this.#opts.name;
  }

  get budgetNs(): number {
    return this.#opts.budgetNs;
  }

  get iterationsOption(): number | undefined {
    return this.#opts.iterations;
  }

  get batch(): number {
    return this.#batch;
  }

  /** Calibrates the batch size, compiles the loop and warms it up. */
  async prepare(): Promise<void> {
    // A suite constructs every runner first and prepares them one after another: the budget must not
    // be charged for the calibration of the runners before this one.
    this.#start = nowNs();
    const fn = this.#fn as (...a: unknown[]) => unknown;
    const args = this.#opts.args;
    const res = timerResolutionNs();
    const measureNs = this.#opts.budgetNs * 0.85;
    // Samples long enough to dwarf the clock, short enough to get ~TARGET_SAMPLES of them.
    const minSampleNs = Math.max(20_000, 1000 * res);
    this.#targetSampleNs = Math.max(
      minSampleNs,
      Math.min(MAX_SAMPLE_NS, measureNs / TARGET_SAMPLES),
    );

    let perCallNs: number;
    try {
      const t0 = nowNs();
      const r = fn(...args);
      if (isThenable(r)) {
        this.#async = true;
        await r;
      }
      perCallNs = nowNs() - t0;
      // The first call is cold (and may be preempted or pay a one-off setup): time a second one
      // unless the first took half the budget, and a third unless the function is really slow.
      // A fast function whose first call was slow would otherwise be timed one call per sample.
      for (let i = 0; i < 2 && perCallNs < this.#opts.budgetNs * (i === 0 ? 0.5 : 0.1); i++) {
        const t1 = nowNs();
        if (this.#async) await fn(...args);
        else fn(...args);
        perCallNs = Math.min(perCallNs, nowNs() - t1);
      }
      // Doubling calibration: find how many calls fill a sample.
      let k = 1;
      while (perCallNs * 2 < this.#targetSampleNs && k < MAX_BATCH) {
        k *= 2;
        const t1 = nowNs();
        if (this.#async) for (let i = 0; i < k; i++) await fn(...args);
        else for (let i = 0; i < k; i++) fn(...args);
        const d = nowNs() - t1;
        // min: one preempted reading must not make a fast function look slow.
        perCallNs = Math.min(perCallNs, d / k);
        if (d >= this.#targetSampleNs / 4) break;
      }
    } catch (error) {
      throw new BenchFunctionError(this.#opts.name, { cause: error });
    }
    const heapProbe = exposedGc() ? (): number => getHeapStatistics().used_heap_size : undefined;
    let batch = this.#fitBatch(perCallNs);
    // The generic calibration loop above is slower than the compiled one (no inlining), so refine
    // with the compiled loop until the batch size settles.
    const probe = new Float64Array(8);
    const probeTally: HeapTally = { bytes: 0, count: 0 };
    let compiledBatch = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      this.#loop = compileLoop(this.#fn, args, batch, this.#async, heapProbe);
      compiledBatch = batch;
      if (perCallNs > this.#opts.budgetNs * 0.1) break; // slow function: no time to refine
      const n = await this.#invoke(probe, 0, 3, probe.length, this.#targetSampleNs * 3, probeTally);
      // The minimum: preemption only ever makes a sample longer.
      perCallNs = Math.min(...probe.subarray(0, n));
      const next = this.#fitBatch(perCallNs);
      if (next === batch) break;
      batch = next;
    }
    if (compiledBatch !== batch)
      this.#loop = compileLoop(this.#fn, args, batch, this.#async, heapProbe);
    this.#batch = batch;
    if (heapProbe) {
      this.#heap = { bytes: 0, count: 0 };
      // Cost of the probe itself (it allocates its result object).
      let minDelta = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 16; i++) {
        const h0 = heapProbe();
        const d = heapProbe() - h0;
        if (d >= 0 && d < minDelta) minDelta = d;
      }
      this.#heapEmpty = Number.isFinite(minDelta) ? minDelta : 0;
    }

    // Warmup through the compiled loop itself, so the JIT has optimised it before we measure.
    const scratch = new Float64Array(4096);
    const warmCalls = this.#opts.warmup;
    if (warmCalls !== undefined) {
      let left = Math.ceil(warmCalls / this.#batch);
      while (left > 0) {
        const n = Math.min(left, scratch.length);
        await this.#invoke(scratch, 0, n, n, Number.POSITIVE_INFINITY, probeTally);
        left -= n;
      }
    } else {
      // Time-based warmup in three chunks; once the JIT has optimised the loop a fast function
      // can turn out several times faster than calibrated, so the batch is refitted after each chunk.
      const warmNs = this.#opts.budgetNs * 0.1;
      for (let chunk = 0; chunk < 3; chunk++) {
        if (this.#batch * perCallNs >= warmNs) break;
        const n = await this.#invoke(scratch, 0, 1, scratch.length, warmNs / 3, probeTally);
        perCallNs = Math.min(perCallNs, ...scratch.subarray(n >> 1, n));
        const next = this.#fitBatch(perCallNs);
        // Only grow (the loop got faster as it warmed): a preempted chunk must not shrink the batch.
        if (next > this.#batch) {
          this.#batch = next;
          this.#loop = compileLoop(this.#fn, args, next, this.#async, heapProbe);
        }
      }
    }
  }

  #fitBatch(perCallNs: number): number {
    let batch = 1;
    while (batch * 2 <= MAX_BATCH && batch * 2 * perCallNs <= this.#targetSampleNs) batch *= 2;
    if (this.#opts.iterations !== undefined) {
      // Keep at least ~30 samples when the caller fixed the number of calls.
      batch = Math.max(
        1,
        Math.min(batch, 2 ** Math.floor(Math.log2(Math.max(1, this.#opts.iterations / 30)))),
      );
    }
    return batch;
  }

  async #invoke(
    out: Float64Array,
    offset: number,
    minSamples: number,
    maxSamples: number,
    budgetNs: number,
    heap: HeapTally,
  ): Promise<number> {
    try {
      return (await this.#loop!(out, offset, minSamples, maxSamples, budgetNs, heap)) as number;
    } catch (error) {
      throw new BenchFunctionError(this.#opts.name, { cause: error });
    }
  }

  /** Measured-phase budget still available, ns (the budget minus what calibration and warmup used). */
  remainingNs(): number {
    return Math.max(0, this.#opts.budgetNs - (nowNs() - this.#start));
  }

  /** Number of samples an exact-`iterations` run needs. */
  samplesForIterations(): number {
    const it = this.#opts.iterations ?? 0;
    return Math.max(1, Math.floor(it / this.#batch));
  }

  /** Runs the loop for `budgetNs` (or exactly `exactSamples` samples), appending samples. */
  async measure(budgetNs: number, minSamples: number, exactSamples?: number): Promise<void> {
    const max =
      exactSamples ??
      Math.min(
        1 << 20,
        Math.max(minSamples, Math.ceil((budgetNs / this.#targetSampleNs) * 4) + 16),
      );
    if (this.#count + max > this.#samples.length) {
      const grown = new Float64Array(Math.max(this.#samples.length * 2, this.#count + max));
      grown.set(this.#samples.subarray(0, this.#count));
      this.#samples = grown;
    }
    const gc = exposedGc();
    let profiler: GCProfiler | undefined;
    if (gc) {
      gc();
      profiler = new GCProfiler();
      profiler.start();
    }
    const n = await this.#invoke(
      this.#samples,
      this.#count,
      exactSamples ?? minSamples,
      max,
      exactSamples === undefined ? budgetNs : Number.POSITIVE_INFINITY,
      this.#heap ?? { bytes: 0, count: 0 },
    );
    if (profiler) this.#gcCount += profiler.stop()?.statistics.length ?? 0;
    this.#count += n;
    this.#roundEnds.push(this.#count);
  }

  /** Builds the result from every sample taken so far. */
  result(): BenchResult {
    const samples = this.#samples.slice(0, this.#count);
    const stats = summarize(samples, { seed: this.#opts.seed });
    const res = timerResolutionNs();
    const warnings: string[] = [];
    const sampleNs = stats.median * this.#batch;
    if (sampleNs < SHORT_SAMPLE_STEPS * res) {
      warnings.push(
        `samples too short to trust: a median sample lasts ${fmt(sampleNs)} ns, under ${SHORT_SAMPLE_STEPS}× the timer resolution (${fmt(res)} ns); give each call more work or let the harness batch (larger iterations)`,
      );
    }
    if (samples.length < 10) {
      warnings.push(
        `only ${samples.length} samples: the confidence interval is wide; raise timeMs`,
      );
    }
    if (stats.median > 0 && stats.mad / stats.median > 0.1) {
      warnings.push(
        `high dispersion: MAD is ${((100 * stats.mad) / stats.median).toFixed(1)}% of the median (noisy machine or bimodal function)`,
      );
    }
    if (stats.median < 0.5 && this.#batch > 1) {
      warnings.push(
        'under 0.5 ns per call: the JIT probably removed the work; return a value that depends on it',
      );
    }
    const gcOn = exposedGc() !== undefined;
    const heap = this.#heap;
    const result: BenchResult = {
      name: this.#opts.name,
      samples,
      stats,
      opsPerSec: stats.median > 0 ? 1e9 / stats.median : Number.POSITIVE_INFINITY,
      timerResolutionNs: res,
      warnings,
      batchSize: this.#batch,
      batching: this.#batch > 1 ? 'batched' : 'single',
      async: this.#async,
      iterations: this.#count * this.#batch,
      durationMs: (nowNs() - this.#start) / 1e6,
      roundEnds: [...this.#roundEnds],
    };
    if (gcOn && heap) {
      const perSample = heap.count > 0 ? heap.bytes / heap.count : 0;
      Object.assign(result, {
        heapBytesPerIter: Math.max(0, perSample - this.#heapEmpty) / this.#batch,
        gcCount: this.#gcCount,
      });
    }
    return result;
  }
}

function fmt(ns: number): string {
  return ns >= 100 ? ns.toFixed(0) : ns.toPrecision(3);
}

/**
 * Measures `fn` and returns its samples and statistics in ns per call.
 *
 * Fast functions run in batches between two clock reads (mitata-style generated loop, batch sized so
 * each sample lasts ≥ 1000 timer steps), so the harness adds well under a nanosecond per call.
 * Async functions (returning a promise) are awaited on every call. The whole call takes about
 * `timeMs` (default 500 ms); a slow function still gets at least 5 samples.
 *
 * @throws {BenchOptionError} for invalid options (thrown before anything runs).
 * @throws {BenchFunctionError} when `fn` throws or rejects; the error is its `cause`.
 */
export async function benchmark(fn: BenchFn, opts: BenchOptions): Promise<BenchResult> {
  const runner = new Runner(fn, opts);
  await runner.prepare();
  if (runner.iterationsOption !== undefined) {
    await runner.measure(0, 1, runner.samplesForIterations());
  } else {
    await runner.measure(runner.remainingNs(), MIN_SAMPLES);
  }
  const result = runner.result();
  recordResult({ kind: 'benchmark', result });
  return result;
}

/**
 * Whether two measurements of the same function differ in batching mode in a way that matters:
 * one timed call by call, the other in batches, for a function short enough (median under 100
 * timer steps) that per-sample clock overhead and cross-call JIT effects change the figure by
 * more than about 1%. For longer calls the modes agree and the results stay comparable.
 */
export function batchingIncomparable(
  a: Pick<BenchResult, 'batching' | 'stats' | 'timerResolutionNs'>,
  b: Pick<BenchResult, 'batching' | 'stats' | 'timerResolutionNs'>,
): boolean {
  if (a.batching === b.batching) return false;
  const res = Math.max(a.timerResolutionNs, b.timerResolutionNs);
  return Math.min(a.stats.median, b.stats.median) < 100 * res;
}

/** Minimum samples of a budgeted measurement. @internal */
export const MIN_MEASURED_SAMPLES = MIN_SAMPLES;
