// Fused vectorised-backtest primitives: position × returns → equity curve and its drawdown statistics in one
// pass, and the SMA-crossover strategy with its two rolling means fused into the same pass. Each equals a chain
// of the package's unfused kernels (see the README and src/backtest.test.ts); the fused versions read the input
// once and allocate nothing besides `out` (and the result object).
import { AccelRangeError } from './errors.js';
import { rollingSumMeanJs } from './rolling-core.js';
import { isWasmResident, stage, unstage, useWasm, wasmKernels } from './wasm/backend.js';
import {
  boolOption,
  checkArray,
  checkSameLength,
  intOption,
  numOption,
  outArray,
  outArrayInPlace,
} from './validate.js';

/** Options shared by {@link equityCurve} and {@link smaCrossover}. */
export interface EquityCurveOptions {
  /**
   * Cost per unit of position change, as a fraction of equity (default 0; 0.0005 = 5 bp per side). Charged on
   * the bar whose close changes the position.
   */
  readonly cost?: number;
  /** Starting equity (default 1), a finite number > 0. */
  readonly initial?: number;
  /** Output array for the equity curve, of the input's length. Must not overlap `close`. */
  readonly out?: Float64Array;
}

/** Options of {@link smaCrossover}. */
export interface SmaCrossoverOptions extends EquityCurveOptions {
  /** Fast moving-average window, an integer in [1, slow). */
  readonly fast: number;
  /** Slow moving-average window, an integer > fast. */
  readonly slow: number;
  /** Go short (−1) while the fast mean is below the slow one, instead of flat (default false). */
  readonly allowShort?: boolean;
  /** Also write the position series (+1 / 0 / −1 decided at each close) here; same length as `close`. */
  readonly positionOut?: Float64Array;
}

/** Result of {@link equityCurve} and {@link smaCrossover}. */
export interface EquityCurveResult {
  /** The equity curve (`options.out` when given): equity at each close. */
  readonly equity: Float64Array;
  /** Equity at the last close (`initial` for an empty series). */
  readonly finalEquity: number;
  /** `finalEquity / initial − 1`. */
  readonly totalReturn: number;
  /** Deepest drawdown of the equity curve, ≤ 0 (`maxDrawdown(equity).value`); NaN for an empty series. */
  readonly maxDrawdown: number;
  /** Index of the peak the deepest drawdown started from (-1 when empty). */
  readonly peakIndex: number;
  /** Index of the trough (first index reaching `maxDrawdown`; -1 when empty). */
  readonly troughIndex: number;
  /** First index after the trough back at or above the peak, or -1. */
  readonly recoveryIndex: number;
  /** Σ |position[t] − position[t − 1]| (position[−1] = 0): the traded volume in units of equity. */
  readonly turnover: number;
}

/**
 * A bound above which an equity value cannot set a deeper drawdown than `best` from `peak`: e / peak − 1 < best
 * needs e < peak · (1 + best), widened by 8 ulps of the terms for the rounding of the division (Infinity, i.e.
 * always test, while there is no positive peak).
 */
function limit(peak: number, best: number): number {
  if (!(peak > 0) || best === Infinity) return Infinity;
  const a = peak * (1 + best);
  return a + 8 * Number.EPSILON * (Math.abs(a) + peak);
}

/** Running state of the equity pass; one object per call. */
interface Curve {
  g: number;
  held: number;
  turnover: number;
  peak: number;
  peakAt: number;
  best: number;
  bestPeakAt: number;
  troughAt: number;
}

function newCurve(): Curve {
  return {
    g: 1,
    held: 0,
    turnover: 0,
    peak: -Infinity,
    peakAt: -1,
    best: Infinity,
    bestPeakAt: -1,
    troughAt: -1,
  };
}

