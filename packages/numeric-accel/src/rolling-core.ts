import { stage, unstage, useWasm, wasmKernels } from './wasm/backend.js';

// Fast O(n) rolling moments. The output range is cut into blocks; each block starts from a freshly computed
// window (so rounding drift never spans more than one block) and, when it holds no NaN or infinity, slides
// with plain adds. Four independent lanes (contiguous quarters of the range) run in lockstep so the add
// latency chain of one lane overlaps the others. A block whose sums come out non-finite is recomputed with
// the NaN-aware path, which counts valid values (pandas `min_periods` semantics).

/** Block length: rounding drift spans at most this many slides; re-initialising costs `window / BLOCK`. */
const BLOCK = 1024;

/** Output of the variance-family kernels: 2 variance, 3 standard deviation, 4 z-score. */
export type Moment = 2 | 3 | 4;
export const VAR: Moment = 2;
export const STD: Moment = 3;
export const ZSCORE: Moment = 4;

/** NaN-aware sum/mean for outputs [b, e). */
function sumBlockGeneral(
  x: Float64Array,
  w: number,
  minp: number,
  out: Float64Array,
  b: number,
  e: number,
  mean: boolean,
): void {
  let s = 0;
  let nobs = 0;
  const from = b - w + 1 > 0 ? b - w + 1 : 0;
  for (let j = from; j < b; j++) {
    const v = x[j]!;
    if (v === v) {
      s += v;
      nobs++;
    }
  }
  for (let i = b; i < e; i++) {
    const v = x[i]!;
    if (v === v) {
      s += v;
      nobs++;
    }
    const k = i - w;
    if (k >= from) {
      const u = x[k]!;
      if (u === u) {
        s -= u;
        nobs--;
      }
    }
    if (nobs === 0) s = 0;
    if (mean) out[i] = nobs >= minp && nobs > 0 ? s / nobs : NaN;
    else out[i] = nobs >= minp ? s : NaN;
  }
}

function windowSum(x: Float64Array, b: number, w: number): number {
  let s0 = 0;
  let s1 = 0;
  let j = b - w + 1;
  if ((w & 1) === 1) s0 = x[j++]!;
  for (; j <= b; j += 2) {
    s0 += x[j]!;
    s1 += x[j + 1]!;
  }
  return s0 + s1;
}

/** Rolling sum (`mean` false) or mean over all of x. */
export function rollingSumMeanJs(
  x: Float64Array,
  w: number,
  minp: number,
  out: Float64Array,
  mean: boolean,
): void {
  const n = x.length;
  const head = Math.min(n, w - 1);
  if (head > 0) sumBlockGeneral(x, w, minp, out, 0, head, mean);
  const lo = head;
  const total = n - lo;
  if (total <= 0) return;
  const mult = mean ? 1 / w : 1;
  if (mean && wasmRolling(x, w, out, lo, 1, 1 / w, 1)) {
    if (((n - lo) & 1) === 1) sumBlockGeneral(x, w, minp, out, lo, lo + 1, mean);
    return;
  }
  const q = Math.floor(total / 4);
  const r = total - 4 * q;
  // the first r outputs (and everything when the range is tiny) in one lane
  for (let b = lo; b < lo + r; b += BLOCK) {
    const e = Math.min(lo + r, b + BLOCK);
    let s = windowSum(x, b, w);
    out[b] = s * mult;
    for (let i = b + 1; i < e; i++) {
      s += x[i]! - x[i - w]!;
      out[i] = s * mult;
    }
    if (s - s !== 0) sumBlockGeneral(x, w, minp, out, b, e, mean);
  }
  const l0 = lo + r;
  const l1 = l0 + q;
  const l2 = l1 + q;
  const l3 = l2 + q;
  for (let off = 0; off < q; off += BLOCK) {
    const len = Math.min(BLOCK, q - off);
    const b0 = l0 + off;
    const b1 = l1 + off;
    const b2 = l2 + off;
    const b3 = l3 + off;
    let s0 = windowSum(x, b0, w);
    let s1 = windowSum(x, b1, w);
    let s2 = windowSum(x, b2, w);
    let s3 = windowSum(x, b3, w);
    out[b0] = s0 * mult;
    out[b1] = s1 * mult;
    out[b2] = s2 * mult;
    out[b3] = s3 * mult;
    for (let k = 1; k < len; k++) {
      const i0 = b0 + k;
      const i1 = b1 + k;
      const i2 = b2 + k;
      const i3 = b3 + k;
      s0 += x[i0]! - x[i0 - w]!;
      s1 += x[i1]! - x[i1 - w]!;
      s2 += x[i2]! - x[i2 - w]!;
      s3 += x[i3]! - x[i3 - w]!;
      out[i0] = s0 * mult;
      out[i1] = s1 * mult;
      out[i2] = s2 * mult;
      out[i3] = s3 * mult;
    }
    if (s0 - s0 !== 0) sumBlockGeneral(x, w, minp, out, b0, b0 + len, mean);
    if (s1 - s1 !== 0) sumBlockGeneral(x, w, minp, out, b1, b1 + len, mean);
    if (s2 - s2 !== 0) sumBlockGeneral(x, w, minp, out, b2, b2 + len, mean);
    if (s3 - s3 !== 0) sumBlockGeneral(x, w, minp, out, b3, b3 + len, mean);
  }
}

/**
 * NaN-aware variance family for outputs [b, e), sums shifted by the first valid value K of the window
 * (exact zero for a constant window, little cancellation).
 */
