import { rollingSumMeanJs, rollingVarJs, STD, VAR, ZSCORE } from './rolling-core.js';
import { checkArray, checkSameLength, intOption, outArray, windowOptions } from './validate.js';

/** Options of the rolling kernels (pandas `Series.rolling(window, min_periods)`). */
export interface RollingOptions {
  /** Window length in elements, an integer ≥ 1. */
  readonly window: number;
  /** Minimum number of non-NaN values in the window for a non-NaN result (default `window`, as pandas). */
  readonly minPeriods?: number;
  /** Output array of the input's length. Must not overlap the input. */
  readonly out?: Float64Array;
}

/** Options of {@link rollingStd} / {@link rollingVar}. */
export interface RollingVarOptions extends RollingOptions {
  /** Delta degrees of freedom (default 1, as pandas). */
  readonly ddof?: number;
}

/**
 * Rolling sum over the trailing `window` values (pandas `rolling(window, min_periods).sum()`): NaN values
 * are skipped; a window with fewer than `minPeriods` valid values gives NaN (0 when `minPeriods` is 0).
 * O(n), no allocation besides `out`.
 */
export function rollingSum(x: Float64Array, options: RollingOptions): Float64Array {
  checkArray(x, 'x');
  const { window, minPeriods } = windowOptions(options);
  const out = outArray(options.out, x.length, x);
  rollingSumMeanJs(x, window, minPeriods, out, false);
  return out;
}

/** Rolling mean (pandas `rolling(...).mean()`), same NaN rules as {@link rollingSum} (empty window → NaN). O(n). */
export function rollingMean(x: Float64Array, options: RollingOptions): Float64Array {
  checkArray(x, 'x');
  const { window, minPeriods } = windowOptions(options);
  const out = outArray(options.out, x.length, x);
  rollingSumMeanJs(x, window, minPeriods, out, true);
  return out;
}

function ddofOf(options: RollingVarOptions): number {
  return intOption(options.ddof, 'options.ddof', 1, 0);
}

/** Rolling variance with `ddof` (pandas `rolling(...).var()`); windows with ≤ ddof valid values are NaN. O(n). */
export function rollingVar(x: Float64Array, options: RollingVarOptions): Float64Array {
  checkArray(x, 'x');
  const { window, minPeriods } = windowOptions(options);
  const ddof = ddofOf(options);
  const out = outArray(options.out, x.length, x);
  rollingVarJs(x, window, minPeriods, ddof, out, VAR);
  return out;
}

/**
 * Rolling standard deviation (pandas `rolling(...).std()`). Sliding sums shifted by a value of the window and
 * re-anchored every 1024 outputs, so cancellation stays small; a constant window gives exactly 0. O(n).
 */
export function rollingStd(x: Float64Array, options: RollingVarOptions): Float64Array {
  checkArray(x, 'x');
  const { window, minPeriods } = windowOptions(options);
  const ddof = ddofOf(options);
  const out = outArray(options.out, x.length, x);
  rollingVarJs(x, window, minPeriods, ddof, out, STD);
  return out;
}

/** @internal rolling z-score `(x - rollingMean) / rollingStd` in one pass. */
export function rollingZscoreCore(
  x: Float64Array,
  w: number,
  minp: number,
  ddof: number,
  out: Float64Array,
): void {
  rollingVarJs(x, w, minp, ddof, out, ZSCORE);
}

// Sliding extreme with a monotonic deque of indices (NaN and ±inf skipped, as pandas does after replacing ±inf
// with NaN; valid values counted for min_periods).
let dequeScratch = new Int32Array(64);
function rollingExtremeDeque(
  x: Float64Array,
  w: number,
  minp: number,
  out: Float64Array,
  isMax: boolean,
): void {
  const n = x.length;
  const cap = Math.min(w, n) + 1;
  if (dequeScratch.length < cap)
    dequeScratch = new Int32Array(Math.max(cap, dequeScratch.length * 2));
  const q = dequeScratch;
  const size = q.length;
  let head = 0;
  let len = 0;
  let nobs = 0;
  for (let i = 0; i < n; i++) {
    if (i >= w) {
      const u = x[i - w]!;
      if (u - u === 0) nobs--;
      if (len > 0 && q[head] === i - w) {
        head = head + 1 === size ? 0 : head + 1;
        len--;
      }
    }
    const v = x[i]!;
    if (v - v === 0) {
      nobs++;
      // pop back while the back value is dominated
      while (len > 0) {
        let back = head + len - 1;
        if (back >= size) back -= size;
        const bv = x[q[back]!]!;
        if (isMax ? bv <= v : bv >= v) len--;
        else break;
      }
      let tail = head + len;
      if (tail >= size) tail -= size;
      q[tail] = i;
      len++;
    }
    out[i] = len > 0 && nobs >= minp && nobs > 0 ? x[q[head]!]! : NaN;
  }
}

