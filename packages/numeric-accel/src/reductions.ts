import { AccelRangeError } from './errors.js';
import { boolOption, checkArray, intOption, numOption, overlaps } from './validate.js';
import { stage, useWasm, wasmKernels } from './wasm/backend.js';

/** `skipna` option shared by reductions: when true (default, as pandas) NaN values are ignored. */
export interface SkipnaOptions {
  /** Ignore NaN values (default `true`). When `false`, any NaN makes the result NaN. */
  readonly skipna?: boolean;
}

/** Options of {@link sum}. */
export interface SumOptions extends SkipnaOptions {
  /** Minimum number of valid values for a non-NaN result (pandas `min_count`, default 0: empty sum is 0). */
  readonly minCount?: number;
}

/** Options of {@link variance} and {@link std}. */
export interface VarianceOptions extends SkipnaOptions {
  /** Delta degrees of freedom: the divisor is `count - ddof` (default 1, as pandas). */
  readonly ddof?: number;
}

/**
 * Plain sum with four independent accumulators (breaks the add-latency chain). NaN anywhere makes it NaN,
 * which callers use as the signal to take the NaN-skipping path.
 * @internal
 */
export function rawSum(x: Float64Array, from: number, to: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  // remainder first: a scalar tail loop after the unrolled one makes V8 emit much slower code here
  let i = from + ((to - from) & 3);
  for (let j = from; j < i; j++) s0 += x[j]!;
  for (; i < to; i += 4) {
    s0 += x[i]!;
    s1 += x[i + 1]!;
    s2 += x[i + 2]!;
    s3 += x[i + 3]!;
  }
  return s0 + s1 + (s2 + s3);
}

/** Plain sum on the chosen backend (NaN when any value is NaN). @internal */
export function fastSum(x: Float64Array): number {
  if (useWasm('sum', x)) {
    const k = wasmKernels()!;
    const { xp } = stage(k, x);
    return k.sum(xp, x.length);
  }
  return rawSum(x, 0, x.length);
}

/** Sum of the non-NaN values, and their count. @internal */
export function nanSumCount(
  x: Float64Array,
  from: number,
  to: number,
  outCount: Float64Array,
): number {
  let s0 = 0;
  let s1 = 0;
  let c0 = 0;
  let c1 = 0;
  let i = from + ((to - from) & 1);
  if (i > from) {
    const a = x[from]!;
    s0 = a === a ? a : 0;
    c0 = a === a ? 1 : 0;
  }
  for (; i < to; i += 2) {
    const a = x[i]!;
    const b = x[i + 1]!;
    s0 += a === a ? a : 0;
    s1 += b === b ? b : 0;
    c0 += a === a ? 1 : 0;
    c1 += b === b ? 1 : 0;
  }
  outCount[0] = c0 + c1;
  return s0 + s1;
}

const scratchCount = new Float64Array(1);

function hasNaN(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) if (x[i] !== x[i]) return true;
  return false;
}

/**
 * Sum of `x` (pandas `Series.sum`): NaN skipped by default; an empty or all-NaN input sums to 0 unless
 * fewer than `minCount` values are valid (then NaN). With `skipna: false` any NaN gives NaN.
 * O(n), no allocation. Summation uses four interleaved accumulators (not NumPy's pairwise order), so
 * results may differ from pandas in the last few ulps of the condition number `Σ|x|·ε`.
 */
export function sum(x: Float64Array, options?: SumOptions): number {
  checkArray(x, 'x');
  const skipna = boolOption(options?.skipna, 'options.skipna', true);
  const minCount = intOption(options?.minCount, 'options.minCount', 0, 0);
  return sumJs(x, skipna, minCount);
}

/** @internal JS implementation of {@link sum} after validation. */
export function sumJs(x: Float64Array, skipna: boolean, minCount: number): number {
  const s = fastSum(x);
  if (s === s) return x.length >= minCount ? s : NaN;
  if (!skipna) return NaN;
  const r = nanSumCount(x, 0, x.length, scratchCount);
  return scratchCount[0]! >= minCount ? r : NaN;
}

