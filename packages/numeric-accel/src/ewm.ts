import { AccelRangeError } from './errors.js';
import { shiftedMean, varianceJs } from './reductions.js';
import { rollingZscoreCore } from './rolling.js';
import {
  boolOption,
  checkArray,
  intOption,
  outArray,
  outArrayInPlace,
  sameMemory,
  windowOptions,
} from './validate.js';
import { stage, unstage, useWasm, wasmKernels } from './wasm/backend.js';

/**
 * Options of {@link ema} (pandas `Series.ewm(...).mean()`). Give exactly one of `span`, `alpha`,
 * `halflife` or `com`.
 */
export interface EmaOptions {
  /** Span ≥ 1: `alpha = 2 / (span + 1)`. */
  readonly span?: number;
  /** Smoothing factor in (0, 1]. */
  readonly alpha?: number;
  /** Half-life in elements, > 0: `alpha = 1 - exp(ln(0.5) / halflife)`. */
  readonly halflife?: number;
  /** Centre of mass ≥ 0: `alpha = 1 / (1 + com)`. */
  readonly com?: number;
  /** pandas `adjust` (default `true`): divide by the decaying sum of weights instead of the recursive form. */
  readonly adjust?: boolean;
  /** pandas `ignore_na` (default `false`): when false, NaN gaps still decay the weights of older values. */
  readonly ignoreNA?: boolean;
  /** Minimum number of valid values seen before a non-NaN output (default 0). */
  readonly minPeriods?: number;
  /** Output array of the input's length; may be `x` itself, but not a shifted view of it. */
  readonly out?: Float64Array;
}

/**
 * Resolves the decay options to pandas' centre of mass, then alpha = 1 / (1 + com), in the same operation
 * order as pandas so the factors match bit for bit.
 * @internal
 */
export function resolveAlpha(options: EmaOptions | undefined, prefix = 'options'): number {
  const given = (['span', 'alpha', 'halflife', 'com'] as const).filter(
    (k) => options?.[k] !== undefined,
  );
  if (given.length !== 1) {
    throw new AccelRangeError(
      `${prefix}.span|alpha|halflife|com`,
      given.length === 0 ? undefined : given.join(', '),
      'exactly one of span, alpha, halflife or com',
    );
  }
  const key = given[0]!;
  const v = options![key];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new AccelRangeError(`${prefix}.${key}`, v, 'a finite number');
  let com: number;
  switch (key) {
    case 'span':
      if (v < 1) throw new AccelRangeError(`${prefix}.span`, v, 'a number ≥ 1');
      com = (v - 1) / 2;
      break;
    case 'halflife':
      if (v <= 0) throw new AccelRangeError(`${prefix}.halflife`, v, 'a number > 0');
      com = 1 / (1 - Math.exp(Math.log(0.5) / v)) - 1;
      break;
    case 'alpha':
      if (v <= 0 || v > 1) throw new AccelRangeError(`${prefix}.alpha`, v, 'a number in (0, 1]');
      com = 1 / v - 1;
      break;
    default:
      if (v < 0) throw new AccelRangeError(`${prefix}.com`, v, 'a number ≥ 0');
      com = v;
  }
  return 1 / (1 + com);
}

/**
 * pandas' `ewm` mean recursion (window_aggregations.ewm), literally, so NaN handling, `adjust`,
 * `ignore_na` and `min_periods` match. Like pandas (which replaces ±inf with NaN before its window functions),
 * an infinite value counts as missing. `x` and `out` may be the same array.
 * @internal
 */
export function ewmCore(
  x: Float64Array,
  out: Float64Array,
  alpha: number,
  adjust: boolean,
  ignoreNA: boolean,
  minp: number,
): void {
  const n = x.length;
  if (n === 0) return;
  const oldWtFactor = 1 - alpha;
  const newWt = adjust ? 1 : alpha;
  let weighted = x[0]!;
  // x − x is 0 only for a finite x: NaN and ±inf are both missing values here
  if (weighted - weighted !== 0) weighted = NaN;
  let nobs = weighted === weighted ? 1 : 0;
  out[0] = nobs >= minp ? weighted : NaN;
  let oldWt = 1;
  for (let i = 1; i < n; i++) {
    const cur = x[i]!;
    // finite only (NaN compares false); measured a little cheaper here than cur - cur === 0
    const isObs = Math.abs(cur) <= Number.MAX_VALUE;
    if (isObs) nobs++;
    if (weighted === weighted) {
      if (isObs || !ignoreNA) {
        oldWt *= oldWtFactor;
        if (isObs) {
          // pandas skips the update on equal values to keep constant series exact
          if (weighted !== cur) {
            weighted = oldWt * weighted + newWt * cur;
            weighted /= oldWt + newWt;
          }
          if (adjust) oldWt += newWt;
          else oldWt = 1;
        }
      }
    } else if (isObs) weighted = cur;
    out[i] = nobs >= minp ? weighted : NaN;
  }
}