function finish(out: Float64Array, c: Curve, initial: number): EquityCurveResult {
  const n = out.length;
  const finalEquity = n > 0 ? out[n - 1]! : initial;
  let recoveryIndex = -1;
  if (c.troughAt >= 0 && c.best < 0) {
    const peakValue = out[c.bestPeakAt]!;
    for (let i = c.troughAt + 1; i < n; i++) {
      if (out[i]! >= peakValue) {
        recoveryIndex = i;
        break;
      }
    }
  }
  return {
    equity: out,
    finalEquity,
    totalReturn: finalEquity / initial - 1,
    maxDrawdown: c.troughAt >= 0 ? c.best : NaN,
    peakIndex: c.troughAt >= 0 ? c.bestPeakAt : -1,
    troughIndex: c.troughAt,
    recoveryIndex,
    turnover: c.turnover,
  };
}

/**
 * Equity over bars [from, to) given positions `pos` (NaN = 0; ±Infinity throws `AccelRangeError` after the bars
 * before it were written): the pandas chain
 * `ret = close.replace([inf, -inf], nan).pct_change().fillna(0)`,
 * `strat = pos.shift(1).fillna(0) * ret − cost * |pos.diff()|`, `equity = initial * (1 + strat).cumprod()`,
 * with `maxDrawdown` of it tracked on the way. `pos` may be `out` itself (position t is read before equity t is
 * written).
 */
function curveSpan(
  close: Float64Array,
  pos: Float64Array,
  out: Float64Array,
  from: number,
  to: number,
  cost: number,
  initial: number,
  c: Curve,
): void {
  let { g, held, turnover, peak, peakAt, best, bestPeakAt, troughAt } = c;
  let lim = limit(peak, best);
  let prev = from > 0 ? close[from - 1]! : NaN;
  let bad = -1;
  for (let t = from; t < to; t++) {
    let p = pos[t]!;
    if (p !== p) p = 0;
    else if (p - p !== 0) {
      // ±Infinity: cost · |inf| and inf · 0 would make every later equity value ±inf or NaN
      bad = t;
      break;
    }
    const x = close[t]!;
    let r = x / prev - 1;
    // a missing close (NaN, or ±inf, which the package treats as missing like pandas' rolling/ewm) gives a zero
    // return on its bar and the next; an infinite return would make g infinite and then NaN (inf · 0) for good
    if (r !== r || x - x !== 0 || prev - prev !== 0) r = 0;
    prev = x;
    const turn = Math.abs(p - held);
    turnover += turn;
    g *= 1 + (held * r - cost * turn);
    held = p;
    const e = initial * g;
    out[t] = e;
    // maxDrawdown's arithmetic, so the statistics equal maxDrawdown(equity); the division runs only when a
    // deeper drawdown is possible (e below the loose bound `lim`)
    if (e > peak) {
      peak = e;
      peakAt = t;
      if (best === Infinity) {
        best = 0;
        troughAt = t;
        bestPeakAt = t;
      }
      lim = limit(peak, best);
    } else if (e < peak && e < lim) {
      const dd = e / peak - 1;
      if (dd < best) {
        best = dd;
        troughAt = t;
        bestPeakAt = peakAt;
        lim = limit(peak, best);
      }
    }
  }
  // thrown after the loop, so the loop itself stays free of the error's construction
  if (bad >= 0) throw infinitePosition(pos, bad);
  c.g = g;
  c.held = held;
  c.turnover = turnover;
  c.peak = peak;
  c.peakAt = peakAt;
  c.best = best;
  c.bestPeakAt = bestPeakAt;
  c.troughAt = troughAt;
}

function curveOptions(options: EquityCurveOptions | undefined): { cost: number; initial: number } {
  const cost = numOption(
    options?.cost,
    'options.cost',
    0,
    (v) => Number.isFinite(v) && v >= 0,
    'a finite number ≥ 0',
  );
  const initial = numOption(
    options?.initial,
    'options.initial',
    1,
    (v) => Number.isFinite(v) && v > 0,
    'a finite number > 0',
  );
  return { cost, initial };
}