/**
 * Arithmetic mean (pandas `Series.mean`): NaN skipped by default; empty or all-NaN → NaN.
 * With `skipna: false` any NaN gives NaN. O(n), no allocation.
 */
export function mean(x: Float64Array, options?: SkipnaOptions): number {
  checkArray(x, 'x');
  const skipna = boolOption(options?.skipna, 'options.skipna', true);
  return meanJs(x, skipna);
}

/** @internal */
export function meanJs(x: Float64Array, skipna: boolean): number {
  const n = x.length;
  if (n === 0) return NaN;
  const s = fastSum(x);
  if (s === s) return s / n;
  if (!skipna) return NaN;
  const r = nanSumCount(x, 0, n, scratchCount);
  const c = scratchCount[0]!;
  return c === 0 ? NaN : r / c;
}

/**
 * Variance with `ddof` (default 1) like pandas `Series.var`: two-pass (mean, then squared deviations),
 * NaN skipped by default. Fewer than `ddof + 1` valid values → NaN. O(n), no allocation.
 */
export function variance(x: Float64Array, options?: VarianceOptions): number {
  checkArray(x, 'x');
  const skipna = boolOption(options?.skipna, 'options.skipna', true);
  const ddof = intOption(options?.ddof, 'options.ddof', 1, 0);
  return varianceJs(x, ddof, skipna);
}

/** @internal */
export function varianceJs(x: Float64Array, ddof: number, skipna: boolean): number {
  const n = x.length;
  let count = n;
  const s = rawSum(x, 0, n);
  const nan = s !== s;
  if (nan) {
    if (!skipna || !hasNaN(x)) return NaN;
    nanSumCount(x, 0, n, scratchCount);
    count = scratchCount[0]!;
  }
  if (count - ddof <= 0) return NaN;
  const avg = shiftedMean(x, nan);
  let q0 = 0;
  let q1 = 0;
  if (!nan) {
    let i = 0;
    const end2 = n - (n & 1);
    for (; i < end2; i += 2) {
      const a = x[i]! - avg;
      const b = x[i + 1]! - avg;
      q0 += a * a;
      q1 += b * b;
    }
    if (i < n) {
      const a = x[i]! - avg;
      q0 += a * a;
    }
  } else {
    // skip the NaN inputs only: a NaN deviation from an infinite value (or from a mean that ±inf made NaN)
    // must reach the sum, as in pandas, where any infinity makes the variance NaN
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const d = v - avg;
      q0 += v === v ? d * d : 0;
    }
  }
  return (q0 + q1) / (count - ddof);
}

/** Standard deviation: `sqrt(variance(x, options))`. Same NaN rules as {@link variance}. */
export function std(x: Float64Array, options?: VarianceOptions): number {
  return Math.sqrt(variance(x, options));
}

function hasNaNValue(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) if (x[i] !== x[i]) return true;
  return false;
}

function extreme(x: Float64Array, skipna: boolean, isMax: boolean): number {
  const n = x.length;
  if (!skipna && hasNaNValue(x)) return NaN;
  const init = isMax ? -Infinity : Infinity;
  let m0 = init;
  let m1 = init;
  let i = n & 1;
  if (i === 1) {
    const v = x[0]!;
    m0 = v === v ? v : m0;
  }
  // NaN compares false, so it never replaces the running extreme (pandas skipna)
  if (isMax) {
    for (; i < n; i += 2) {
      const a = x[i]!;
      const b = x[i + 1]!;
      m0 = a > m0 ? a : m0;
      m1 = b > m1 ? b : m1;
    }
  } else {
    for (; i < n; i += 2) {
      const a = x[i]!;
      const b = x[i + 1]!;
      m0 = a < m0 ? a : m0;
      m1 = b < m1 ? b : m1;
    }
  }
  const m = isMax ? (m1 > m0 ? m1 : m0) : m1 < m0 ? m1 : m0;
  if (m !== init) return m;
  // still the start value: empty, all NaN, or the extreme really is ±Infinity
  for (let k = 0; k < n; k++) if (x[k] === x[k]) return m;
  return NaN;
}