function hasNaNOrInf(x: Float64Array): boolean {
  let z = 0;
  for (let i = 0; i < x.length; i++) z += x[i]! * 0;
  return z !== 0;
}

/** Lanes are used only when each gets at least this many values; the fix-up per lane is O(log(ε)/log(1-α)). */
const EMA_LANE_MIN = 4096;

/**
 * NaN-free fast path of {@link ewmCore}. Once pandas' weight `oldWt` reaches its fixed point the recursion is
 * affine with constant coefficients, `w ← w + b·(x − w)`, so the range is split into four lanes computed in
 * lockstep from a guessed start (the lane's first input) and then corrected by `(1 − b)^k · (true start − guess)`
 * until that correction drops below 2^-56 of the value. Returns false (and leaves `out` partly written) when the
 * input holds a NaN or an infinity, for the caller to rerun the general path.
 */
function ewmFast(x: Float64Array, out: Float64Array, alpha: number, adjust: boolean): boolean {
  const n = x.length;
  const oldWtFactor = 1 - alpha;
  const newWt = adjust ? 1 : alpha;
  let weighted = x[0]!;
  out[0] = weighted;
  let oldWt = 1;
  let i = 1;
  // exact pandas recursion until the weights stop changing
  for (; i < n; i++) {
    const cur = x[i]!;
    const before = oldWt;
    oldWt *= oldWtFactor;
    if (weighted !== cur) weighted = (oldWt * weighted + newWt * cur) / (oldWt + newWt);
    const c = oldWt;
    oldWt = adjust ? oldWt + newWt : 1;
    out[i] = weighted;
    if (oldWt === before) {
      i++;
      // from here on every step uses the same c and newWt
      return ewmLanes(x, out, i, weighted, newWt / (c + newWt)) && weighted - weighted === 0;
    }
  }
  return weighted - weighted === 0;
}

function ewmLanes(
  x: Float64Array,
  out: Float64Array,
  from: number,
  start: number,
  b: number,
): boolean {
  const n = x.length;
  const total = n - from;
  let w = start;
  if (b === 1) {
    // alpha = 1: the average is the value itself (w + 1·(x − w) can round away from x)
    let z = 0;
    for (let i = from; i < n; i++) {
      const v = x[i]!;
      z += v * 0;
      out[i] = v;
    }
    return z === 0;
  }
  const wasm = total >= 4 && useWasm('ema', x, out);
  if (total < 4 * EMA_LANE_MIN && !wasm) {
    for (let i = from; i < n; i++) {
      const cur = x[i]!;
      w = w + b * (cur - w);
      out[i] = w;
    }
    return w - w === 0;
  }
  const q = Math.floor(total / 4);
  const s0 = from;
  const s1 = s0 + q;
  const s2 = s1 + q;
  const s3 = s2 + q;
  // each lane starts from its first input as a guess of the true state (kept: out may be x itself)
  const g1 = x[s1]!;
  const g2 = x[s2]!;
  const g3 = x[s3]!;
  let w0 = start;
  let w1 = g1;
  let w2 = g2;
  let w3 = g3;
  if (wasm) {
    const k = wasmKernels()!;
    const { xp, op, copyOut } = stage(k, x, out);
    if (k.ema_lanes(xp, op, s0, q, start, b) === 0) return false;
    if (copyOut) unstage(k, op, out, s0, s3 + q);
    w3 = out[s3 + q - 1]!;
  } else {
    for (let k = 0; k < q; k++) {
      const i0 = s0 + k;
      const i1 = s1 + k;
      const i2 = s2 + k;
      const i3 = s3 + k;
      w0 = w0 + b * (x[i0]! - w0);
      w1 = w1 + b * (x[i1]! - w1);
      w2 = w2 + b * (x[i2]! - w2);
      w3 = w3 + b * (x[i3]! - w3);
      out[i0] = w0;
      out[i1] = w1;
      out[i2] = w2;
      out[i3] = w3;
    }
  }
  for (let i = s3 + q; i < n; i++) {
    w3 = w3 + b * (x[i]! - w3);
    out[i] = w3;
  }
  if (w0 - w0 !== 0 || w1 - w1 !== 0 || w2 - w2 !== 0 || w3 - w3 !== 0) return false;
  const a = 1 - b;
  fixLane(out, s1, s1 + q, out[s1 - 1]! - g1, a);
  fixLane(out, s2, s2 + q, out[s2 - 1]! - g2, a);
  fixLane(out, s3, n, out[s3 - 1]! - g3, a);
  return true;
}

