import { benchmark, type BenchResult } from './benchmark.js';
import { suite } from './suite.js';
import {
  compareResults,
  compareSuiteVariant,
  type CompareOptions,
  type Verdict,
} from './baseline.js';
import { BenchOptionError } from './errors.js';

/** Options of {@link metaBenchmark}. */
export interface MetaBenchmarkOptions {
  /** Trials (each: measure the baseline, measure the candidate, compare). Default 20. */
  readonly trials?: number;
  /** Relative slowdown injected into the candidate: 0.1 = 10% more work. 0 = an identical candidate. */
  readonly slowdown: number;
  /** Time budget per measurement, ms. Default 100. */
  readonly timeMs?: number;
  /** Target cost of one call of the calibrated loop, ns. Default 20 000. */
  readonly callNs?: number;
  /**
   * `interleaved` (default): each trial is a {@link suite} of baseline and candidate measured in
   * alternating rounds, compared with {@link compareSuiteVariant}. `sequential`: the baseline is measured, then the candidate (order
   * alternating per trial), like comparing with a baseline saved a moment earlier.
   */
  readonly mode?: 'interleaved' | 'sequential';
  /** Passed to {@link compareResults}. */
  readonly compare?: CompareOptions;
}

/** What {@link metaBenchmark} observed. */
export interface MetaBenchmarkResult {
  readonly trials: number;
  /** Trials whose verdict was `slower`. */
  readonly flaggedSlower: number;
  /** Trials whose verdict was anything but `unchanged`. */
  readonly flaggedAny: number;
  /** Each trial's verdict and ratio, in order. */
  readonly verdicts: readonly { verdict: Verdict; ratio: number; noiseFloor: number }[];
  /** Loop length of the baseline workload (the candidate runs `round(n × (1 + slowdown))`). */
  readonly loopLength: number;
}

/** The calibrated workload: a dependent integer recurrence the JIT cannot skip or vectorise. */
export function calibratedLoop(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (Math.imul(s, 31) + i) | 0;
  return s;
}

/**
 * The harness checking itself: a workload whose cost we control (a calibrated loop) is measured
 * against a copy slowed by `slowdown`, `trials` times (order alternating), and each pair goes
 * through {@link compareSuiteVariant} (or {@link compareResults} in `sequential` mode). With `slowdown: 0.1`, `flaggedSlower / trials` is the detection
 * rate; with `slowdown: 0`, `flaggedAny / trials` is the false-alarm rate.
 */
export async function metaBenchmark(opts: MetaBenchmarkOptions): Promise<MetaBenchmarkResult> {
  const trials = opts.trials ?? 20;
  if (!Number.isSafeInteger(trials) || trials < 1)
    throw new BenchOptionError('trials', opts.trials, 'an integer ≥ 1');
  if (!(opts.slowdown >= 0)) throw new BenchOptionError('slowdown', opts.slowdown, 'a number ≥ 0');
  const timeMs = opts.timeMs ?? 100;
  const callNs = opts.callNs ?? 20_000;
  // Calibrate the loop length to the target cost.
  const probe = await benchmark(() => calibratedLoop(1000), {
    name: 'calibrate',
    timeMs: Math.min(100, timeMs),
  });
  const n = Math.max(10, Math.round((1000 * callNs) / probe.stats.median));
  const m = Math.round(n * (1 + opts.slowdown));
  const verdicts: { verdict: Verdict; ratio: number; noiseFloor: number }[] = [];
  let flaggedSlower = 0;
  let flaggedAny = 0;
  for (let t = 0; t < trials; t++) {
    const baseFn = (): number => calibratedLoop(n);
    const candFn = (): number => calibratedLoop(m);
    let c;
    if (opts.mode === 'sequential') {
      const first = await benchmark(t % 2 === 0 ? baseFn : candFn, { name: 'meta', timeMs });
      const second = await benchmark(t % 2 === 0 ? candFn : baseFn, { name: 'meta', timeMs });
      const [base, cand]: BenchResult[] = t % 2 === 0 ? [first, second] : [second, first];
      c = compareResults(base!, cand!, opts.compare);
    } else {
      const s = await suite(
        'meta',
        t % 2 === 0 ? { base: baseFn, cand: candFn } : { cand: candFn, base: baseFn },
        {
          baseline: 'base',
          timeMs,
        },
      );
      c = compareSuiteVariant(s, 'cand', opts.compare);
    }
    verdicts.push({ verdict: c.verdict, ratio: c.ratio, noiseFloor: c.noiseFloor });
    if (c.verdict === 'slower') flaggedSlower++;
    if (c.verdict !== 'unchanged') flaggedAny++;
  }
  return { trials, flaggedSlower, flaggedAny, verdicts, loopLength: n };
}