/** Smallest value (pandas `Series.min`): NaN skipped by default; empty or all-NaN → NaN. O(n). */
export function min(x: Float64Array, options?: SkipnaOptions): number {
  checkArray(x, 'x');
  return extreme(x, boolOption(options?.skipna, 'options.skipna', true), false);
}

/** Largest value (pandas `Series.max`): NaN skipped by default; empty or all-NaN → NaN. O(n). */
export function max(x: Float64Array, options?: SkipnaOptions): number {
  checkArray(x, 'x');
  return extreme(x, boolOption(options?.skipna, 'options.skipna', true), true);
}

/**
 * Position of the first smallest value (pandas `Series.argmin`). Returns -1 when there is no valid value,
 * or when `skipna` is false and a NaN is present (pandas 2.x returns -1 there with a FutureWarning).
 */
export function argmin(x: Float64Array, options?: SkipnaOptions): number {
  checkArray(x, 'x');
  return argExtreme(x, boolOption(options?.skipna, 'options.skipna', true), false);
}

/** Position of the first largest value (pandas `Series.argmax`); -1 as for {@link argmin}. */
export function argmax(x: Float64Array, options?: SkipnaOptions): number {
  checkArray(x, 'x');
  return argExtreme(x, boolOption(options?.skipna, 'options.skipna', true), true);
}

function argExtreme(x: Float64Array, skipna: boolean, isMax: boolean): number {
  const n = x.length;
  if (!skipna && hasNaNValue(x)) return -1;
  let m = isMax ? -Infinity : Infinity;
  let at = -1;
  // a new extreme is rare in real data, so this branch predicts well; NaN never compares true
  if (isMax) {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      if (v > m) {
        m = v;
        at = i;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      if (v < m) {
        m = v;
        at = i;
      }
    }
  }
  if (at >= 0) return at;
  // every valid value equals the ±Infinity start (or there is none): the first valid position
  for (let i = 0; i < n; i++) if (x[i] === x[i]) return i;
  return -1;
}

/** Options of {@link quantile}. */
export interface QuantileOptions {
  /** Interpolation between the two nearest ranks (pandas `interpolation`, default `'linear'`). */
  readonly interpolation?: 'linear' | 'lower' | 'higher' | 'nearest' | 'midpoint';
  /** Scratch buffer of length ≥ the number of valid values, reused instead of allocating one per call. */
  readonly scratch?: Float64Array;
}

const INTERPOLATIONS = new Set(['linear', 'lower', 'higher', 'nearest', 'midpoint']);

/**
 * The `q`-quantile of the non-NaN values (pandas `Series.quantile`, NumPy's `linear` method by default).
 * Empty or all-NaN → NaN. O(n) expected (quickselect on a copy); `x` is not modified. Allocates one
 * scratch array of the valid count per call unless `options.scratch` is given.
 */