/** Adds `a^(k+1) · delta` to out[s + k] until it no longer changes the value. */
function fixLane(out: Float64Array, s: number, e: number, delta: number, a: number): void {
  let corr = delta * a;
  for (let i = s; i < e; i++) {
    const v = out[i]!;
    if (Math.abs(corr) <= 1.3877787807814457e-17 * Math.abs(v)) break;
    out[i] = v + corr;
    corr *= a;
  }
}

/**
 * Exponentially weighted moving average, pandas `ewm(span|alpha|halflife|com, adjust, ignore_na,
 * min_periods).mean()` with the same NaN semantics. O(n), no allocation besides `out`.
 */
export function ema(x: Float64Array, options: EmaOptions): Float64Array {
  checkArray(x, 'x');
  const alpha = resolveAlpha(options);
  const adjust = boolOption(options.adjust, 'options.adjust', true);
  const ignoreNA = boolOption(options.ignoreNA, 'options.ignoreNA', false);
  const minp = intOption(options.minPeriods, 'options.minPeriods', 0, 0);
  const out = outArrayInPlace(options.out, x.length, x);
  // both paths read x[i] before writing out[i] only, so out may be x; a failed fast path leaves x intact
  // only when out is a different array, so the in-place case checks for NaN first
  const fast =
    x.length > 0 && (!sameMemory(out, x) || !hasNaNOrInf(x)) && ewmFast(x, out, alpha, adjust);
  if (!fast) ewmCore(x, out, alpha, adjust, ignoreNA, minp);
  else out.fill(NaN, 0, Math.min(x.length, Math.max(0, minp - 1)));
  return out;
}

/** Options of {@link rsi}. */
export interface RsiOptions {
  /** Look-back period ≥ 1 (default 14). Wilder smoothing: `alpha = 1 / period`. */
  readonly period?: number;
  /** Output array of the input's length; may be `x` itself, but not a shifted view of it. */
  readonly out?: Float64Array;
}

/**
 * Wilder's relative strength index in [0, 100], defined as the usual pandas recipe:
 * `d = x.diff(); up = d.clip(lower=0).ewm(alpha=1/period, adjust=False, min_periods=period).mean();
 * down = (-d.clip(upper=0)).ewm(...same...).mean(); rsi = 100 - 100 / (1 + up / down)`.
 * The first `period` values are NaN; a window with no moves at all is NaN; no losses → 100. O(n).
 */
export function rsi(x: Float64Array, options?: RsiOptions): Float64Array {
  checkArray(x, 'x');
  const period = intOption(options?.period, 'options.period', 14, 1);
  const out = outArrayInPlace(options?.out, x.length, x);
  const n = x.length;
  if (n === 0) return out;
  const alpha = 1 / (1 + (1 / (1 / period) - 1));
  const oldWtFactor = 1 - alpha;
  // the fast path gives up on the first NaN or infinity, by then having overwritten x when out is x
  if ((!sameMemory(out, x) || !hasNaNOrInf(x)) && rsiFast(x, out, period, alpha)) return out;
  // two independent ewm(adjust=False, ignore_na=False) states, one for gains and one for losses; the diff
  // makes index 0 NaN. pandas' ewm treats ±inf as missing, and clip() sends the other side of an infinite move
  // to 0, so a +inf move is a missing gain but an observed zero loss (−inf the reverse): the two sides can
  // count different observations.
  let up = NaN;
  let down = NaN;
  let upWt = 1;
  let downWt = 1;
  let upObs = 0;
  let downObs = 0;
  let prevX = x[0]!;
  out[0] = NaN;
  for (let i = 1; i < n; i++) {
    const cur = x[i]!;
    const d = cur - prevX;
    prevX = cur;
    // d.clip(lower=0) and -d.clip(upper=0), observed when finite: a finite move feeds both sides, +inf only the
    // loss side (as 0), −inf only the gain side, NaN neither
    const fin = d - d === 0;
    const gObs = fin || d === -Infinity;
    const lObs = fin || d === Infinity;
    const g = d > 0 ? d : 0;
    const l = d < 0 ? -d : 0;
    // pandas' ewm update, which leaves the average untouched when the new value equals it
    if (up === up) {
      upWt *= oldWtFactor;
      if (gObs) {
        up = up === g ? up : (upWt * up + alpha * g) / (upWt + alpha);
        upWt = 1;
      }
    } else if (gObs) up = g;
    if (down === down) {
      downWt *= oldWtFactor;
      if (lObs) {
        down = down === l ? down : (downWt * down + alpha * l) / (downWt + alpha);
        downWt = 1;
      }
    } else if (lObs) down = l;
    upObs += gObs ? 1 : 0;
    downObs += lObs ? 1 : 0;
    out[i] = upObs >= period && downObs >= period ? 100 - 100 / (1 + up / down) : NaN;
  }
  return out;
}

