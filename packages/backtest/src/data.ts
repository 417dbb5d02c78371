import { InvalidOptionError, OhlcvValidationError, describe } from './errors.js';
import type { OhlcvColumns } from './types.js';

/** Options of {@link generateOhlcv}. */
export interface GenerateOhlcvOptions {
  /** Number of bars, integer ≥ 1. */
  readonly bars: number;
  /** PRNG seed (any 32-bit integer). Same seed, same data. Default 1. */
  readonly seed?: number;
  /** First open price, > 0. Default 100. */
  readonly startPrice?: number;
  /** Annual drift μ of the GBM (0.05 = 5 %/year). Default 0.05. */
  readonly drift?: number;
  /** Annual volatility σ of the GBM (0.2 = 20 %/year), ≥ 0. Default 0.2. */
  readonly volatility?: number;
  /** Bars per year, used to scale drift and volatility per bar. Default 252. */
  readonly periodsPerYear?: number;
  /** Time of the first bar, epoch ms. Default 2020-01-01T00:00:00Z. */
  readonly startTime?: number;
  /** Bar spacing in ms, > 0. Default 86 400 000 (one day). */
  readonly intervalMs?: number;
  /** Share of each bar's variance that happens overnight (close → next open), 0..1. Default 0.1. */
  readonly gapShare?: number;
  /**
   * When given, columns are allocated on a `SharedArrayBuffer` (one buffer for all six columns),
   * ready to hand to worker threads without copying. Default false.
   */
  readonly shared?: boolean;
}

/**
 * Seeded synthetic OHLCV bars: geometric Brownian motion for the close, an overnight gap for the
 * open, and intrabar highs/lows drawn beyond max/min(open, close) with the bar's volatility, so
 * `low ≤ min(open, close) ≤ max(open, close) ≤ high` always holds. Volume is log-normal, higher on
 * large moves. Deterministic for a given seed and options (xoshiro128** PRNG, Box–Muller normals).
 * Cost: O(bars) time; the six columns share one buffer of 48 bytes per bar.
 */
export function generateOhlcv(options: GenerateOhlcvOptions): OhlcvColumns {
  const o = options as Partial<GenerateOhlcvOptions> | undefined;
  if (o === null || typeof o !== 'object') {
    throw new InvalidOptionError('options', o, 'expected an object like { bars: 1000, seed: 1 }');
  }
  const bars = o.bars;
  if (typeof bars !== 'number' || !Number.isInteger(bars) || bars < 1 || bars > 2 ** 28) {
    throw new InvalidOptionError('bars', bars, 'expected an integer from 1 to 2^28');
  }
  const seed = o.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new InvalidOptionError('seed', seed, 'expected a finite number');
  }
  const startPrice = positive('startPrice', o.startPrice ?? 100);
  const drift = finite('drift', o.drift ?? 0.05);
  const vol = nonNegative('volatility', o.volatility ?? 0.2);
  const ppy = positive('periodsPerYear', o.periodsPerYear ?? 252);
  const startTime = finite('startTime', o.startTime ?? Date.UTC(2020, 0, 1));
  const intervalMs = positive('intervalMs', o.intervalMs ?? 86_400_000);
  const gapShare = o.gapShare ?? 0.1;
  if (typeof gapShare !== 'number' || !(gapShare >= 0 && gapShare <= 1)) {
    throw new InvalidOptionError('gapShare', gapShare, 'expected a number from 0 to 1');
  }

  const cols = allocateColumns(bars, o.shared === true);
  const { time, open, high, low, close, volume } = cols;
  const rng = new Rng(seed);
  const dt = 1 / ppy;
  const sigmaBar = vol * Math.sqrt(dt);
  const muBar = (drift - 0.5 * vol * vol) * dt;
  const sGap = sigmaBar * Math.sqrt(gapShare);
  const sDay = sigmaBar * Math.sqrt(1 - gapShare);
  const mGap = muBar * gapShare;
  const mDay = muBar * (1 - gapShare);
  let prevClose = startPrice;
  for (let i = 0; i < bars; i++) {
    time[i] = startTime + i * intervalMs;
    const op = i === 0 ? startPrice : prevClose * Math.exp(mGap + sGap * rng.normal());
    const cl = op * Math.exp(mDay + sDay * rng.normal());
    // Extremes of a Brownian bridge reach beyond the endpoints by roughly |N|·σ/2.
    const up = Math.abs(rng.normal()) * sDay * 0.5;
    const dn = Math.abs(rng.normal()) * sDay * 0.5;
    open[i] = op;
    close[i] = cl;
    high[i] = Math.max(op, cl) * Math.exp(up);
    low[i] = Math.min(op, cl) * Math.exp(-dn);
    const move = sigmaBar > 0 ? Math.abs(Math.log(cl / prevClose)) / sigmaBar : 0;
    volume[i] = Math.round(1e6 * Math.exp(0.25 * rng.normal()) * (0.6 + 0.4 * move));
    prevClose = cl;
  }
  return cols;
}

/**
 * Allocate six zeroed columns of `bars` each; with `shared`, all on one `SharedArrayBuffer`.
 */
export function allocateColumns(bars: number, shared = false): OhlcvColumns {
  if (!Number.isInteger(bars) || bars < 0) {
    throw new InvalidOptionError('bars', bars, 'expected a non-negative integer');
  }
  const buf = shared ? new SharedArrayBuffer(bars * 8 * 6) : new ArrayBuffer(bars * 8 * 6);
  const col = (k: number): Float64Array => new Float64Array(buf, k * bars * 8, bars);
  return { time: col(0), open: col(1), high: col(2), low: col(3), close: col(4), volume: col(5) };
}