export function quantile(x: Float64Array, q: number, options?: QuantileOptions): number {
  checkArray(x, 'x');
  numOption(q, 'q', 0, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  const interpolation = options?.interpolation ?? 'linear';
  if (!INTERPOLATIONS.has(interpolation)) {
    throw new AccelRangeError(
      'options.interpolation',
      interpolation,
      "one of 'linear', 'lower', 'higher', 'nearest', 'midpoint'",
    );
  }
  let count = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === x[i]) count++;
  if (count === 0) return NaN;
  let buf: Float64Array;
  if (options?.scratch !== undefined) {
    checkArray(options.scratch, 'options.scratch');
    if (options.scratch.length < count) {
      throw new AccelRangeError(
        'options.scratch',
        options.scratch,
        `a Float64Array of length ≥ ${count} (the number of valid values)`,
      );
    }
    if (overlaps(options.scratch, x)) {
      throw new AccelRangeError(
        'options.scratch',
        options.scratch,
        'a Float64Array that does not overlap x (quantile reorders its scratch, and x is left unmodified)',
      );
    }
    buf = options.scratch;
  } else {
    buf = new Float64Array(count);
  }
  let k = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === v) buf[k++] = v;
  }
  // NumPy's virtual index of the 'linear' and 'nearest' methods, `(n - 1) * q`, in the same operation order
  // (the order decides exact ties such as 10.5, which 'nearest' rounds half to even).
  const virtual = (count - 1) * q;
  const lo = Math.max(0, Math.min(count - 1, Math.floor(virtual)));
  const hi = Math.min(count - 1, lo + 1);
  const gamma = virtual - Math.floor(virtual);
  const a = select(buf, count, lo);
  // After select, every element right of lo is ≥ a; the next order statistic is their minimum.
  let b = a;
  if (hi !== lo) {
    b = Infinity;
    for (let i = lo + 1; i < count; i++) if (buf[i]! < b) b = buf[i]!;
  }
  switch (interpolation) {
    case 'lower':
      return a;
    case 'higher':
      return gamma > 0 ? b : a;
    case 'nearest':
      // NumPy rounds half to even on the virtual index.
      return gamma > 0.5 || (gamma === 0.5 && lo % 2 === 1) ? b : a;
    case 'midpoint':
      return gamma > 0 ? (a + b) / 2 : a;
    default: {
      if (gamma === 0) return a;
      const d = b - a;
      // NumPy's _lerp: switch formulas at t = 0.5 for monotonicity.
      return gamma >= 0.5 ? b - d * (1 - gamma) : a + d * gamma;
    }
  }
}

/** Quickselect: partially orders buf[0, n) so buf[k] is the k-th smallest; returns it. */
function select(buf: Float64Array, n: number, k: number): number {
  let left = 0;
  let right = n - 1;
  while (right > left) {
    const mid = (left + right) >>> 1;
    // median of three as pivot
    const a = buf[left]!;
    const b = buf[mid]!;
    const c = buf[right]!;
    const pivot = Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    let i = left;
    let j = right;
    while (i <= j) {
      while (buf[i]! < pivot) i++;
      while (buf[j]! > pivot) j--;
      if (i <= j) {
        const t = buf[i]!;
        buf[i] = buf[j]!;
        buf[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return buf[k]!;
  }
  return buf[k]!;
}

/**
 * Mean as `x0 + Σ(x − x0) / n` with x0 the first valid value: exact for a constant series (so its variance is
 * exactly 0) and less sensitive to a large common offset. Used by variance, std and zscore.
 * @internal
 */
export function shiftedMean(x: Float64Array, mayHaveNaN: boolean): number {
  const n = x.length;
  let x0 = NaN;
  let i = 0;
  for (; i < n; i++) {
    if (x[i] === x[i]) {
      x0 = x[i]!;
      break;
    }
  }
  if (x0 !== x0) return NaN;
  let s0 = 0;
  let s1 = 0;
  let c = 0;
  const start = i;
  if (!mayHaveNaN) {
    if (((n - i) & 1) === 1) s0 = x[i++]! - x0;
    for (; i < n; i += 2) {
      s0 += x[i]! - x0;
      s1 += x[i + 1]! - x0;
    }
    const r = x0 + (s0 + s1) / (n - start);
    if (r === r) return r;
    // a NaN after all: fall through to the counting loop
    s0 = 0;
    i = start;
  }
  for (; i < n; i++) {
    const d = x[i]! - x0;
    s0 += d === d ? d : 0;
    c += d === d ? 1 : 0;
  }
  return x0 + s0 / c;
}