// van Herk / Gil-Werman: with blocks of length w aligned at multiples of w, the window ending at i is the
// suffix of the previous block from i - w + 1 plus the prefix of the current block up to i. Branch-free,
// about three loads per output whatever the data. Returns false when a NaN or infinity was seen.
let suffixScratch = new Float64Array(64);
function rollingExtremeBlocks(
  x: Float64Array,
  w: number,
  out: Float64Array,
  isMax: boolean,
): boolean {
  const n = x.length;
  const bw = Math.min(w, n);
  if (suffixScratch.length < bw + 1)
    suffixScratch = new Float64Array(Math.max(bw + 1, suffixScratch.length * 2));
  const suf = suffixScratch;
  const init = isMax ? -Infinity : Infinity;
  let z = 0;
  for (let bs = 0; bs < n; bs += w) {
    const be = bs + w < n ? bs + w : n;
    if (bs > 0) {
      let m = init;
      const prev = bs - w;
      if (isMax) {
        for (let j = w - 1; j >= 0; j--) {
          const v = x[prev + j]!;
          m = v > m ? v : m;
          suf[j] = m;
        }
      } else {
        for (let j = w - 1; j >= 0; j--) {
          const v = x[prev + j]!;
          m = v < m ? v : m;
          suf[j] = m;
        }
      }
    } else suf.fill(init, 0, bw);
    suf[bw] = init;
    let p = init;
    if (isMax) {
      for (let i = bs; i < be; i++) {
        const v = x[i]!;
        z += v * 0;
        p = v > p ? v : p;
        const s = suf[i - bs + 1]!;
        out[i] = s > p ? s : p;
      }
    } else {
      for (let i = bs; i < be; i++) {
        const v = x[i]!;
        z += v * 0;
        p = v < p ? v : p;
        const s = suf[i - bs + 1]!;
        out[i] = s < p ? s : p;
      }
    }
  }
  return z === 0;
}

function rollingExtremeCore(
  x: Float64Array,
  w: number,
  minp: number,
  out: Float64Array,
  isMax: boolean,
): void {
  const ok = w <= x.length ? rollingExtremeBlocks(x, w, out, isMax) : false;
  if (!ok) {
    rollingExtremeDeque(x, w, minp, out, isMax);
    return;
  }
  // no NaN: the window ending at i holds min(i + 1, w) values
  out.fill(NaN, 0, Math.min(x.length, Math.max(0, minp - 1)));
}

/** Rolling maximum with a monotonic deque (pandas `rolling(...).max()`). O(n) amortised. */
export function rollingMax(x: Float64Array, options: RollingOptions): Float64Array {
  checkArray(x, 'x');
  const { window, minPeriods } = windowOptions(options);
  const out = outArray(options.out, x.length, x);
  rollingExtremeCore(x, window, minPeriods, out, true);
  return out;
}

/** Rolling minimum with a monotonic deque (pandas `rolling(...).min()`). O(n) amortised. */
export function rollingMin(x: Float64Array, options: RollingOptions): Float64Array {
  checkArray(x, 'x');
  const { window, minPeriods } = windowOptions(options);
  const out = outArray(options.out, x.length, x);
  rollingExtremeCore(x, window, minPeriods, out, false);
  return out;
}

// Windows up to this length are recomputed for every output (O(window) per step): a sliding update has
// nothing to amortise there, and the direct sums are exact for two-point windows (r = ±1).
const DIRECT_CORR_WINDOW = 16;
/** Outputs per re-anchored block of the sliding co-moment sums. */
const CORR_BLOCK = 1024;

