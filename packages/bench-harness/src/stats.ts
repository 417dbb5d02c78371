/**
 * Robust statistics over `Float64Array` samples: order statistics, MAD, seeded bootstrap
 * confidence intervals and the Mann–Whitney U test. Pure functions; inputs are never mutated.
 * A NaN sample makes every order statistic NaN (as in R and NumPy) rather than being sorted aside.
 */
import { BenchOptionError } from './errors.js';

/** A seeded pseudo-random generator returning uniform numbers in [0, 1). */
export type Rng = () => number;

/** Default bootstrap seed: results are reproducible run to run for the same samples. */
export const DEFAULT_SEED = 0x5eed_b007;

/** Default number of bootstrap resamples (reduced for very large sample sets, see {@link BootstrapOptions}). */
export const DEFAULT_RESAMPLES = 2000;

/** Resample budget: the default resample count shrinks so that resamples × n stays under this. */
const RESAMPLE_WORK = 4e6;

function defaultResamples(n: number): number {
  return Math.max(200, Math.min(DEFAULT_RESAMPLES, Math.floor(RESAMPLE_WORK / Math.max(1, n))));
}

/**
 * mulberry32: a small, fast, seeded 32-bit generator (Tommy Ettinger's public-domain design).
 * Not cryptographic; good enough for bootstrap resampling.
 */
export function createRng(seed: number = DEFAULT_SEED): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A sorted copy (ascending) of `samples`. */
export function sortedCopy(samples: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(samples);
  out.sort();
  return out;
}

/**
 * Quantile `q` (0..1) of an ascending-sorted array, linear interpolation between order
 * statistics (Hyndman & Fan type 7, the default of R and NumPy). NaN for an empty array, and for
 * an array sorted as typed arrays sort (NaN last) that holds a NaN. Infinite values are order
 * statistics like any other: the median of (1, 2, ∞) is 2.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0 || Number.isNaN(sorted[n - 1])) return Number.NaN;
  if (n === 1) return sorted[0] as number;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  // Interpolating would compute 0 × ∞ (or ∞ − ∞) beside an infinite value: NaN for a plain pick.
  if (h === lo || a === b) return a;
  return a + (h - lo) * (b - a);
}

/** Median (average of the two middle values for an even count). NaN for an empty array or a NaN sample. */
export function median(samples: ArrayLike<number>): number {
  return quantileSorted(sortedCopy(samples), 0.5);
}

/** Arithmetic mean. NaN for an empty array. */
export function mean(samples: ArrayLike<number>): number {
  const n = samples.length;
  if (n === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < n; i++) s += samples[i] as number;
  return s / n;
}

/** Sample standard deviation (n − 1 denominator); 0 for fewer than two samples. */
export function stddev(samples: ArrayLike<number>): number {
  const n = samples.length;
  if (n < 2) return 0;
  const m = mean(samples);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = (samples[i] as number) - m;
    s += d * d;
  }
  return Math.sqrt(s / (n - 1));
}

/**
 * Median absolute deviation from the median, unscaled (multiply by 1.4826 for a consistent
 * estimate of σ under normality). Example: (1, 1, 2, 2, 4, 6, 9) has median 2 and MAD 1.
 */
export function mad(samples: ArrayLike<number>): number {
  const n = samples.length;
  if (n === 0) return Number.NaN;
  const m = median(samples);
  const dev = new Float64Array(n);
  for (let i = 0; i < n; i++) dev[i] = Math.abs((samples[i] as number) - m);
  return median(dev);
}

/** Options of the bootstrap functions. */
export interface BootstrapOptions {
  /**
   * Number of resamples. Default {@link DEFAULT_RESAMPLES}, lowered (to no less than 200) when the
   * samples are so many that resamples × n would exceed 4·10⁶.
   */
  readonly resamples?: number;
  /** Confidence level in (0, 1), default 0.95. */
  readonly confidence?: number;
  /** RNG seed, default {@link DEFAULT_SEED}. */
  readonly seed?: number;
}

/** Validates {@link BootstrapOptions}; `n` is the sample count the default resample count is sized for. */
function resolveBootstrap(
  options: BootstrapOptions,
  n: number,
): { resamples: number; confidence: number; seed: number } {
  if (options === null || typeof options !== 'object')
    throw new BenchOptionError('options', options, 'an object');
  const { resamples, confidence = 0.95, seed = DEFAULT_SEED } = options;
  if (resamples !== undefined && (!Number.isSafeInteger(resamples) || resamples < 1))
    throw new BenchOptionError('resamples', resamples, 'an integer ≥ 1');
  if (typeof confidence !== 'number' || !(confidence > 0 && confidence < 1))
    throw new BenchOptionError('confidence', confidence, 'a number in (0, 1), e.g. 0.95');
  if (!Number.isInteger(seed)) throw new BenchOptionError('seed', seed, 'an integer');
  return { resamples: resamples ?? defaultResamples(n), confidence, seed };
}