function varBlockGeneral(
  x: Float64Array,
  w: number,
  minpIn: number,
  ddof: number,
  out: Float64Array,
  b: number,
  e: number,
  mode: Moment,
): void {
  const minp = minpIn > 1 ? minpIn : 1;
  let K = NaN;
  let s1 = 0;
  let s2 = 0;
  let nobs = 0;
  const from = b - w + 1 > 0 ? b - w + 1 : 0;
  for (let j = from; j < b; j++) {
    const v = x[j]!;
    if (v === v) {
      if (nobs === 0) K = v;
      const d = v - K;
      s1 += d;
      s2 += d * d;
      nobs++;
    }
  }
  for (let i = b; i < e; i++) {
    const v = x[i]!;
    if (v === v) {
      if (nobs === 0) {
        K = v;
        s1 = 0;
        s2 = 0;
      }
      const d = v - K;
      s1 += d;
      s2 += d * d;
      nobs++;
    }
    const k = i - w;
    if (k >= from) {
      const u = x[k]!;
      if (u === u) {
        const d = u - K;
        s1 -= d;
        s2 -= d * d;
        nobs--;
      }
    }
    let r = NaN;
    if (nobs >= minp && nobs > ddof) {
      if (nobs === 1) r = 0;
      else {
        r = (s2 - (s1 * s1) / nobs) / (nobs - ddof);
        if (r < 0) r = 0;
      }
    }
    if (mode === VAR) out[i] = r;
    else if (mode === STD) out[i] = Math.sqrt(r);
    else out[i] = (v - (K + s1 / nobs)) / Math.sqrt(r);
  }
}

/** Rolling variance, std or z-score over all of x. */
export function rollingVarJs(
  x: Float64Array,
  w: number,
  minp: number,
  ddof: number,
  out: Float64Array,
  mode: Moment,
): void {
  const n = x.length;
  const head = Math.min(n, w - 1);
  if (head > 0) varBlockGeneral(x, w, minp, ddof, out, 0, head, mode);
  if (n <= head) return;
  if (w <= ddof || w === 1) {
    // too few observations in every window, or single-value windows (exactly 0 in pandas)
    varBlockGeneral(x, w, minp, ddof, out, head, n, mode);
    return;
  }
  const invW = 1 / w;
  const invDen = 1 / (w - ddof);
  const total = n - head;
  const half = total >> 1;
  const r = total - 2 * half;
  if (r > 0) varBlockGeneral(x, w, minp, ddof, out, head, head + r, mode);
  if (mode !== ZSCORE && wasmRolling(x, w, out, head, mode as 2 | 3, invW, invDen)) return;
  const l0 = head + r;
  const l1 = l0 + half;
  for (let off = 0; off < half; off += BLOCK) {
    const len = Math.min(BLOCK, half - off);
    const b0 = l0 + off;
    const b1 = l1 + off;
    const k0 = x[b0 - w + 1]!;
    const k1 = x[b1 - w + 1]!;
    let p0 = 0;
    let q0 = 0;
    let p1 = 0;
    let q1 = 0;
    for (let j = 0; j < w; j++) {
      const d0 = x[b0 - j]! - k0;
      const d1 = x[b1 - j]! - k1;
      p0 += d0;
      q0 += d0 * d0;
      p1 += d1;
      q1 += d1 * d1;
    }
    for (let k = 0; k < len; k++) {
      const i0 = b0 + k;
      const i1 = b1 + k;
      if (k > 0) {
        const a0 = x[i0]! - k0;
        const c0 = x[i0 - w]! - k0;
        const a1 = x[i1]! - k1;
        const c1 = x[i1 - w]! - k1;
        p0 += a0 - c0;
        q0 += a0 * a0 - c0 * c0;
        p1 += a1 - c1;
        q1 += a1 * a1 - c1 * c1;
      }
      let v0 = (q0 - p0 * p0 * invW) * invDen;
      let v1 = (q1 - p1 * p1 * invW) * invDen;
      if (v0 < 0) v0 = 0;
      if (v1 < 0) v1 = 0;
      if (mode === STD) {
        out[i0] = Math.sqrt(v0);
        out[i1] = Math.sqrt(v1);
      } else if (mode === VAR) {
        out[i0] = v0;
        out[i1] = v1;
      } else {
        out[i0] = (x[i0]! - (k0 + p0 * invW)) / Math.sqrt(v0);
        out[i1] = (x[i1]! - (k1 + p1 * invW)) / Math.sqrt(v1);
      }
    }
    if (q0 - q0 !== 0 || k0 !== k0) varBlockGeneral(x, w, minp, ddof, out, b0, b0 + len, mode);
    if (q1 - q1 !== 0 || k1 !== k1) varBlockGeneral(x, w, minp, ddof, out, b1, b1 + len, mode);
  }
}

/**
 * WASM version of the full-window part [lo + r, n) (r = (n − lo) mod 2) of mean (mode 1), variance (2) or
 * std (3): two lanes in one f64x2. Returns false when WASM is not chosen or met a NaN (the JS path then
 * rewrites every output).
 */
function wasmRolling(
  x: Float64Array,
  w: number,
  out: Float64Array,
  lo: number,
  mode: 1 | 2 | 3,
  invW: number,
  invDen: number,
): boolean {
  const total = x.length - lo;
  const h = total >> 1;
  if (h === 0 || !useWasm(mode === 1 ? 'rollingMean' : 'rollingVar', x, out)) return false;
  const k = wasmKernels()!;
  const { xp, op, copyOut } = stage(k, x, out);
  const l0 = lo + (total & 1);
  if (k.rolling_moments(xp, op, l0, h, w, mode, invW, invDen, BLOCK) === 0) return false;
  if (copyOut) unstage(k, op, out, l0, x.length);
  return true;
}
