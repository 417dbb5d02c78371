import {
  isWasmResident,
  scratchArea,
  stage,
  unstage,
  useWasm,
  wantWasm,
  wasmKernels,
} from './wasm/backend.js';

// Fast O(n) rolling moments. The output range is cut into blocks; each block starts from a freshly computed
// window (so rounding drift never spans more than one block) and, when it holds no NaN or infinity, slides
// with plain adds. Four independent lanes (contiguous quarters of the range) run in lockstep so the add
// latency chain of one lane overlaps the others. A block whose sums come out non-finite is recomputed with
// the NaN-aware path, which counts valid values (pandas `min_periods` semantics). Like pandas, whose rolling
// functions replace ±inf with NaN before aggregating, that path treats an infinite value as missing; `v - v === 0`
// is the test (true only for a finite v).

/** Block length: rounding drift spans at most this many slides; re-initialising costs `window / BLOCK`. */
const BLOCK = 1024;

/** Output of the variance-family kernels: 2 variance, 3 standard deviation, 4 z-score. */
export type Moment = 2 | 3 | 4;
export const VAR: Moment = 2;
export const STD: Moment = 3;
export const ZSCORE: Moment = 4;

/** NaN-aware sum/mean for outputs [b, e); NaN and ±inf are missing values. */
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
    if (v - v === 0) {
      s += v;
      nobs++;
    }
  }
  for (let i = b; i < e; i++) {
    const v = x[i]!;
    if (v - v === 0) {
      s += v;
      nobs++;
    }
    const k = i - w;
    if (k >= from) {
      const u = x[k]!;
      if (u - u === 0) {
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
  if (mean && wasmRolling(x, w, minp, 0, out, lo, 1, 1 / w, 1)) {
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
 * (little cancellation); NaN and ±inf are missing values. Like pandas, a window whose valid values are all equal gives exactly 0 (it counts
 * the run of equal consecutive valid values, whatever rounding left in the sums).
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
  // run of equal consecutive valid values ending at the last valid one (pandas' num_consecutive_same_value)
  let same = 0;
  let last = NaN;
  const from = b - w + 1 > 0 ? b - w + 1 : 0;
  for (let j = from; j < b; j++) {
    const v = x[j]!;
    if (v - v === 0) {
      if (nobs === 0) K = v;
      const d = v - K;
      s1 += d;
      s2 += d * d;
      nobs++;
      same = v === last ? same + 1 : 1;
      last = v;
    }
  }
  for (let i = b; i < e; i++) {
    const v = x[i]!;
    if (v - v === 0) {
      if (nobs === 0) {
        K = v;
        s1 = 0;
        s2 = 0;
      }
      const d = v - K;
      s1 += d;
      s2 += d * d;
      nobs++;
      same = v === last ? same + 1 : 1;
      last = v;
    }
    const k = i - w;
    if (k >= from) {
      const u = x[k]!;
      if (u - u === 0) {
        const d = u - K;
        s1 -= d;
        s2 -= d * d;
        nobs--;
      }
    }
    let r = NaN;
    const flat = nobs === 1 || same >= nobs;
    if (nobs >= minp && nobs > ddof) {
      if (flat) r = 0;
      else {
        r = (s2 - (s1 * s1) / nobs) / (nobs - ddof);
        if (r < 0) r = 0;
      }
    }
    if (mode === VAR) out[i] = r;
    else if (mode === STD) out[i] = Math.sqrt(r);
    // pandas' (x − mean) / std keeps x as it is: an infinite x (missing inside the window) gives ±inf, and so
    // does its division by a zero std; a finite x of a flat window gives 0 / 0
    else if (flat && r === 0) out[i] = v - v === 0 ? NaN : v;
    else out[i] = (v - (K + s1 / nobs)) / Math.sqrt(r);
  }
}

/**
 * Relative noise floor of the WASM kernel's sliding variance sums: a window whose variance comes out at most
 * `NOISE · w · max Q / (w − ddof)` (Q the block's shifted sums of squares, up to BLOCK slides) may really hold
 * equal values, so the kernel stops there and the block is redone on the NaN-aware JS path, which reports such a
 * window as exactly 0 like pandas. (The JS fast path counts equal neighbours instead; that is cheaper in JS,
 * the bound is cheaper in SIMD.) The bound is generous (64 ulps per slide); real data hardly ever gets near it.
 */
const NOISE = 64 * BLOCK * Number.EPSILON;

/**
 * Two lanes of the NaN-free fast path: outputs [b0, b0 + len) and [b1, b1 + len), each from a freshly summed
 * window shifted by its first value; per output the shifted sums slide by (a − c) and (a − c)(a + c) (one
 * product instead of two squares). A count of equal neighbours in a row makes a window of equal values exactly 0
 * (NaN for the z-score), as pandas does, whatever rounding the sliding sums carry. Returns a bit mask of the lanes
 * that met a NaN or an infinity (to be redone on the NaN-aware path).
 */
function varLanes(
  x: Float64Array,
  w: number,
  out: Float64Array,
  b0: number,
  b1: number,
  len: number,
  invW: number,
  invDen: number,
  mode: Moment,
): number {
  const k0 = x[b0 - w + 1]!;
  const k1 = x[b1 - w + 1]!;
  const c2 = invW * invDen;
  let p0 = 0;
  let q0 = 0;
  let p1 = 0;
  let q1 = 0;
  // r0/r1: equal neighbours in a row ending at the current output; the window is constant when ≥ w − 1
  let r0 = -1;
  let r1 = -1;
  let prev0 = k0;
  let prev1 = k1;
  for (let j = b0 - w + 1, m = b1 - w + 1; j <= b0; j++, m++) {
    const u0 = x[j]!;
    const u1 = x[m]!;
    const d0 = u0 - k0;
    const d1 = u1 - k1;
    p0 += d0;
    q0 += d0 * d0;
    p1 += d1;
    q1 += d1 * d1;
    // (the first comparison is x[b − w + 1] with itself, hence the start at −1)
    r0 = u0 === prev0 ? r0 + 1 : 0;
    r1 = u1 === prev1 ? r1 + 1 : 0;
    prev0 = u0;
    prev1 = u1;
  }
  const flatAt = w - 1;
  for (let k = 0; k < len; k++) {
    const i0 = b0 + k;
    const i1 = b1 + k;
    const u0 = x[i0]!;
    const u1 = x[i1]!;
    if (k > 0) {
      const a0 = u0 - k0;
      const c0 = x[i0 - w]! - k0;
      const a1 = u1 - k1;
      const c1 = x[i1 - w]! - k1;
      const e0 = a0 - c0;
      const e1 = a1 - c1;
      p0 += e0;
      q0 += e0 * (a0 + c0);
      p1 += e1;
      q1 += e1 * (a1 + c1);
      r0 = u0 === prev0 ? r0 + 1 : 0;
      r1 = u1 === prev1 ? r1 + 1 : 0;
      prev0 = u0;
      prev1 = u1;
    }
    let v0 = q0 * invDen - p0 * p0 * c2;
    let v1 = q1 * invDen - p1 * p1 * c2;
    if (v0 < 0 || r0 >= flatAt) v0 = 0;
    if (v1 < 0 || r1 >= flatAt) v1 = 0;
    if (mode === STD) {
      out[i0] = Math.sqrt(v0);
      out[i1] = Math.sqrt(v1);
    } else if (mode === VAR) {
      out[i0] = v0;
      out[i1] = v1;
    } else {
      out[i0] = r0 >= flatAt ? NaN : (u0 - (k0 + p0 * invW)) / Math.sqrt(v0);
      out[i1] = r1 >= flatAt ? NaN : (u1 - (k1 + p1 * invW)) / Math.sqrt(v1);
    }
  }
  // q − q (and k − k) is 0 only when nothing was NaN or infinite
  return (q0 + k0 - (q0 + k0) !== 0 ? 1 : 0) | (q1 + k1 - (q1 + k1) !== 0 ? 2 : 0);
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
  if (mode !== ZSCORE && wasmRolling(x, w, minp, ddof, out, head, mode as 2 | 3, invW, invDen))
    return;
  const l0 = head + r;
  const l1 = l0 + half;
  for (let off = 0; off < half; off += BLOCK) {
    const len = Math.min(BLOCK, half - off);
    const b0 = l0 + off;
    const b1 = l1 + off;
    const redo = varLanes(x, w, out, b0, b1, len, invW, invDen, mode);
    if ((redo & 1) !== 0) varBlockGeneral(x, w, minp, ddof, out, b0, b0 + len, mode);
    if ((redo & 2) !== 0) varBlockGeneral(x, w, minp, ddof, out, b1, b1 + len, mode);
  }
}

/**
 * WASM version of the full-window part [lo + r, n) (r = (n − lo) mod 2) of mean (mode 1), variance (2) or
 * std (3): neighbouring outputs share one f64x2. Blocks the kernel stops at (a NaN or an infinity, or a variance
 * within rounding noise of 0) are redone here on the NaN-aware JS path, and the kernel resumes after them.
 * Returns false when WASM is not chosen.
 */
function wasmRolling(
  x: Float64Array,
  w: number,
  minp: number,
  ddof: number,
  out: Float64Array,
  lo: number,
  mode: 1 | 2 | 3,
  invW: number,
  invDen: number,
): boolean {
  const total = x.length - lo;
  const h = total >> 1;
  if (h === 0) return false;
  const l0 = lo + (total & 1);
  const kernel = mode === 1 ? 'rollingMean' : 'rollingVar';
  if (!isWasmResident(x) && !isWasmResident(out)) {
    return (
      wantWasm(kernel, x, out) && streamedRolling(x, w, minp, ddof, out, l0, h, mode, invW, invDen)
    );
  }
  if (!useWasm(kernel, x, out)) return false;
  const k = wasmKernels()!;
  const { xp, op, copyOut } = stage(k, x, out);
  const copied = copyOut
    ? (a: number, b: number) => unstage(k, op, out, l0 + 2 * a, l0 + 2 * b)
    : undefined;
  runRollingKernel(k, xp, op, x, w, minp, ddof, out, l0, 0, h, mode, invW, invDen, copied);
  return true;
}

/**
 * Runs the rolling kernel over output pairs [start, end) (pair p: outputs l0 + 2p and l0 + 2p + 1) with the
 * input and output at wasm addresses `xp` and `op`. After each stretch the kernel ran, `copied(from, to)` (pairs)
 * moves its outputs to `out` where they are not there already; each block the kernel stopped at is redone on the
 * NaN-aware JS path, straight into `out`.
 */
function runRollingKernel(
  k: NonNullable<ReturnType<typeof wasmKernels>>,
  xp: number,
  op: number,
  x: Float64Array,
  w: number,
  minp: number,
  ddof: number,
  out: Float64Array,
  l0: number,
  start: number,
  end: number,
  mode: 1 | 2 | 3,
  invW: number,
  invDen: number,
  copied: ((from: number, to: number) => void) | undefined,
): void {
  const pairs = BLOCK >> 1;
  const tiny = NOISE * w * invDen;
  while (start < end) {
    const done = k.rolling_moments(xp, op, l0, end, start, w, mode, invW, invDen, pairs, tiny);
    if (copied !== undefined && done > start) copied(start, done);
    if (done >= end) return;
    const stop = Math.min(end, done + pairs);
    if (mode === 1) sumBlockGeneral(x, w, minp, out, l0 + 2 * done, l0 + 2 * stop, true);
    else varBlockGeneral(x, w, minp, ddof, out, l0 + 2 * done, l0 + 2 * stop, mode);
    start = stop;
  }
}

/** Output pairs per chunk of {@link streamedRolling}: 4096 outputs (32 KiB), a multiple of the kernel's block. */
const CHUNK_PAIRS = 4 * (BLOCK >> 1);

/**
 * {@link wasmRolling} for ordinary arrays, over its output pairs [0, h) from l0: instead of copying all of `x` into wasm memory and all of the result
 * out (two full passes over memory, which cost about what the SIMD loop saves), the range is streamed through a
 * small scratch area a chunk at a time: the chunk's inputs (with the w − 1 values before them) are copied in,
 * the kernel runs on them while they sit in cache, and the chunk's outputs are copied out. The kernel addresses
 * arrays by absolute index from a base pointer, so the bases passed are the scratch offsets minus the chunk's
 * first index (wrapping i32 arithmetic lands on the scratch). Chunks start on the kernel's block boundaries, so
 * the results are bit for bit those of the whole-array call. Returns false when the scratch does not fit.
 */
function streamedRolling(
  x: Float64Array,
  w: number,
  minp: number,
  ddof: number,
  out: Float64Array,
  l0: number,
  h: number,
  mode: 1 | 2 | 3,
  invW: number,
  invDen: number,
): boolean {
  // inputs of one chunk: its outputs, the w − 1 values before them, and the one after (read, never used)
  const xValues = 2 * CHUNK_PAIRS + w + 1;
  const xArea = xValues + (xValues & 1); // keeps the output area 16-byte aligned
  const area = scratchArea(xArea + 2 * CHUNK_PAIRS);
  if (area === undefined) return false;
  const { k, at } = area;
  const osAt = at + xArea * 8;
  const xs = new Float64Array(k.memory.buffer, at, xValues);
  const os = new Float64Array(k.memory.buffer, osAt, 2 * CHUNK_PAIRS);
  for (let cs = 0; cs < h; cs += CHUNK_PAIRS) {
    const ce = Math.min(h, cs + CHUNK_PAIRS);
    const first = l0 + 2 * cs;
    const from = first - w + 1;
    xs.set(x.subarray(from, Math.min(x.length, l0 + 2 * ce + 1)));
    // `| 0`: the kernel takes i32 addresses; scratch − 8·index wraps to the same 32-bit pattern it adds back
    runRollingKernel(
      k,
      (at - from * 8) | 0,
      (osAt - first * 8) | 0,
      x,
      w,
      minp,
      ddof,
      out,
      l0,
      cs,
      ce,
      mode,
      invW,
      invDen,
      (a, b) => out.set(os.subarray(2 * (a - cs), 2 * (b - cs)), l0 + 2 * a),
    );
  }
  return true;
}
