import { checkArray, numOption, intOption, outArrayInPlace } from './validate.js';
import { meanJs, varianceJs } from './reductions.js';

/** Options of {@link drawdown}. */
export interface DrawdownOptions {
  /** Output array of the input's length; may be `x` itself, but not a shifted view of it. */
  readonly out?: Float64Array;
}

/**
 * Drawdown series of an equity (or price) curve: `x / x.cummax() - 1`, values ≤ 0 (pandas expression;
 * NaN positions stay NaN and do not reset the running peak). O(n).
 */
export function drawdown(x: Float64Array, options?: DrawdownOptions): Float64Array {
  checkArray(x, 'x');
  const out = outArrayInPlace(options?.out, x.length, x);
  let peak = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    // NaN never raises the peak and divides to NaN
    peak = v > peak ? v : peak;
    out[i] = v / peak - 1;
  }
  return out;
}

/** Result of {@link maxDrawdown}. */
export interface MaxDrawdownResult {
  /** The deepest drawdown as a fraction ≤ 0 (e.g. -0.25 for a 25 % fall); NaN when `x` has no valid value. */
  readonly value: number;
  /** Index of the peak the deepest drawdown started from (-1 when none). */
  readonly peakIndex: number;
  /** Index of the trough, the first position where `value` is reached (-1 when none). */
  readonly troughIndex: number;
  /** First index after the trough where the curve is back at or above the peak, or -1 if it never recovers. */
  readonly recoveryIndex: number;
}

/**
 * Maximum drawdown of an equity curve with its start (peak) and end (trough), and the recovery point.
 * Equals `min(drawdown(x))`. O(n), no allocation besides the result object.
 */
export function maxDrawdown(x: Float64Array): MaxDrawdownResult {
  checkArray(x, 'x');
  let peak = -Infinity;
  let peakAt = -1;
  let best = Infinity;
  let bestPeakAt = -1;
  let troughAt = -1;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    // new peaks and new troughs are rare, so these branches predict well; NaN takes neither
    if (v > peak) {
      peak = v;
      peakAt = i;
    }
    const dd = v / peak - 1;
    if (dd < best) {
      best = dd;
      troughAt = i;
      bestPeakAt = peakAt;
    }
  }
  if (troughAt < 0) return { value: NaN, peakIndex: -1, troughIndex: -1, recoveryIndex: -1 };
  let recoveryIndex = -1;
  if (best < 0) {
    const peakValue = x[bestPeakAt]!;
    for (let i = troughAt + 1; i < x.length; i++) {
      if (x[i]! >= peakValue) {
        recoveryIndex = i;
        break;
      }
    }
  }
  return { value: best, peakIndex: bestPeakAt, troughIndex: troughAt, recoveryIndex };
}

/** Options of {@link sharpe}. */
export interface SharpeOptions {
  /** Annualisation factor: periods per year (default 252 trading days; 1 = no annualisation). */
  readonly periodsPerYear?: number;
  /** Risk-free return per period, subtracted from each return (default 0). */
  readonly riskFree?: number;
  /** Delta degrees of freedom of the standard deviation (default 1). */
  readonly ddof?: number;
}

/** The `periodsPerYear` option of sharpe and sortino: a finite number > 0, 252 by default. */
function periodsPerYear(v: number | undefined): number {
  return numOption(
    v,
    'options.periodsPerYear',
    252,
    (x) => Number.isFinite(x) && x > 0,
    'a finite number > 0',
  );
}

/**
 * Annualised Sharpe ratio of per-period returns: `mean(r - rf) / std(r - rf, ddof) * sqrt(periodsPerYear)`,
 * NaN skipped. Zero volatility gives ±Infinity (or NaN for a zero mean), as IEEE division does. O(n).
 */
export function sharpe(r: Float64Array, options?: SharpeOptions): number {
  checkArray(r, 'returns');
  const ppy = periodsPerYear(options?.periodsPerYear);
  const rf = numOption(
    options?.riskFree,
    'options.riskFree',
    0,
    Number.isFinite,
    'a finite number',
  );
  const ddof = intOption(options?.ddof, 'options.ddof', 1, 0);
  const m = meanJs(r, true) - rf;
  // the variance of r - rf equals the variance of r
  const s = Math.sqrt(varianceJs(r, ddof, true));
  return (m / s) * Math.sqrt(ppy);
}

/** Options of {@link sortino}. */
export interface SortinoOptions {
  /** Annualisation factor: periods per year (default 252). */
  readonly periodsPerYear?: number;
  /** Minimum acceptable return per period (default 0). */
  readonly target?: number;
}

/**
 * Annualised Sortino ratio: `mean(r - target) / sqrt(mean(min(r - target, 0)²)) * sqrt(periodsPerYear)`,
 * the downside deviation taken over all valid periods (as empyrical does), NaN skipped. No downside gives
 * +Infinity for a positive mean (IEEE division). O(n).
 */
export function sortino(r: Float64Array, options?: SortinoOptions): number {
  checkArray(r, 'returns');
  const ppy = periodsPerYear(options?.periodsPerYear);
  const target = numOption(
    options?.target,
    'options.target',
    0,
    Number.isFinite,
    'a finite number',
  );
  let s = 0;
  let dd = 0;
  let c = 0;
  for (let i = 0; i < r.length; i++) {
    const d = r[i]! - target;
    const ok = d === d;
    s += ok ? d : 0;
    // branch-free min(d, 0): exact, and no misprediction on a sign that flips at random
    const neg = (d - Math.abs(d)) * 0.5;
    dd += ok ? neg * neg : 0;
    c += ok ? 1 : 0;
  }
  if (c === 0) return NaN;
  return (s / c / Math.sqrt(dd / c)) * Math.sqrt(ppy);
}
