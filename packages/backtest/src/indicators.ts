/**
 * Streaming indicator kernels used by the engine and the sweep. Each stream keeps its running state
 * between calls, so the engine can walk the data in time blocks and many strategies can share one
 * stream's block output. The arithmetic here is the single definition both `backtest` and `sweep` use,
 * which is why their results are bit-identical.
 * @internal
 */

/** A stateful indicator that fills its block buffers for bars [t0, t1) in order. @internal */
export interface IndicatorStream {
  /** Fill output for bars t0..t1-1 at buffer offsets 0..t1-t0-1. Must be called with contiguous blocks. */
  fill(close: Float64Array, t0: number, t1: number): void;
}

/**
 * Rolling sum over `w` bars (the SMA times w; crossovers compare `sumF · wS > sumS · wF`, which
 * avoids a division per bar). NaN before bar w − 1. @internal
 */
export class SmaStream implements IndicatorStream {
  readonly out: Float64Array;
  readonly #w: number;
  #sum = 0;
  constructor(w: number, blockSize: number) {
    this.#w = w;
    this.out = new Float64Array(blockSize);
  }
  fill(close: Float64Array, t0: number, t1: number): void {
    const w = this.#w;
    const out = this.out;
    let s = this.#sum;
    let t = t0;
    const warm = Math.min(t1, w - 1);
    for (; t < warm; t++) {
      s += close[t]!;
      out[t - t0] = NaN;
    }
    if (t === w - 1 && t < t1) {
      s += close[t]!;
      out[t - t0] = s;
      t++;
    }
    for (; t < t1; t++) {
      s += close[t]! - close[t - w]!;
      out[t - t0] = s;
    }
    this.#sum = s;
  }
}

/** Exponential moving average, alpha = 2 / (w + 1), seeded with the first close. @internal */
export class EmaStream implements IndicatorStream {
  readonly out: Float64Array;
  readonly #alpha: number;
  #e = 0;
  constructor(w: number, blockSize: number) {
    this.#alpha = 2 / (w + 1);
    this.out = new Float64Array(blockSize);
  }
  fill(close: Float64Array, t0: number, t1: number): void {
    const a = this.#alpha;
    const out = this.out;
    let e = this.#e;
    let t = t0;
    if (t === 0 && t < t1) {
      e = close[0]!;
      out[0] = e;
      t = 1;
    }
    for (; t < t1; t++) {
      e += a * (close[t]! - e);
      out[t - t0] = e;
    }
    this.#e = e;
  }
}

/**
 * Wilder RSI over `p` bars: the first average is the mean gain/loss of bars 1..p, then
 * `avg = (avg·(p − 1) + x) / p`. RSI = 100 − 100 / (1 + avgGain / avgLoss); 100 when avgLoss is 0
 * (50 when both are 0). NaN before bar p. @internal
 */
export class RsiStream implements IndicatorStream {
  readonly out: Float64Array;
  readonly #p: number;
  #g = 0;
  #l = 0;
  constructor(p: number, blockSize: number) {
    this.#p = p;
    this.out = new Float64Array(blockSize);
  }
  fill(close: Float64Array, t0: number, t1: number): void {
    const p = this.#p;
    const out = this.out;
    let g = this.#g;
    let l = this.#l;
    for (let t = t0; t < t1; t++) {
      if (t === 0) {
        out[0] = NaN;
        continue;
      }
      const d = close[t]! - close[t - 1]!;
      const up = d > 0 ? d : 0;
      const dn = d < 0 ? -d : 0;
      if (t < p) {
        g += up;
        l += dn;
        out[t - t0] = NaN;
        continue;
      }
      if (t === p) {
        g = (g + up) / p;
        l = (l + dn) / p;
      } else {
        g = (g * (p - 1) + up) / p;
        l = (l * (p - 1) + dn) / p;
      }
      out[t - t0] = rsiValue(g, l);
    }
    this.#g = g;
    this.#l = l;
  }
}

/** RSI from average gain and loss. @internal */
export function rsiValue(avgGain: number, avgLoss: number): number {
  if (avgLoss === 0) return avgGain === 0 ? 50 : 100;
  return 100 - 100 / (1 + avgGain / avgLoss);
}

/**
 * Rolling mean and population standard deviation over `p` bars (rolling sum and sum of squares;
 * variance clamped at 0). NaN before bar p − 1. @internal
 */
export class BandStream implements IndicatorStream {
  readonly mid: Float64Array;
  readonly sd: Float64Array;
  readonly #p: number;
  #s = 0;
  #s2 = 0;
  constructor(p: number, blockSize: number) {
    this.#p = p;
    this.mid = new Float64Array(blockSize);
    this.sd = new Float64Array(blockSize);
  }
  fill(close: Float64Array, t0: number, t1: number): void {
    const p = this.#p;
    const mid = this.mid;
    const sd = this.sd;
    let s = this.#s;
    let s2 = this.#s2;
    for (let t = t0; t < t1; t++) {
      const x = close[t]!;
      s += x;
      s2 += x * x;
      if (t >= p) {
        const y = close[t - p]!;
        s -= y;
        s2 -= y * y;
      }
      if (t < p - 1) {
        mid[t - t0] = NaN;
        sd[t - t0] = NaN;
      } else {
        const m = s / p;
        const v = s2 / p - m * m;
        mid[t - t0] = m;
        sd[t - t0] = v > 0 ? Math.sqrt(v) : 0;
      }
    }
    this.#s = s;
    this.#s2 = s2;
  }
}