/** The error for an infinite position: names `position`, the index and the value. */
function infinitePosition(position: Float64Array, t: number): AccelRangeError {
  return new AccelRangeError(
    'position',
    position[t],
    `finite or NaN (flat) at every index, but position[${t}] is not`,
  );
}

/**
 * Throws unless every position is finite or NaN (flat): the pass {@link equityCurve} runs before writing into a
 * caller's `out`, so a rejected call leaves that array (which may be `position` itself) untouched.
 */
function checkPositions(position: Float64Array): void {
  for (let t = 0; t < position.length; t++) {
    const p = position[t]!;
    // p − p is 0 for every finite p, NaN for NaN and ±Infinity; NaN (p !== p) is a flat position
    if (p - p !== 0 && p === p) throw infinitePosition(position, t);
  }
}

/**
 * Fused "position × returns → equity curve + drawdown" for a vectorised backtest: `position[t]` is the
 * exposure (units of equity: 1 long, −1 short, 0.5 half, NaN flat) chosen at close t and held until close t + 1.
 * Equals the pandas chain
 * `initial * (1 + position.shift(1).fillna(0) * close.pct_change().fillna(0) − cost * position.fillna(0).diff().abs()).cumprod()`
 * (with the first `diff` being `|position[0]|`), plus `maxDrawdown` of that curve, in one O(n) pass.
 * A missing close (NaN, +Infinity or −Infinity: infinities count as missing, as in the rolling kernels) gives a
 * zero return on its bar and the next, so position and equity carry over it; the pandas chain above equals this
 * after `close.replace([inf, -inf], nan)`. `out` may be `position` itself.
 * An infinite position (+Infinity or −Infinity) throws `AccelRangeError` naming `position`, the index and the
 * value. When `out` is `position` itself, the positions are checked before anything is written, so they are left
 * untouched (one extra read of `position`); with a separate `out`, the bars before the infinite position have
 * been written to it when the error is thrown.
 */
export function equityCurve(
  close: Float64Array,
  position: Float64Array,
  options?: EquityCurveOptions,
): EquityCurveResult {
  checkArray(close, 'close');
  checkArray(position, 'position');
  checkSameLength(close, position, 'close', 'position');
  const { cost, initial } = curveOptions(options);
  const out = outArray(options?.out, close.length, close);
  // out may be position itself (position t is read before equity t is written), not a shifted view of it
  outArrayInPlace(out, close.length, position, 'position');
  // When `out` is `position` itself, a rejected call must not have overwritten the caller's positions, so they
  // are checked in a pass of their own first. Otherwise curveSpan's in-loop check suffices: a fresh `out` is
  // dropped on the throw, and a caller's separate `out` is an output buffer (the bars before the bad one are in it).
  if (out === position) checkPositions(position);
  const c = newCurve();
  curveSpan(close, position, out, 0, close.length, cost, initial, c);
  return finish(out, c, initial);
}

const SIGNS = new Float64Array(3);

/** Block length of the fused crossover's sliding sums: each block restarts from freshly summed windows. */
const BLOCK = 1024;

/**
 * NaN-free fused SMA crossover over bars [from, to) (from ≥ slow − 1): sliding sums of both windows shifted by
 * K (the first value of the block's slow window; equal means compare exactly equal, e.g. on a constant series),
 * re-summed every BLOCK bars. Returns false when a NaN or infinity shows up (the caller redoes everything on
 * the general path).
 */