/**
 * Bootstrap distribution of the median: `resamples` medians of resamples (with replacement, same
 * size) of `sorted`, which must be ascending. Uses the fact that the median of a resample of sorted
 * data is the data value at the median of the drawn indices, found by counting (O(n) per resample).
 */
export function bootstrapMedians(sorted: Float64Array, resamples: number, rng: Rng): Float64Array {
  const n = sorted.length;
  const out = new Float64Array(resamples);
  if (n === 0) return out.fill(Number.NaN);
  const counts = new Int32Array(n);
  const kLo = (n - 1) >> 1; // 0-based rank of the lower middle
  const kHi = n >> 1; // 0-based rank of the upper middle (== kLo when n is odd)
  for (let r = 0; r < resamples; r++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(rng() * n) | 0]! += 1;
    let cum = 0;
    let lo = Number.NaN;
    let hi = Number.NaN;
    for (let j = 0; j < n; j++) {
      cum += counts[j]!;
      if (Number.isNaN(lo) && cum > kLo) lo = sorted[j]!;
      if (cum > kHi) {
        hi = sorted[j]!;
        break;
      }
    }
    out[r] = (lo + hi) / 2;
  }
  return out;
}

/**
 * Percentile bootstrap confidence interval of the median of `samples`; `[NaN, NaN]` when there are
 * none or one is NaN.
 * @throws {BenchOptionError} for a `resamples`, `confidence` or `seed` out of range.
 */
export function bootstrapMedianCI(
  samples: ArrayLike<number>,
  options: BootstrapOptions = {},
): [number, number] {
  const { resamples, confidence, seed } = resolveBootstrap(options, samples.length);
  const sorted = sortedCopy(samples);
  if (sorted.length === 0 || Number.isNaN(sorted[sorted.length - 1]))
    return [Number.NaN, Number.NaN];
  const meds = bootstrapMedians(sorted, resamples, createRng(seed));
  meds.sort();
  const alpha = (1 - confidence) / 2;
  return [quantileSorted(meds, alpha), quantileSorted(meds, 1 - alpha)];
}

/**
 * Percentile bootstrap confidence interval of `median(numerator) / median(denominator)`,
 * resampling both groups independently; `[NaN, NaN]` when a group is empty or holds a NaN.
 * @throws {BenchOptionError} for a `resamples`, `confidence` or `seed` out of range.
 */
export function bootstrapRatioCI(
  numerator: ArrayLike<number>,
  denominator: ArrayLike<number>,
  options: BootstrapOptions = {},
): [number, number] {
  const { resamples, confidence, seed } = resolveBootstrap(
    options,
    numerator.length + denominator.length,
  );
  const a = sortedCopy(numerator);
  const b = sortedCopy(denominator);
  if (a.length === 0 || b.length === 0) return [Number.NaN, Number.NaN];
  if (Number.isNaN(a[a.length - 1]) || Number.isNaN(b[b.length - 1]))
    return [Number.NaN, Number.NaN];
  const rng = createRng(seed);
  const ma = bootstrapMedians(a, resamples, rng);
  const mb = bootstrapMedians(b, resamples, rng);
  const ratios = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) ratios[i] = ma[i]! / mb[i]!;
  ratios.sort();
  const alpha = (1 - confidence) / 2;
  return [quantileSorted(ratios, alpha), quantileSorted(ratios, 1 - alpha)];
}

/** Summary statistics of a sample set, all in the samples' unit. */
export interface SampleStats {
  min: number;
  max: number;
  mean: number;
  median: number;
  p75: number;
  p99: number;
  stddev: number;
  /** Unscaled median absolute deviation. */
  mad: number;
  /** Percentile bootstrap 95% confidence interval of the median (seeded, reproducible). */
  ci95: [number, number];
}

/**
 * Computes {@link SampleStats} for `samples` (any order). Every field is NaN when there are no
 * samples or one of them is NaN (a NaN would otherwise be sorted past the maximum and skew the
 * order statistics without a trace).
 * @throws {BenchOptionError} for invalid bootstrap options.
 */
export function summarize(samples: ArrayLike<number>, options: BootstrapOptions = {}): SampleStats {
  resolveBootstrap(options, samples.length);
  const sorted = sortedCopy(samples);
  const n = sorted.length;
  if (n === 0 || Number.isNaN(sorted[n - 1])) {
    const nan = Number.NaN;
    return {
      min: nan,
      max: nan,
      mean: nan,
      median: nan,
      p75: nan,
      p99: nan,
      stddev: nan,
      mad: nan,
      ci95: [nan, nan],
    };
  }
  const med = quantileSorted(sorted, 0.5);
  const dev = new Float64Array(n);
  for (let i = 0; i < n; i++) dev[i] = Math.abs(sorted[i]! - med);
  dev.sort();
  return {
    min: sorted[0]!,
    max: sorted[n - 1]!,
    mean: mean(sorted),
    median: med,
    p75: quantileSorted(sorted, 0.75),
    p99: quantileSorted(sorted, 0.99),
    stddev: stddev(sorted),
    mad: quantileSorted(dev, 0.5),
    ci95: bootstrapMedianCI(sorted, options),
  };
}