/**
 * Check that `data` is well-formed OHLCV columns and throw an {@link OhlcvValidationError} naming the
 * column, bar index, value and rule otherwise. Rules: all six columns are `Float64Array`s of one
 * length ≥ 1; `time` is finite and strictly increasing; open/high/low/close are finite (no NaN) and > 0;
 * `low ≤ min(open, close)` and `high ≥ max(open, close)`; volume is ≥ 0 or NaN (unknown).
 * O(bars), one pass.
 */
export function validateOhlcv(data: unknown): asserts data is OhlcvColumns {
  if (data === null || typeof data !== 'object') {
    throw new OhlcvValidationError(
      '',
      -1,
      `OHLCV data must be an object of Float64Array columns, got ${describe(data)}`,
    );
  }
  const d = data as Record<string, unknown>;
  const names = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;
  let n = -1;
  for (const name of names) {
    const c = d[name];
    if (!(c instanceof Float64Array)) {
      throw new OhlcvValidationError(
        name,
        -1,
        `OHLCV column ${name} must be a Float64Array, got ${c === undefined ? 'undefined' : describe(c)}`,
      );
    }
    if (n === -1) n = c.length;
    else if (c.length !== n) {
      throw new OhlcvValidationError(
        name,
        -1,
        `OHLCV column ${name} has length ${c.length}, but time has length ${n}; all columns must have the same length`,
      );
    }
  }
  if (n < 1)
    throw new OhlcvValidationError('time', -1, 'OHLCV data must have at least one bar, got 0');
  const { time, open, high, low, close, volume } = d as unknown as OhlcvColumns;
  let prevT = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = time[i]!;
    if (!Number.isFinite(t)) throw bad('time', i, t, 'must be finite');
    if (!(t > prevT))
      throw bad('time', i, t, `must be strictly increasing (previous bar ${i - 1} has ${prevT})`);
    prevT = t;
    const o = open[i]!;
    const h = high[i]!;
    const l = low[i]!;
    const c = close[i]!;
    if (!Number.isFinite(o)) throw bad('open', i, o, 'must be finite (NaN not allowed)');
    if (!Number.isFinite(h)) throw bad('high', i, h, 'must be finite (NaN not allowed)');
    if (!Number.isFinite(l)) throw bad('low', i, l, 'must be finite (NaN not allowed)');
    if (!Number.isFinite(c)) throw bad('close', i, c, 'must be finite (NaN not allowed)');
    // The engine sizes by price (cash / open), sets stops as fractions of it and compounds returns:
    // a zero open sizes an all-in entry at Infinity units (NaN equity from there on) and a negative
    // one silently skips it, so reject non-positive prices here, where the bar can be named.
    if (!(o > 0)) throw bad('open', i, o, 'must be > 0');
    if (!(h > 0)) throw bad('high', i, h, 'must be > 0');
    if (!(l > 0)) throw bad('low', i, l, 'must be > 0');
    if (!(c > 0)) throw bad('close', i, c, 'must be > 0');
    if (h < l) throw bad('high', i, h, `must be ≥ low (${l})`);
    if (h < o || h < c) throw bad('high', i, h, `must be ≥ open (${o}) and close (${c})`);
    if (l > o || l > c) throw bad('low', i, l, `must be ≤ open (${o}) and close (${c})`);
    const v = volume[i]!;
    if (v < 0 || v === Infinity)
      throw bad('volume', i, v, 'must be ≥ 0 and finite, or NaN for unknown');
  }
}

function bad(column: string, index: number, value: number, rule: string): OhlcvValidationError {
  return new OhlcvValidationError(column, index, `OHLCV ${column}[${index}] = ${value} ${rule}`);
}

function finite(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new InvalidOptionError(name, v, 'expected a finite number');
  return v;
}
function positive(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new InvalidOptionError(name, v, 'expected a finite number > 0');
  }
  return v;
}
function nonNegative(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new InvalidOptionError(name, v, 'expected a finite number ≥ 0');
  }
  return v;
}

/** xoshiro128** with a splitmix-style seeding; `normal()` via Box–Muller with a cached spare. */
class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spare = 0;
  #hasSpare = false;
  constructor(seed: number) {
    let x = seed | 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next() | 1;
  }
  /** Uniform in (0, 1), 32 bits (xoshiro128**). */
  uniform(): number {
    const s0 = this.#s0;
    const s1 = this.#s1;
    const s2 = this.#s2;
    const s3 = this.#s3;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    let n2 = s2 ^ s0;
    let n3 = s3 ^ s1;
    const n1 = s1 ^ n2;
    const n0 = s0 ^ n3;
    n2 ^= t;
    n3 = rotl(n3, 11);
    this.#s0 = n0;
    this.#s1 = n1;
    this.#s2 = n2;
    this.#s3 = n3;
    return (r + 0.5) / 4294967296;
  }
  normal(): number {
    if (this.#hasSpare) {
      this.#hasSpare = false;
      return this.#spare;
    }
    const u = this.uniform();
    const v = this.uniform();
    const m = Math.sqrt(-2 * Math.log(u));
    this.#spare = m * Math.sin(2 * Math.PI * v);
    this.#hasSpare = true;
    return m * Math.cos(2 * Math.PI * v);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