function crossSpan(
  close: Float64Array,
  out: Float64Array,
  posOut: Float64Array | undefined,
  fast: number,
  slow: number,
  short: number,
  cost: number,
  initial: number,
  c: Curve,
  from: number,
  to: number,
): boolean {
  const invF = 1 / fast;
  const invS = 1 / slow;
  // the three positions read back from a Float64Array, so the optimising compiler sees doubles only (integer
  // literals here would be speculated as small integers and deoptimise once a double arrives)
  SIGNS[0] = 1;
  SIGNS[1] = short;
  SIGNS[2] = 0;
  const up = SIGNS[0];
  const down = SIGNS[1];
  const flat = SIGNS[2];
  let { g, held, turnover, peak, peakAt, best, bestPeakAt, troughAt } = c;
  let lim = limit(peak, best);
  for (let b = from; b < to; b += BLOCK) {
    const e = Math.min(to, b + BLOCK);
    const K = close[b - slow + 1]!;
    let pS = 0;
    let pF = 0;
    for (let j = b - slow + 1; j <= b - fast; j++) pS += close[j]! - K;
    for (let j = b - fast + 1; j <= b; j++) pF += close[j]! - K;
    pS += pF;
    for (let t = b; t < e; t++) {
      const x = close[t]!;
      if (t > b) {
        const a = x - K;
        pF += a - (close[t - fast]! - K);
        pS += a - (close[t - slow]! - K);
      }
      const d = pF * invF - pS * invS;
      const p = d > 0 ? up : d < 0 ? down : flat;
      if (posOut !== undefined) posOut[t] = p;
      const r = x / close[t - 1]! - 1;
      const turn = Math.abs(p - held);
      turnover += turn;
      g *= 1 + (held * r - cost * turn);
      held = p;
      const eq = initial * g;
      out[t] = eq;
      if (eq > peak) {
        peak = eq;
        peakAt = t;
        if (best === Infinity) {
          best = 0;
          troughAt = t;
          bestPeakAt = t;
        }
        lim = limit(peak, best);
      } else if (eq < peak && eq < lim) {
        const dd = eq / peak - 1;
        if (dd < best) {
          best = dd;
          troughAt = t;
          bestPeakAt = peakAt;
          lim = limit(peak, best);
        }
      }
    }
    if (pS + pF + K - (pS + pF + K) !== 0 || g - g !== 0) return false;
  }
  c.g = g;
  c.held = held;
  c.turnover = turnover;
  c.peak = peak;
  c.peakAt = peakAt;
  c.best = best;
  c.bestPeakAt = bestPeakAt;
  c.troughAt = troughAt;
  return true;
}

/**
 * SMA-crossover backtest fused into one pass: the position at close t is +1 while
 * `rollingMean(close, fast) > rollingMean(close, slow)`, −1 (with `allowShort`) or 0 while below, 0 when equal
 * or while either mean is NaN (the first `slow − 1` bars, windows with a NaN or an infinite close, which counts
 * as missing); then the equity curve and its drawdown exactly as {@link equityCurve} computes them from that
 * position. O(n), no allocation besides `out` on finite input (input with NaN or ±inf takes an unfused path with
 * one scratch array).
 */
export function smaCrossover(close: Float64Array, options: SmaCrossoverOptions): EquityCurveResult {
  checkArray(close, 'close');
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new AccelRangeError('options', options, 'an object with integer fast < slow windows');
  }
  const slow = intOption(options.slow, 'options.slow', NaN, 2);
  if (Number.isNaN(slow)) throw new AccelRangeError('options.slow', undefined, 'an integer ≥ 2');
  const fast = intOption(options.fast, 'options.fast', NaN, 1, slow - 1);
  if (Number.isNaN(fast)) {
    throw new AccelRangeError('options.fast', undefined, `an integer in [1, ${slow - 1}]`);
  }
  const short = boolOption(options.allowShort, 'options.allowShort', false) ? -1 : 0;
  const { cost, initial } = curveOptions(options);
  const n = close.length;
  const out = outArray(options.out, n, close);
  const posOut = options.positionOut;
  if (posOut !== undefined) checkPositionOut(posOut, n, close, out);
  const c = newCurve();
  const head = Math.min(n, slow - 1);
  // bars before the slow mean exists: flat, equity stays `initial`
  for (let t = 0; t < head; t++) if (posOut !== undefined) posOut[t] = 0;
  curveZeros(out, head, initial, c);
  const viaWasm = crossWasm(close, out, posOut, fast, slow, short, cost, initial, c, head);
  if (viaWasm === 1) return finish(out, c, initial);
  if (
    viaWasm === -1 &&
    crossSpan(close, out, posOut, fast, slow, short, cost, initial, c, head, n)
  ) {
    return finish(out, c, initial);
  }
  // NaN or infinity in the input: the unfused chain (rolling means with pandas NaN rules), same arithmetic
  const slowMean = new Float64Array(n);
  rollingSumMeanJs(close, fast, fast, out, true);
  rollingSumMeanJs(close, slow, slow, slowMean, true);
  const pos = posOut ?? out;
  for (let t = 0; t < n; t++) {
    const d = out[t]! - slowMean[t]!;
    pos[t] = d > 0 ? 1 : d < 0 ? short : 0;
  }
  const c2 = newCurve();
  curveSpan(close, pos, out, 0, n, cost, initial, c2);
  return finish(out, c2, initial);
}

