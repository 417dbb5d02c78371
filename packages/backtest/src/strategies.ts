import { InvalidStrategyError, describe } from './errors.js';
import { BandStream, EmaStream, RsiStream, SmaStream, type IndicatorStream } from './indicators.js';
import type { Direction, OhlcvColumns, Strategy, StrategyFamily, StrategySpec } from './types.js';

/**
 * A compiled strategy. For bars [t0, t1) in order, it finds the bars whose masked target (−1, 0, 1)
 * differs from the previous bar's (the first bar's predecessor is flat) and writes their indices to
 * `idx` and new targets to `val`, returning how many. The executor only needs the changes: between
 * them the position is unchanged, so it never reads a per-bar target array. Plans carry their state
 * (including the previous target) between contiguous blocks. @internal
 */
export interface Plan {
  changes(idx: Int32Array, val: Int8Array, t0: number, t1: number, close: Float64Array): number;
}

/** Shared indicator streams keyed by kind and window, so a sweep computes each indicator once. @internal */
export class StreamRegistry {
  readonly streams: IndicatorStream[] = [];
  readonly #byKey = new Map<string, IndicatorStream>();
  readonly blockSize: number;
  constructor(blockSize: number) {
    this.blockSize = blockSize;
  }
  sma(w: number): SmaStream {
    return this.#get(`sma:${w}`, () => new SmaStream(w, this.blockSize));
  }
  ema(w: number): EmaStream {
    return this.#get(`ema:${w}`, () => new EmaStream(w, this.blockSize));
  }
  rsi(p: number): RsiStream {
    return this.#get(`rsi:${p}`, () => new RsiStream(p, this.blockSize));
  }
  band(p: number): BandStream {
    return this.#get(`band:${p}`, () => new BandStream(p, this.blockSize));
  }
  #get<T extends IndicatorStream>(key: string, make: () => T): T {
    let s = this.#byKey.get(key);
    if (s === undefined) {
      s = make();
      this.#byKey.set(key, s);
      this.streams.push(s);
    }
    return s as T;
  }
  /** Advance every stream over [t0, t1). */
  fillAll(close: Float64Array, t0: number, t1: number): void {
    const ss = this.streams;
    for (let i = 0; i < ss.length; i++) ss[i]!.fill(close, t0, t1);
  }
}

const FAMILIES: readonly StrategyFamily[] = [
  'sma-cross',
  'ema-cross',
  'rsi-reversion',
  'bollinger-breakout',
];

/** Long/short permission masks of a direction. */
function masks(dir: unknown, dflt: Direction = 'long'): [long: number, short: number] {
  if (dir === undefined) dir = dflt;
  if (dir === 'long') return [1, 0];
  if (dir === 'both') return [1, -1];
  if (dir === 'short') return [0, -1];
  throw new InvalidStrategyError('direction', dir, "expected 'long', 'short' or 'both'");
}

function int(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 1e8) {
    // State the cap too: a value above it is an integer ≥ min, and the message must say what failed.
    throw new InvalidStrategyError(name, v, `expected an integer from ${min} to 100000000`);
  }
  return v;
}

function num(name: string, v: unknown, lo: number, hi: number, rule: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !(v > lo && v < hi)) {
    throw new InvalidStrategyError(name, v, rule);
  }
  return v;
}