/** Which difference {@link mannWhitneyU} tests for. `greater`: x tends to be larger than y. */
export type Alternative = 'two-sided' | 'less' | 'greater';

/** Result of {@link mannWhitneyU}. */
export interface MannWhitneyResult {
  /** U statistic of `x`: the number of pairs (xi, yj) with xi > yj, ties counting ½ (R's `W`). */
  readonly u: number;
  /** U statistic of `y` (`m·n − u`). */
  readonly uY: number;
  /** p-value for the chosen alternative. */
  readonly pValue: number;
  /** `exact` (no ties, m, n < 50, the permutation distribution) or `normal` (tie- and continuity-corrected). */
  readonly method: 'exact' | 'normal';
  /** Standardised statistic of the normal approximation (0 for the exact method). */
  readonly z: number;
}

/**
 * Mann–Whitney U (Wilcoxon rank-sum) test of `x` against `y`. Mirrors R's `wilcox.test(x, y)`:
 * exact p-values when both groups have fewer than 50 values and there are no ties, otherwise the
 * normal approximation with tie correction and continuity correction. NaN statistics and p-value
 * when a group is empty or holds a NaN (NaN cannot be ranked).
 */
export function mannWhitneyU(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  alternative: Alternative = 'two-sided',
): MannWhitneyResult {
  const m = x.length;
  const n = y.length;
  const none = {
    u: Number.NaN,
    uY: Number.NaN,
    pValue: Number.NaN,
    method: 'normal',
    z: 0,
  } as const;
  if (m === 0 || n === 0) return none;
  const N = m + n;
  // Rank the pooled sample with midranks for ties.
  const values = new Float64Array(N);
  for (let i = 0; i < m; i++) values[i] = x[i]!;
  for (let j = 0; j < n; j++) values[m + j] = y[j]!;
  for (let i = 0; i < N; i++) if (Number.isNaN(values[i])) return none;
  const order = new Uint32Array(N);
  for (let i = 0; i < N; i++) order[i] = i;
  order.sort((a, b) => values[a]! - values[b]!);
  const ranks = new Float64Array(N);
  let tieTerm = 0;
  for (let i = 0; i < N;) {
    let j = i + 1;
    while (j < N && values[order[j]!] === values[order[i]!]) j++;
    const t = j - i;
    const midrank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k]!] = midrank;
    if (t > 1) tieTerm += t * t * t - t;
    i = j;
  }
  let rankSumX = 0;
  for (let i = 0; i < m; i++) rankSumX += ranks[i]!;
  const u = rankSumX - (m * (m + 1)) / 2;
  const uY = m * n - u;

  if (m < 50 && n < 50 && tieTerm === 0) {
    const dist = exactUDistribution(m, n);
    const total = dist.reduce((a, v) => a + v, 0);
    const cdf = (k: number): number => {
      let s = 0;
      for (let i = 0; i <= Math.min(k, m * n); i++) s += dist[i]!;
      return s / total;
    };
    const pLess = cdf(Math.floor(u));
    const pGreater = 1 - cdf(Math.ceil(u) - 1);
    const p =
      alternative === 'less'
        ? pLess
        : alternative === 'greater'
          ? pGreater
          : Math.min(1, 2 * Math.min(pLess, pGreater));
    return { u, uY, pValue: p, method: 'exact', z: 0 };
  }

  const mu = (m * n) / 2;
  const sigma = Math.sqrt(((m * n) / 12) * (N + 1 - tieTerm / (N * (N - 1))));
  if (sigma === 0) return { u, uY, pValue: 1, method: 'normal', z: 0 };
  const d = u - mu;
  const correction =
    alternative === 'two-sided' ? Math.sign(d) * 0.5 : alternative === 'greater' ? 0.5 : -0.5;
  const z = (d - correction) / sigma;
  const p =
    alternative === 'less'
      ? normalCdf(z)
      : alternative === 'greater'
        ? 1 - normalCdf(z)
        : Math.min(1, 2 * Math.min(normalCdf(z), 1 - normalCdf(z)));
  return { u, uY, pValue: p, method: 'normal', z };
}

/** Counts of arrangements giving U = 0..m·n for group sizes m and n (no ties). */
function exactUDistribution(m: number, n: number): Float64Array {
  // f[i][j][u] built row by row: f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u).
  const maxU = m * n;
  let prev: Float64Array[] = [];
  for (let i = 0; i <= m; i++) {
    const cur: Float64Array[] = [];
    for (let j = 0; j <= n; j++) {
      const f = new Float64Array(maxU + 1);
      if (i === 0 || j === 0) f[0] = 1;
      else {
        const a = prev[j]!;
        const b = cur[j - 1]!;
        for (let u = 0; u <= i * j; u++) f[u] = (u >= j ? a[u - j]! : 0) + b[u]!;
      }
      cur.push(f);
    }
    prev = cur;
  }
  return prev[n]!;
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 erf approximation, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