function checkPositionOut(
  posOut: unknown,
  n: number,
  close: Float64Array,
  out: Float64Array,
): asserts posOut is Float64Array {
  const name = 'options.positionOut';
  if (!(posOut instanceof Float64Array)) throw new AccelRangeError(name, posOut, 'a Float64Array');
  if (posOut.length !== n) {
    throw new AccelRangeError(name, posOut, `a Float64Array of length ${n}`);
  }
  for (const other of [close, out]) {
    if (
      posOut.buffer === other.buffer &&
      posOut.byteOffset < other.byteOffset + other.byteLength &&
      other.byteOffset < posOut.byteOffset + posOut.byteLength
    ) {
      throw new AccelRangeError(name, posOut, 'a Float64Array overlapping neither close nor out');
    }
  }
}

/** The flat warm-up bars [0, head) of the crossover: zero position, equity `initial`. */
function curveZeros(out: Float64Array, head: number, initial: number, c: Curve): void {
  for (let t = 0; t < head; t++) out[t] = initial;
  if (head > 0) {
    c.peak = initial;
    c.peakAt = 0;
    c.best = 0;
    c.bestPeakAt = 0;
    c.troughAt = 0;
  }
}

/**
 * The WASM twin of {@link crossSpan} over bars [head, n) (same arithmetic, identical results). Returns -1 when
 * WASM is not chosen (or `positionOut` is an ordinary array: only resident position outputs are supported), 1 when
 * it ran, 0 when it met a NaN or an infinity.
 */
function crossWasm(
  close: Float64Array,
  out: Float64Array,
  posOut: Float64Array | undefined,
  fast: number,
  slow: number,
  short: number,
  cost: number,
  initial: number,
  c: Curve,
  head: number,
): number {
  const n = close.length;
  if (head >= n || !useWasm('smaCrossover', close, out)) return -1;
  if (posOut !== undefined && !isWasmResident(posOut)) return -1;
  const k = wasmKernels()!;
  const { xp, op, copyOut } = stage(k, close, out);
  // the running state travels through the 64 bytes below the arena
  const st = new Float64Array(k.memory.buffer, 0, 8);
  st[0] = c.g;
  st[1] = c.held;
  st[2] = c.turnover;
  st[3] = c.peak;
  st[4] = c.peakAt;
  st[5] = c.best;
  st[6] = c.bestPeakAt;
  st[7] = c.troughAt;
  const pp = posOut === undefined ? 0 : posOut.byteOffset;
  const ok = k.sma_cross(xp, op, pp, head, n, fast, slow, short, cost, initial, BLOCK, 0);
  if (ok === 0) return 0;
  if (copyOut) unstage(k, op, out, head, n);
  c.g = st[0]!;
  c.held = st[1]!;
  c.turnover = st[2]!;
  c.peak = st[3]!;
  c.peakAt = st[4] | 0;
  c.best = st[5]!;
  c.bestPeakAt = st[6] | 0;
  c.troughAt = st[7] | 0;
  return 1;
}