/** Validate a strategy spec or function, throwing {@link InvalidStrategyError} on bad input. */
export function validateStrategy(strategy: unknown): asserts strategy is Strategy {
  if (typeof strategy === 'function') return;
  if (strategy === null || typeof strategy !== 'object') {
    throw new InvalidStrategyError(
      'strategy',
      strategy,
      "expected a spec like { kind: 'sma-cross', fast: 10, slow: 50 } or a signal function",
    );
  }
  const s = strategy as Record<string, unknown>;
  masks(s.direction);
  switch (s.kind) {
    case 'sma-cross':
    case 'ema-cross': {
      const fast = int('fast', s.fast, 1);
      const slow = int('slow', s.slow, 2);
      if (slow <= fast)
        throw new InvalidStrategyError('slow', slow, `expected an integer > fast (${fast})`);
      return;
    }
    case 'rsi-reversion': {
      int('period', s.period, 2);
      const exit = s.exit ?? 50;
      const lower = num('lower', s.lower, 0, 100, 'expected a number in (0, 100)');
      const upper = num('upper', s.upper, 0, 100, 'expected a number in (0, 100)');
      // Checked before exit: with lower ≥ upper no exit fits, and the (often defaulted) exit is not at fault.
      if (upper <= lower)
        throw new InvalidStrategyError('upper', upper, `expected a number > lower (${lower})`);
      num(
        'exit',
        exit,
        lower,
        upper,
        `expected a number strictly between lower (${lower}) and upper (${upper})`,
      );
      return;
    }
    case 'bollinger-breakout':
      int('period', s.period, 2);
      num('k', s.k, 0, 1e6, 'expected a finite number > 0 and < 1000000');
      return;
    case 'targets': {
      const t = s.targets;
      if (
        t === null ||
        typeof t !== 'object' ||
        typeof (t as { length?: unknown }).length !== 'number'
      ) {
        throw new InvalidStrategyError(
          'targets',
          t,
          'expected an array or typed array of numbers, one per bar',
        );
      }
      return;
    }
    default:
      throw new InvalidStrategyError(
        'kind',
        s.kind,
        `expected one of ${[...FAMILIES, 'targets'].map((k) => `'${k}'`).join(', ')}`,
      );
  }
}

/**
 * Compile a (validated) strategy into a {@link Plan} for `n` bars, registering the indicator streams
 * it needs. Signal functions are called once here. With `fused` (a single run, nothing to share) an
 * SMA crossover computes both rolling sums inside its own loop, with the same arithmetic as
 * {@link SmaStream}, so results stay bit-identical to the shared-stream path. @internal
 */
export function compileStrategy(
  strategy: Strategy,
  data: OhlcvColumns,
  reg: StreamRegistry,
  fused = false,
): Plan {
  validateStrategy(strategy);
  const n = data.close.length;
  if (typeof strategy === 'function') {
    const t = strategy(data);
    checkTargets(t, n, 'signal function result');
    return new TargetsPlan(t, 1, -1);
  }
  const [lm, sm] = masks(strategy.direction, strategy.kind === 'targets' ? 'both' : 'long');
  switch (strategy.kind) {
    case 'sma-cross':
      if (fused) return new FusedSmaCrossPlan(strategy.fast, strategy.slow, lm, sm);
      return new CrossPlan(
        reg.sma(strategy.fast).out,
        reg.sma(strategy.slow).out,
        strategy.fast,
        strategy.slow,
        strategy.slow,
        lm,
        sm,
      );
    case 'ema-cross':
      return new CrossPlan(
        reg.ema(strategy.fast).out,
        reg.ema(strategy.slow).out,
        1,
        1,
        strategy.slow,
        lm,
        sm,
      );
    case 'rsi-reversion':
      return new RsiPlan(
        reg.rsi(strategy.period).out,
        strategy.period,
        strategy.lower,
        strategy.upper,
        strategy.exit ?? 50,
        lm,
        sm,
      );
    case 'bollinger-breakout': {
      const b = reg.band(strategy.period);
      return new BandPlan(b.mid, b.sd, strategy.period, strategy.k, lm, sm);
    }
    case 'targets':
      checkTargets(strategy.targets, n, 'targets');
      return new TargetsPlan(strategy.targets, lm, sm);
  }
}

function checkTargets(t: unknown, n: number, what: string): asserts t is ArrayLike<number> {
  const len = t !== null && typeof t === 'object' ? (t as { length?: unknown }).length : undefined;
  if (len !== n) {
    throw new InvalidStrategyError(
      'targets',
      describe(t),
      `${what} must have one number per bar (length ${n}), got length ${String(len)}`,
    );
  }
}

