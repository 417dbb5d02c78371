import { benchmark, type BenchFn, type BenchResult } from './benchmark.js';
import { BenchOptionError } from './errors.js';

/** Options of {@link PerformanceBenchmark.run}, named like the Python suite's. */
export interface PerformanceRunOptions {
  readonly name: string;
  /** Calls to measure. Default 1000. */
  readonly iterations?: number;
  /** Warmup calls. Default 10. */
  readonly warmup?: number;
  /** Arguments passed to every call. */
  readonly args?: readonly unknown[];
}

/**
 * Result of {@link PerformanceBenchmark.run}. Times are in **seconds** like Python's
 * `time.perf_counter()` figures, in snake_case (spec names) and camelCase; `result` is the full
 * {@link BenchResult} (ns).
 */
export interface PerformanceRunResult {
  readonly name: string;
  readonly iterations: number;
  readonly mean_time: number;
  readonly median_time: number;
  readonly min_time: number;
  readonly max_time: number;
  readonly std_dev: number;
  readonly p75_time: number;
  readonly p99_time: number;
  readonly ops_per_sec: number;
  readonly meanTime: number;
  readonly medianTime: number;
  readonly minTime: number;
  readonly maxTime: number;
  readonly stdDev: number;
  readonly p75Time: number;
  readonly p99Time: number;
  readonly opsPerSec: number;
  readonly result: BenchResult;
}

/**
 * A thin class mirroring the Python suite's `PerformanceBenchmark().run(fn, name, iterations, warmup)`.
 * It keeps every result in `results` (by name).
 */
export class PerformanceBenchmark {
  /** Every result of this instance, by name, in run order. */
  readonly results = new Map<string, PerformanceRunResult>();

  /**
   * Runs `fn` `iterations` times after `warmup` calls and returns times in seconds. Also accepts
   * the Python positional form `run(fn, name, iterations?, warmup?)`.
   */
  async run(fn: BenchFn, opts: PerformanceRunOptions): Promise<PerformanceRunResult>;
  async run(
    fn: BenchFn,
    name: string,
    iterations?: number,
    warmup?: number,
  ): Promise<PerformanceRunResult>;
  async run(
    fn: BenchFn,
    optsOrName: PerformanceRunOptions | string,
    iterations?: number,
    warmup?: number,
  ): Promise<PerformanceRunResult> {
    const opts: PerformanceRunOptions =
      typeof optsOrName === 'string'
        ? {
            name: optsOrName,
            ...(iterations !== undefined ? { iterations } : {}),
            ...(warmup !== undefined ? { warmup } : {}),
          }
        : optsOrName;
    if (opts === null || typeof opts !== 'object')
      throw new BenchOptionError('options', opts, 'an object with a name');
    const r = await benchmark(fn, {
      name: opts.name,
      iterations: opts.iterations ?? 1000,
      warmup: opts.warmup ?? 10,
      ...(opts.args !== undefined ? { args: opts.args } : {}),
    });
    const s = r.stats;
    const sec = (ns: number): number => ns / 1e9;
    const out: PerformanceRunResult = {
      name: r.name,
      iterations: r.iterations,
      mean_time: sec(s.mean),
      median_time: sec(s.median),
      min_time: sec(s.min),
      max_time: sec(s.max),
      std_dev: sec(s.stddev),
      p75_time: sec(s.p75),
      p99_time: sec(s.p99),
      ops_per_sec: r.opsPerSec,
      meanTime: sec(s.mean),
      medianTime: sec(s.median),
      minTime: sec(s.min),
      maxTime: sec(s.max),
      stdDev: sec(s.stddev),
      p75Time: sec(s.p75),
      p99Time: sec(s.p99),
      opsPerSec: r.opsPerSec,
      result: r,
    };
    this.results.set(r.name, out);
    return out;
  }
}
