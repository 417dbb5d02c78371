import { AccelRangeError } from './errors.js';
import { boolOption, checkArray, intOption, outArray, outArrayInPlace } from './validate.js';

/** Options of the cumulative kernels. */
export interface CumulativeOptions {
  /** Skip NaN (default `true`, as pandas): NaN positions stay NaN and the accumulation carries on past them. With `false`, the first NaN propagates to the end. */
  readonly skipna?: boolean;
  /** Output array of the same length; may be `x` itself (in place), but not a shifted view of it. */
  readonly out?: Float64Array;
}

/** Options of the lagged kernels ({@link diff}, {@link shift}, {@link pctChange}, {@link logReturns}). */
export interface LagOptions {
  /** Lag in elements (default 1). Negative lags look forward, as in pandas. */
  readonly periods?: number;
  /**
   * Output array of the same length; may be `x` itself (in place). `diff`, `pctChange` and `logReturns` reject a
   * shifted view of `x` (`shift` copies through one correctly).
   */
  readonly out?: Float64Array;
}

/** Options of {@link shift}. */
export interface ShiftOptions extends LagOptions {
  /** Value for the vacated positions (default NaN). */
  readonly fillValue?: number;
}

/** Options of {@link pctChange} and {@link returns}. */
export interface PctChangeOptions extends LagOptions {
  /**
   * `'pad'` forward-fills NaN before computing (pandas < 3 default, deprecated there); `null` (default,
   * pandas 3 behaviour) uses the values as they are, so a NaN on either side gives NaN.
   */
  readonly fillMethod?: 'pad' | null;
}

function periodsOf(options: LagOptions | undefined): number {
  return intOption(options?.periods, 'options.periods', 1, -Number.MAX_SAFE_INTEGER);
}

/** Running sum (pandas `cumsum`). O(n), writes `out` (allocated when absent). */
export function cumsum(x: Float64Array, options?: CumulativeOptions): Float64Array {
  checkArray(x, 'x');
  const skipna = boolOption(options?.skipna, 'options.skipna', true);
  const out = outArrayInPlace(options?.out, x.length, x);
  let s = 0;
  const n = x.length;
  if (skipna) {
    // branchless: V8 compiles the if/else form of this loop several times slower
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      s += v === v ? v : 0;
      out[i] = v === v ? s : v;
    }
  } else {
    for (let i = 0; i < n; i++) {
      s += x[i]!;
      out[i] = s;
    }
  }
  return out;
}

/** Running product (pandas `cumprod`). O(n). */
export function cumprod(x: Float64Array, options?: CumulativeOptions): Float64Array {
  checkArray(x, 'x');
  const skipna = boolOption(options?.skipna, 'options.skipna', true);
  const out = outArrayInPlace(options?.out, x.length, x);
  let p = 1;
  const n = x.length;
  if (skipna) {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      p *= v === v ? v : 1;
      out[i] = v === v ? p : v;
    }
  } else {
    for (let i = 0; i < n; i++) {
      p *= x[i]!;
      out[i] = p;
    }
  }
  return out;
}

function cumExtreme(x: Float64Array, out: Float64Array, skipna: boolean, isMax: boolean): void {
  const n = x.length;
  let m = isMax ? -Infinity : Infinity;
  let i = 0;
  if (skipna) {
    // NaN never compares true, so it leaves the running extreme alone; its own slot stays NaN
    if (isMax) {
      for (; i < n; i++) {
        const v = x[i]!;
        m = v > m ? v : m;
        out[i] = v === v ? m : v;
      }
    } else {
      for (; i < n; i++) {
        const v = x[i]!;
        m = v < m ? v : m;
        out[i] = v === v ? m : v;
      }
    }
    return;
  }
  for (; i < n; i++) {
    const v = x[i]!;
    if (v !== v) break;
    m = isMax ? (v > m ? v : m) : v < m ? v : m;
    out[i] = m;
  }
  for (; i < n; i++) out[i] = NaN;
}

/** Running maximum (pandas `cummax`). O(n). */
export function cummax(x: Float64Array, options?: CumulativeOptions): Float64Array {
  checkArray(x, 'x');
  const skipna = boolOption(options?.skipna, 'options.skipna', true);
  const out = outArrayInPlace(options?.out, x.length, x);
  cumExtreme(x, out, skipna, true);
  return out;
}