/**
 * Fast/slow crossover over two block buffers: long when `f · ws > s · wf`. For SMA the buffers hold
 * rolling sums and the weights are the windows (so the test is SMA(fast) > SMA(slow) without a
 * division); for EMA they hold the averages and the weights are 1.
 */
class CrossPlan implements Plan {
  readonly #f: Float64Array;
  readonly #s: Float64Array;
  readonly #wf: number;
  readonly #ws: number;
  readonly #first: number;
  readonly #lm: number;
  readonly #sm: number;
  constructor(
    f: Float64Array,
    s: Float64Array,
    wf: number,
    ws: number,
    slow: number,
    lm: number,
    sm: number,
  ) {
    this.#f = f;
    this.#s = s;
    this.#wf = wf;
    this.#ws = ws;
    this.#first = slow - 1;
    this.#lm = lm;
    this.#sm = sm;
  }
  #prev = 0;
  changes(idx: Int32Array, val: Int8Array, t0: number, t1: number): number {
    const f = this.#f;
    const s = this.#s;
    const wf = this.#wf;
    const ws = this.#ws;
    const lm = this.#lm;
    const sm = this.#sm;
    let prev = this.#prev;
    let m = 0;
    // Before bar slow − 1 the target is flat, which equals the initial previous target.
    for (let t = Math.max(t0, this.#first); t < t1; t++) {
      const k = t - t0;
      const g = f[k]! * ws > s[k]! * wf ? lm : sm;
      if (g !== prev) {
        idx[m] = t;
        val[m] = g;
        m++;
        prev = g;
      }
    }
    this.#prev = prev;
    return m;
  }
}

/** SMA crossover with both rolling sums fused into one loop (single backtests). @internal */
export class FusedSmaCrossPlan implements Plan {
  readonly #wf: number;
  readonly #ws: number;
  readonly #lm: number;
  readonly #sm: number;
  #sf = 0;
  #ss = 0;
  constructor(wf: number, ws: number, lm: number, sm: number) {
    this.#wf = wf;
    this.#ws = ws;
    this.#lm = lm;
    this.#sm = sm;
  }
  #prev = 0;
  changes(idx: Int32Array, val: Int8Array, t0: number, t1: number, close: Float64Array): number {
    const wf = this.#wf;
    const ws = this.#ws;
    const lm = this.#lm;
    const sm = this.#sm;
    const first = ws - 1;
    let sf = this.#sf;
    let ss = this.#ss;
    let prev = this.#prev;
    let m = 0;
    let t = t0;
    // Warm-up (t < slow): the same additions as SmaStream; flat before bar slow − 1.
    for (; t < t1 && t < ws; t++) {
      const c = close[t]!;
      sf += t < wf ? c : c - close[t - wf]!;
      ss += c;
      if (t >= first) {
        const g = sf * ws > ss * wf ? lm : sm;
        if (g !== prev) {
          idx[m] = t;
          val[m] = g;
          m++;
          prev = g;
        }
      }
    }
    for (; t < t1; t++) {
      const c = close[t]!;
      sf += c - close[t - wf]!;
      ss += c - close[t - ws]!;
      const g = sf * ws > ss * wf ? lm : sm;
      if (g !== prev) {
        idx[m] = t;
        val[m] = g;
        m++;
        prev = g;
      }
    }
    this.#sf = sf;
    this.#ss = ss;
    this.#prev = prev;
    return m;
  }
}

/** RSI mean reversion state machine. */
class RsiPlan implements Plan {
  readonly #r: Float64Array;
  readonly #p: number;
  readonly #lo: number;
  readonly #hi: number;
  readonly #exit: number;
  readonly #lm: number;
  readonly #sm: number;
  #raw = 0;
  constructor(
    r: Float64Array,
    p: number,
    lo: number,
    hi: number,
    exit: number,
    lm: number,
    sm: number,
  ) {
    this.#r = r;
    this.#p = p;
    this.#lo = lo;
    this.#hi = hi;
    this.#exit = exit;
    this.#lm = lm;
    this.#sm = sm;
  }
  #prev = 0;
  changes(idx: Int32Array, val: Int8Array, t0: number, t1: number): number {
    const r = this.#r;
    const lo = this.#lo;
    const hi = this.#hi;
    const ex = this.#exit;
    const lm = this.#lm;
    const sm = this.#sm;
    let raw = this.#raw;
    let prev = this.#prev;
    let m = 0;
    for (let t = Math.max(t0, this.#p); t < t1; t++) {
      const v = r[t - t0]!;
      if (v < lo) raw = 1;
      else if (v > hi) raw = -1;
      else if ((raw === 1 && v >= ex) || (raw === -1 && v <= ex)) raw = 0;
      const g = raw > 0 ? lm : raw < 0 ? sm : 0;
      if (g !== prev) {
        idx[m] = t;
        val[m] = g;
        m++;
        prev = g;
      }
    }
    this.#raw = raw;
    this.#prev = prev;
    return m;
  }
}

/** Bollinger breakout state machine. */
class BandPlan implements Plan {
  readonly #mid: Float64Array;
  readonly #sd: Float64Array;
  readonly #first: number;
  readonly #k: number;
  readonly #lm: number;
  readonly #sm: number;
  #raw = 0;
  constructor(mid: Float64Array, sd: Float64Array, p: number, k: number, lm: number, sm: number) {
    this.#mid = mid;
    this.#sd = sd;
    this.#first = p - 1;
    this.#k = k;
    this.#lm = lm;
    this.#sm = sm;
  }
  #prev = 0;
  changes(idx: Int32Array, val: Int8Array, t0: number, t1: number, close: Float64Array): number {
    const mid = this.#mid;
    const sd = this.#sd;
    const k = this.#k;
    const lm = this.#lm;
    const sm = this.#sm;
    let raw = this.#raw;
    let prev = this.#prev;
    let m = 0;
    for (let t = Math.max(t0, this.#first); t < t1; t++) {
      const c = close[t]!;
      const md = mid[t - t0]!;
      const w = k * sd[t - t0]!;
      if (c > md + w) raw = 1;
      else if (c < md - w) raw = -1;
      else if ((raw === 1 && c < md) || (raw === -1 && c > md)) raw = 0;
      const g = raw > 0 ? lm : raw < 0 ? sm : 0;
      if (g !== prev) {
        idx[m] = t;
        val[m] = g;
        m++;
        prev = g;
      }
    }
    this.#raw = raw;
    this.#prev = prev;
    return m;
  }
}

/** Precomputed targets: sign of each value, NaN → flat. */
class TargetsPlan implements Plan {
  readonly #t: ArrayLike<number>;
  readonly #lm: number;
  readonly #sm: number;
  constructor(t: ArrayLike<number>, lm: number, sm: number) {
    this.#t = t;
    this.#lm = lm;
    this.#sm = sm;
  }
  #prev = 0;
  changes(idx: Int32Array, val: Int8Array, t0: number, t1: number): number {
    const src = this.#t;
    const lm = this.#lm;
    const sm = this.#sm;
    let prev = this.#prev;
    let m = 0;
    for (let t = t0; t < t1; t++) {
      const v = src[t]!;
      const g = v > 0 ? lm : v < 0 ? sm : 0;
      if (g !== prev) {
        idx[m] = t;
        val[m] = g;
        m++;
        prev = g;
      }
    }
    this.#prev = prev;
    return m;
  }
}

/** Narrow a spec to a sweepable family name, or throw. @internal */
export function checkFamily(family: unknown): StrategyFamily {
  if (typeof family === 'string' && (FAMILIES as readonly string[]).includes(family))
    return family as StrategyFamily;
  throw new InvalidStrategyError(
    'family',
    family,
    `expected one of ${FAMILIES.map((k) => `'${k}'`).join(', ')}`,
  );
}

/** Built-in parameterised spec for a family and one grid point. @internal */
export function specFor(
  family: StrategyFamily,
  params: Readonly<Record<string, unknown>>,
): StrategySpec {
  return { ...params, kind: family } as unknown as StrategySpec;
}

export type { Direction };