/**
 * NaN-free path of {@link rsi}: with no gaps pandas' weights are the same at every step, so each update is
 * `(f·avg + α·v) / (f + α)` with constant f = 1 − α (computed as a product with the reciprocal: a few ulps from
 * pandas at most). Returns false when a NaN or infinity showed up.
 */
function rsiFast(x: Float64Array, out: Float64Array, period: number, alpha: number): boolean {
  const n = x.length;
  if (n < 2) {
    out.fill(NaN);
    return true;
  }
  const f = 1 - alpha;
  const invDen = 1 / (f + alpha);
  let d = x[1]! - x[0]!;
  // read before out[1] is written: out may be x itself
  let prev = x[1]!;
  let up = d > 0 ? d : 0;
  let down = d < 0 ? -d : 0;
  let z = d * 0;
  out[0] = NaN;
  out[1] = period <= 1 ? 100 - 100 / (1 + up / down) : NaN;
  for (let i = 2; i < n; i++) {
    const cur = x[i]!;
    d = cur - prev;
    prev = cur;
    z += d * 0;
    // branch-free gain/loss split (a sign test mispredicts half the time on price data); exact in binary
    const ad = Math.abs(d);
    const g = (d + ad) * 0.5;
    const l = (ad - d) * 0.5;
    // den is 1 or 1 ± 1 ulp; multiplying by its reciprocal keeps the division off the dependency chain
    up = up === g ? up : (f * up + alpha * g) * invDen;
    down = down === l ? down : (f * down + alpha * l) * invDen;
    out[i] = 100 - 100 / (1 + up / down);
  }
  out.fill(NaN, 0, Math.min(n, period));
  return z === 0;
}

/** Options of {@link zscore}. */
export interface ZscoreOptions {
  /** Rolling window; omit for the whole-series z-score `(x - mean(x)) / std(x)`. */
  readonly window?: number;
  /** Minimum valid values per window (rolling form only, an error without `window`; default `window`). */
  readonly minPeriods?: number;
  /** Delta degrees of freedom of the standard deviation (default 1). */
  readonly ddof?: number;
  /** Output array; may be `x` itself (not a shifted view of it) for the whole-series form only. */
  readonly out?: Float64Array;
}

/**
 * Standard score. Whole series: `(x - x.mean()) / x.std(ddof)`. With `window`:
 * `(x - x.rolling(window).mean()) / x.rolling(window).std(ddof)` (pandas expressions, NaN rules included).
 */
export function zscore(x: Float64Array, options?: ZscoreOptions): Float64Array {
  checkArray(x, 'x');
  const ddof = intOption(options?.ddof, 'options.ddof', 1, 0);
  if (options?.window !== undefined) {
    // the same window rules as rollingMean / rollingStd (a window longer than the series is fine)
    const { window: w, minPeriods: minp } = windowOptions(options);
    const out = outArray(options.out, x.length, x);
    rollingZscoreCore(x, w, minp, ddof, out);
    return out;
  }
  if (options?.minPeriods !== undefined) {
    throw new AccelRangeError(
      'options.minPeriods',
      options.minPeriods,
      'omitted unless options.window is given (the whole-series z-score has no window)',
    );
  }
  const out = outArrayInPlace(options?.out, x.length, x);
  const m = shiftedMean(x, false);
  const s = Math.sqrt(varianceJs(x, ddof, true));
  for (let i = 0; i < x.length; i++) out[i] = (x[i]! - m) / s;
  return out;
}