/** Running minimum (pandas `cummin`). O(n). */
export function cummin(x: Float64Array, options?: CumulativeOptions): Float64Array {
  checkArray(x, 'x');
  const skipna = boolOption(options?.skipna, 'options.skipna', true);
  const out = outArrayInPlace(options?.out, x.length, x);
  cumExtreme(x, out, skipna, false);
  return out;
}

/**
 * `out[i] = op(x[i], x[i - periods])`, NaN where `i - periods` is outside the array. Safe in place: walks
 * away from the lagged side so no input is overwritten before it is read.
 */
function lagged(x: Float64Array, out: Float64Array, p: number, op: 0 | 1 | 2): void {
  const n = x.length;
  // one loop per operation keeps each loop monomorphic and branch-free
  if (p >= 0) {
    if (op === 0) for (let i = n - 1; i >= p; i--) out[i] = x[i]! - x[i - p]!;
    else if (op === 1) for (let i = n - 1; i >= p; i--) out[i] = x[i]! / x[i - p]! - 1;
    else for (let i = n - 1; i >= p; i--) out[i] = Math.log(x[i]! / x[i - p]!);
    out.fill(NaN, 0, Math.min(p, n));
  } else {
    const q = -p;
    const end = n - q;
    if (op === 0) for (let i = 0; i < end; i++) out[i] = x[i]! - x[i + q]!;
    else if (op === 1) for (let i = 0; i < end; i++) out[i] = x[i]! / x[i + q]! - 1;
    else for (let i = 0; i < end; i++) out[i] = Math.log(x[i]! / x[i + q]!);
    out.fill(NaN, Math.max(0, end), n);
  }
}

/** First discrete difference `x[i] - x[i - periods]` (pandas `diff`); the first `periods` values are NaN. */
export function diff(x: Float64Array, options?: LagOptions): Float64Array {
  checkArray(x, 'x');
  const p = periodsOf(options);
  const out = outArrayInPlace(options?.out, x.length, x);
  lagged(x, out, p, 0);
  return out;
}

/** Shift by `periods` (pandas `shift`): `out[i] = x[i - periods]`, vacated positions get `fillValue` (NaN). */
export function shift(x: Float64Array, options?: ShiftOptions): Float64Array {
  checkArray(x, 'x');
  const p = periodsOf(options);
  const fill = options?.fillValue ?? NaN;
  if (typeof fill !== 'number') throw new AccelRangeError('options.fillValue', fill, 'a number');
  const out = outArray(options?.out, x.length);
  const n = x.length;
  if (p >= 0) {
    const kept = Math.max(0, n - p);
    if (out === x) out.copyWithin(p, 0, kept);
    else out.set(x.subarray(0, kept), Math.min(p, n));
    out.fill(fill, 0, Math.min(p, n));
  } else {
    const q = -p;
    if (out === x) out.copyWithin(0, q, n);
    else out.set(x.subarray(Math.min(q, n), n), 0);
    out.fill(fill, Math.max(0, n - q), n);
  }
  return out;
}

/**
 * Simple returns `x[i] / x[i - periods] - 1` (pandas `pct_change`). With `fillMethod: 'pad'` NaN values are
 * forward-filled first (pandas < 3 default). The first `periods` values are NaN.
 */
export function pctChange(x: Float64Array, options?: PctChangeOptions): Float64Array {
  checkArray(x, 'x');
  const p = periodsOf(options);
  const fillMethod = options?.fillMethod ?? null;
  if (fillMethod !== null && fillMethod !== 'pad') {
    throw new AccelRangeError('options.fillMethod', fillMethod, "'pad' or null");
  }
  const out = outArrayInPlace(options?.out, x.length, x);
  if (fillMethod === 'pad') {
    // forward-fill into out, then compute in place
    let last = NaN;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v === v) last = v;
      out[i] = last;
    }
    lagged(out, out, p, 1);
  } else lagged(x, out, p, 1);
  return out;
}

/** Alias of {@link pctChange}: simple returns of a price series. */
export const returns: (x: Float64Array, options?: PctChangeOptions) => Float64Array = pctChange;

/** Log returns `ln(x[i] / x[i - periods])` (pandas `np.log(s / s.shift(periods))`). The first `periods` values are NaN. */
export function logReturns(x: Float64Array, options?: LagOptions): Float64Array {
  checkArray(x, 'x');
  const p = periodsOf(options);
  const out = outArrayInPlace(options?.out, x.length, x);
  lagged(x, out, p, 2);
  return out;
}