/** NaN-free full-window block of {@link corrBlock} without per-value checks; false if a NaN or infinity showed up. */
function corrBlockFast(
  x: Float64Array,
  y: Float64Array,
  w: number,
  out: Float64Array,
  b: number,
  e: number,
): boolean {
  const from = b - w + 1;
  const kx = x[from]!;
  const ky = y[from]!;
  const invW = 1 / w;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let j = from; j < b; j++) {
    const du = x[j]! - kx;
    const dv = y[j]! - ky;
    sx += du;
    sy += dv;
    sxx += du * du;
    syy += dv * dv;
    sxy += du * dv;
  }
  for (let i = b; i < e; i++) {
    const du = x[i]! - kx;
    const dv = y[i]! - ky;
    const k = i - w;
    const dp = k >= from ? x[k]! - kx : 0;
    const dq = k >= from ? y[k]! - ky : 0;
    sx += du - dp;
    sy += dv - dq;
    sxx += du * du - dp * dp;
    syy += dv * dv - dq * dq;
    sxy += du * dv - dp * dq;
    const vx = sxx - sx * sx * invW;
    const vy = syy - sy * sy * invW;
    let r = (sxy - sx * sy * invW) / Math.sqrt(vx * vy);
    r = r > 1 ? 1 : r < -1 ? -1 : r;
    out[i] = vx > 0 && vy > 0 ? r : NaN;
  }
  return sxx + syy + sxy + kx + ky - (sxx + syy + sxy + kx + ky) === 0;
}

/**
 * Correlation for outputs [b, e): sums of the pairs shifted by the first valid pair of the window (so a constant
 * side has exactly zero variance and little cancellation), sliding inside the block, recomputed at its start.
 */
function corrBlock(
  x: Float64Array,
  y: Float64Array,
  w: number,
  minp: number,
  out: Float64Array,
  b: number,
  e: number,
): void {
  let c = 0;
  let kx = 0;
  let ky = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  const from = b - w + 1 > 0 ? b - w + 1 : 0;
  for (let i = from; i < e; i++) {
    const u = x[i]!;
    const v = y[i]!;
    // a pair counts only when both are finite (pandas masks both sides, then treats ±inf as NaN)
    if (u - u === 0 && v - v === 0) {
      if (c === 0) {
        kx = u;
        ky = v;
        sx = sy = sxx = syy = sxy = 0;
      }
      const du = u - kx;
      const dv = v - ky;
      sx += du;
      sy += dv;
      sxx += du * du;
      syy += dv * dv;
      sxy += du * dv;
      c++;
    }
    if (i < b) continue;
    const k = i - w;
    if (k >= from) {
      const p = x[k]!;
      const q = y[k]!;
      if (p - p === 0 && q - q === 0) {
        const dp = p - kx;
        const dq = q - ky;
        sx -= dp;
        sy -= dq;
        sxx -= dp * dp;
        syy -= dq * dq;
        sxy -= dp * dq;
        c--;
      }
    }
    let r = NaN;
    if (c >= minp && c > 1) {
      const vx = sxx - (sx * sx) / c;
      const vy = syy - (sy * sy) / c;
      if (vx > 0 && vy > 0) {
        r = (sxy - (sx * sy) / c) / Math.sqrt(vx * vy);
        // |r| ≤ 1 mathematically; rounding can overshoot by an ulp
        r = r > 1 ? 1 : r < -1 ? -1 : r;
      }
    }
    out[i] = r;
  }
}

/**
 * Rolling Pearson correlation of `x` and `y` (pandas `x.rolling(window, min_periods).corr(y)`): only pairs
 * where both are valid count. Windows ≤ 16 are computed directly per output; longer ones with shifted sliding
 * co-moment sums recomputed every 1024 outputs: O(n). A window where either
 * side has zero variance gives NaN (pandas 1.5 may return ±Infinity from rounding noise there).
 */
export function rollingCorr(
  x: Float64Array,
  y: Float64Array,
  options: RollingOptions,
): Float64Array {
  checkArray(x, 'x');
  checkArray(y, 'y');
  checkSameLength(x, y, 'x', 'y');
  const { window: w, minPeriods } = windowOptions(options);
  const out = outArray(options.out, x.length, x);
  if (out.buffer === y.buffer) outArray(out, y.length, y);
  const minp = Math.max(minPeriods, 1);
  const n = x.length;
  if (w <= DIRECT_CORR_WINDOW) {
    for (let b = 0; b < n; b++) corrBlock(x, y, w, minp, out, b, b + 1);
    return out;
  }
  const head = Math.min(n, w - 1);
  if (head > 0) corrBlock(x, y, w, minp, out, 0, head);
  for (let b = head; b < n; b += CORR_BLOCK) {
    const e = Math.min(n, b + CORR_BLOCK);
    if (!corrBlockFast(x, y, w, out, b, e)) corrBlock(x, y, w, minp, out, b, e);
  }
  return out;
}
