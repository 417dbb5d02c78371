import { InvalidOptionError, OhlcvValidationError, describe } from './errors.js';
import { StreamRegistry, compileStrategy, type Plan } from './strategies.js';
import type {
  BacktestOptions,
  BacktestResult,
  ExitReason,
  Metrics,
  OhlcvColumns,
  Strategy,
  Trade,
} from './types.js';

/** Bars per time block. Indicator and target blocks of this size stay in L1/L2 cache. @internal */
export const BLOCK_SIZE = 2048;

/**
 * Change-list scratch shared by every run: runs are synchronous and never nested while these are in
 * use (signal functions run before), so one pair serves all. @internal
 */
export const SCRATCH_IDX = new Int32Array(BLOCK_SIZE);
/** @internal */
export const SCRATCH_VAL = new Int8Array(BLOCK_SIZE);

/** Options after validation and defaults, resolved once. @internal */
export interface ResolvedOptions {
  readonly initialCapital: number;
  readonly feeRate: number;
  readonly fixedFee: number;
  readonly slipRate: number;
  /** 0 fraction of equity, 1 fixed units. */
  readonly sizingKind: 0 | 1;
  readonly fraction: number;
  readonly units: number;
  /** 0 = off. */
  readonly stopLoss: number;
  /** 0 = off. */
  readonly takeProfit: number;
  readonly periodsPerYear: number;
  readonly equity: boolean | Float64Array;
  readonly trades: boolean;
  readonly signals: boolean;
}

const OPTION_KEYS = new Set([
  'initialCapital',
  'feeBps',
  'fixedFee',
  'slippageBps',
  'sizing',
  'stopLoss',
  'takeProfit',
  'periodsPerYear',
  'equity',
  'trades',
  'signals',
]);

function numOpt(
  name: string,
  v: unknown,
  dflt: number,
  min: number,
  strictMin: boolean,
  rule: string,
): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || (strictMin ? v <= min : v < min)) {
    throw new InvalidOptionError(name, v, rule);
  }
  return v;
}

/**
 * Validate and default backtest options, throwing {@link InvalidOptionError} naming the option.
 * `extraKeys` are other keys the caller accepts in the same object (e.g. sweep's `topK`). @internal
 */
export function resolveOptions(
  opts: unknown,
  extraKeys: ReadonlySet<string> = new Set(),
): ResolvedOptions {
  if (opts === undefined) opts = {};
  if (opts === null || typeof opts !== 'object') {
    throw new InvalidOptionError(
      'options',
      opts,
      'expected an object of backtest options or undefined',
    );
  }
  const o = opts as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!OPTION_KEYS.has(k) && !extraKeys.has(k)) {
      throw new InvalidOptionError(
        k,
        o[k],
        `unknown option; allowed: ${[...OPTION_KEYS, ...extraKeys].join(', ')}`,
      );
    }
  }
  const initialCapital = numOpt(
    'initialCapital',
    o.initialCapital,
    10_000,
    0,
    true,
    'expected a finite number > 0',
  );
  const feeBps = numOpt(
    'feeBps',
    o.feeBps,
    0,
    0,
    false,
    'expected a finite number ≥ 0 (basis points per side)',
  );
  const fixedFee = numOpt(
    'fixedFee',
    o.fixedFee,
    0,
    0,
    false,
    'expected a finite number ≥ 0 (cash per fill)',
  );
  const slip = numOpt(
    'slippageBps',
    o.slippageBps,
    0,
    0,
    false,
    'expected a finite number ≥ 0 (basis points)',
  );
  if (slip >= 10_000)
    throw new InvalidOptionError('slippageBps', slip, 'expected less than 10000 basis points');
  const stopLoss = numOpt(
    'stopLoss',
    o.stopLoss,
    0,
    0,
    true,
    'expected a fraction of the entry price > 0 (0.02 = 2 %)',
  );
  if (stopLoss >= 1 && o.stopLoss !== undefined) {
    throw new InvalidOptionError(
      'stopLoss',
      stopLoss,
      'expected a fraction of the entry price in (0, 1)',
    );
  }
  const takeProfit = numOpt(
    'takeProfit',
    o.takeProfit,
    0,
    0,
    true,
    'expected a fraction of the entry price > 0 (0.05 = 5 %)',
  );
  const periodsPerYear = numOpt(
    'periodsPerYear',
    o.periodsPerYear,
    252,
    0,
    true,
    'expected a finite number > 0',
  );
  let sizingKind: 0 | 1 = 0;
  let fraction = 1;
  let units = 0;
  const sz = o.sizing as Record<string, unknown> | undefined;
  if (sz !== undefined) {
    if (sz === null || typeof sz !== 'object') {
      throw new InvalidOptionError(
        'sizing',
        sz,
        "expected { kind: 'all-in' }, { kind: 'fraction', fraction } or { kind: 'units', units }",
      );
    }
    if (sz.kind === 'all-in') {
      // defaults
    } else if (sz.kind === 'fraction') {
      const f = sz.fraction;
      if (typeof f !== 'number' || !Number.isFinite(f) || f <= 0 || f > 100) {
        throw new InvalidOptionError(
          'sizing.fraction',
          f,
          'expected a number in (0, 100] (1 = all equity)',
        );
      }
      fraction = f;
    } else if (sz.kind === 'units') {
      const u = sz.units;
      if (typeof u !== 'number' || !Number.isFinite(u) || u <= 0) {
        throw new InvalidOptionError('sizing.units', u, 'expected a finite number > 0');
      }
      sizingKind = 1;
      units = u;
    } else {
      throw new InvalidOptionError(
        'sizing.kind',
        sz.kind,
        "expected 'all-in', 'fraction' or 'units'",
      );
    }
  }
  const eq = o.equity;
  if (eq !== undefined && typeof eq !== 'boolean' && !(eq instanceof Float64Array)) {
    throw new InvalidOptionError(
      'equity',
      eq,
      'expected a boolean or a Float64Array buffer of at least bars',
    );
  }
  const tr = o.trades;
  if (tr !== undefined && typeof tr !== 'boolean')
    throw new InvalidOptionError('trades', tr, 'expected a boolean');
  const sg = o.signals;
  if (sg !== undefined && typeof sg !== 'boolean')
    throw new InvalidOptionError('signals', sg, 'expected a boolean');
  return {
    initialCapital,
    feeRate: feeBps / 10_000,
    fixedFee,
    slipRate: slip / 10_000,
    sizingKind,
    fraction,
    units,
    stopLoss,
    takeProfit,
    periodsPerYear,
    equity: eq ?? false,
    trades: tr ?? false,
    signals: sg ?? false,
  };
}

/** Cheap structural check of the columns every run does (full checks: `validateOhlcv`). @internal */
export function checkColumns(data: unknown): number {
  if (data === null || typeof data !== 'object') {
    throw new OhlcvValidationError(
      '',
      -1,
      `OHLCV data must be an object of Float64Array columns, got ${describe(data)}`,
    );
  }
  const d = data as Record<string, unknown>;
  let n = -1;
  for (const name of ['time', 'open', 'high', 'low', 'close'] as const) {
    const c = d[name];
    if (!(c instanceof Float64Array)) {
      throw new OhlcvValidationError(
        name,
        -1,
        `OHLCV column ${name} must be a Float64Array, got ${describe(c)}`,
      );
    }
    if (n === -1) n = c.length;
    else if (c.length !== n) {
      throw new OhlcvValidationError(
        name,
        -1,
        `OHLCV column ${name} has length ${c.length}, but time has length ${n}`,
      );
    }
  }
  if (n < 2)
    throw new OhlcvValidationError('close', -1, `a backtest needs at least 2 bars, got ${n}`);
  return n;
}

const NONE = 2;
const REASONS: readonly ExitReason[] = ['signal', 'stop-loss', 'take-profit'];

/**
 * The complete state of one strategy's run between time blocks: the position, the cash and the
 * running metric accumulators. Doubles live in one Float64Array behind accessors, so storing them
 * back after each span never boxes a number (plain double fields did: ~300 bytes of garbage per span).
 * Integers are ordinary (Smi) fields. @internal
 */
export class ExecState {
  readonly #v = new Float64Array(19);
  side = 0;
  entryIdx = 0;
  /** Target to apply at the next open, or NONE. */
  pending = NONE;
  peakIdx = 0;
  mddDur = 0;
  /** Count of returns summed into sumX/sumX2 (the zero returns of flat bars are not summed; finalizeMetrics adds them back). */
  nz = 0;
  exposed = 0;
  nTrades = 0;
  wins = 0;
  constructor(initial: number) {
    this.cash = initial;
    this.lastE = initial;
    this.peak = initial;
    this.loTrig = -Infinity;
    this.hiTrig = Infinity;
    this.shift = NaN;
  }
  /** Cash. */
  get cash(): number {
    return this.#v[0]!;
  }
  set cash(x: number) {
    this.#v[0] = x;
  }
  /** Signed units held. */
  get q(): number {
    return this.#v[1]!;
  }
  set q(x: number) {
    this.#v[1] = x;
  }
  /** Units of the open position (positive). */
  get units(): number {
    return this.#v[2]!;
  }
  set units(x: number) {
    this.#v[2] = x;
  }
  /** Entry fill price. */
  get entryPx(): number {
    return this.#v[3]!;
  }
  set entryPx(x: number) {
    this.#v[3] = x;
  }
  /** Fee paid on entry. */
  get entryFee(): number {
    return this.#v[4]!;
  }
  set entryFee(x: number) {
    this.#v[4] = x;
  }
  /** Stop-loss level. */
  get slLvl(): number {
    return this.#v[5]!;
  }
  set slLvl(x: number) {
    this.#v[5] = x;
  }
  /** Take-profit level. */
  get tpLvl(): number {
    return this.#v[6]!;
  }
  set tpLvl(x: number) {
    this.#v[6] = x;
  }
  /** A bar whose low is ≤ this may trigger a stop (−Infinity when none can). */
  get loTrig(): number {
    return this.#v[7]!;
  }
  set loTrig(x: number) {
    this.#v[7] = x;
  }
  /** A bar whose high is ≥ this may trigger a stop (Infinity when none can). */
  get hiTrig(): number {
    return this.#v[8]!;
  }
  set hiTrig(x: number) {
    this.#v[8] = x;
  }
  /** Equity at the last marked close. */
  get lastE(): number {
    return this.#v[9]!;
  }
  set lastE(x: number) {
    this.#v[9] = x;
  }
  /** Running equity peak. */
  get peak(): number {
    return this.#v[10]!;
  }
  set peak(x: number) {
    this.#v[10] = x;
  }
  /** Maximum drawdown so far. */
  get mdd(): number {
    return this.#v[11]!;
  }
  set mdd(x: number) {
    this.#v[11] = x;
  }
  /** Shift of the variance sums (NaN until the first return in a position fixes it), so near-constant returns do not cancel. */
  get shift(): number {
    return this.#v[12]!;
  }
  set shift(x: number) {
    this.#v[12] = x;
  }
  /** Σ (r − shift) over non-zero returns. */
  get sumX(): number {
    return this.#v[13]!;
  }
  set sumX(x: number) {
    this.#v[13] = x;
  }
  /** Σ (r − shift)² over non-zero returns. */
  get sumX2(): number {
    return this.#v[14]!;
  }
  set sumX2(x: number) {
    this.#v[14] = x;
  }
  /** Σ min(r, 0)². */
  get sumD2(): number {
    return this.#v[15]!;
  }
  set sumD2(x: number) {
    this.#v[15] = x;
  }
  /** Σ P&L of winning trades. */
  get grossProfit(): number {
    return this.#v[16]!;
  }
  set grossProfit(x: number) {
    this.#v[16] = x;
  }
  /** Σ −P&L of losing trades. */
  get grossLoss(): number {
    return this.#v[17]!;
  }
  set grossLoss(x: number) {
    this.#v[17] = x;
  }
  /** Fees paid. */
  get fees(): number {
    return this.#v[18]!;
  }
  set fees(x: number) {
    this.#v[18] = x;
  }
}

function closePos(
  st: ExecState,
  o: ResolvedOptions,
  data: OhlcvColumns,
  t: number,
  reason: number,
  trades: Trade[] | null,
): void {
  const side = st.side;
  // Exit price from the reason (no double arguments: a non-inlined call would box them).
  const op = data.open[t]!;
  let px = op;
  if (reason === 1) px = side > 0 ? Math.min(op, st.slLvl) : Math.max(op, st.slLvl);
  else if (reason === 2) px = side > 0 ? Math.max(op, st.tpLvl) : Math.min(op, st.tpLvl);
  const xp = side > 0 ? px * (1 - o.slipRate) : px * (1 + o.slipRate);
  const units = st.units;
  const fee = units * xp * o.feeRate + o.fixedFee;
  st.cash += st.q * xp - fee;
  const pnl = st.q * (xp - st.entryPx) - st.entryFee - fee;
  st.fees += fee;
  st.nTrades++;
  if (pnl > 0) {
    st.wins++;
    st.grossProfit += pnl;
  } else if (pnl < 0) {
    st.grossLoss -= pnl;
  }
  if (trades !== null) {
    trades.push({
      side: side > 0 ? 1 : -1,
      entryIndex: st.entryIdx,
      exitIndex: t,
      entryTime: data.time[st.entryIdx]!,
      exitTime: data.time[t]!,
      entryPrice: st.entryPx,
      exitPrice: xp,
      units,
      pnl,
      returnPct: pnl / (units * st.entryPx),
      fees: st.entryFee + fee,
      exitReason: REASONS[reason]!,
    });
  }
  st.q = 0;
  st.side = 0;
  st.units = 0;
  st.loTrig = -Infinity;
  st.hiTrig = Infinity;
}

function openPos(
  st: ExecState,
  o: ResolvedOptions,
  data: OhlcvColumns,
  t: number,
  d: number,
): void {
  const px = data.open[t]!;
  const ep = d > 0 ? px * (1 + o.slipRate) : px * (1 - o.slipRate);
  const u =
    o.sizingKind === 1 ? o.units : (o.fraction * st.cash - o.fixedFee) / (ep * (1 + o.feeRate));
  if (!(u > 0)) return;
  const fee = u * ep * o.feeRate + o.fixedFee;
  st.cash -= d * u * ep + fee;
  st.fees += fee;
  st.q = d * u;
  st.side = d;
  st.units = u;
  st.entryPx = ep;
  st.entryIdx = t;
  st.entryFee = fee;
  st.slLvl = d > 0 ? ep * (1 - o.stopLoss) : ep * (1 + o.stopLoss);
  st.tpLvl = d > 0 ? ep * (1 + o.takeProfit) : ep * (1 - o.takeProfit);
  const sl = o.stopLoss > 0;
  const tp = o.takeProfit > 0;
  st.loTrig = d > 0 ? (sl ? st.slLvl : -Infinity) : tp ? st.tpLvl : -Infinity;
  st.hiTrig = d > 0 ? (tp ? st.tpLvl : Infinity) : sl ? st.slLvl : Infinity;
}

/** Apply the pending order at bar t's open. Rare path (only on target changes). */
function fillPending(
  st: ExecState,
  o: ResolvedOptions,
  data: OhlcvColumns,
  t: number,
  d: number,
  trades: Trade[] | null,
): void {
  if (d === st.side) return;
  if (st.side !== 0) closePos(st, o, data, t, 0, trades);
  if (d !== 0) openPos(st, o, data, t, d);
}

/**
 * Stop-loss (first) and take-profit against bar t's low/high; gaps fill at the open. The open is the
 * bar's first price, so a bar that opens through the take-profit has hit it before anything else:
 * "stop-loss first" is only for a bar whose path between the levels is unknown. (Both levels cannot be
 * beyond one open: they sit on either side of the entry.)
 */
function checkStops(
  st: ExecState,
  o: ResolvedOptions,
  data: OhlcvColumns,
  t: number,
  trades: Trade[] | null,
): void {
  const tp = o.takeProfit > 0;
  if (st.side > 0) {
    if (tp && data.open[t]! >= st.tpLvl) closePos(st, o, data, t, 2, trades);
    else if (o.stopLoss > 0 && data.low[t]! <= st.slLvl) closePos(st, o, data, t, 1, trades);
    else if (tp && data.high[t]! >= st.tpLvl) closePos(st, o, data, t, 2, trades);
  } else {
    if (tp && data.open[t]! <= st.tpLvl) closePos(st, o, data, t, 2, trades);
    else if (o.stopLoss > 0 && data.high[t]! >= st.slLvl) closePos(st, o, data, t, 1, trades);
    else if (tp && data.low[t]! <= st.tpLvl) closePos(st, o, data, t, 2, trades);
  }
}

/**
 * Run one strategy's execution over bars [t0, t1), given the bars where its target changes
 * (`idx[0..m)`, ascending) and the new targets (`val`). At each bar: fill the pending order at the
 * open, check stops, mark equity at the close, update the metric accumulators; a target change at
 * bar c queues an order for bar c + 1's open. Events (fills, stops) are handled here; the stretches
 * between them run in {@link span} / {@link flatSpan}. @internal
 */
export function execBlock(
  st: ExecState,
  o: ResolvedOptions,
  data: OhlcvColumns,
  idx: Int32Array,
  val: Int8Array,
  m: number,
  t0: number,
  t1: number,
  equity: Float64Array | null,
  trades: Trade[] | null,
): void {
  const stops = o.stopLoss > 0 || o.takeProfit > 0;
  let t = t0;
  let ci = 0;
  while (t < t1) {
    const d = st.pending;
    if (d !== NONE) {
      st.pending = NONE;
      fillPending(st, o, data, t, d, trades);
    }
    if (stops && st.side !== 0) checkStops(st, o, data, t, trades);
    const end = ci < m ? idx[ci]! + 1 : t1;
    if (st.q === 0) t = flatSpan(st, t, end, equity);
    else t = stops ? spanStops(st, data, t, end, equity) : span(st, data, t, end, equity);
    if (t === end && ci < m) {
      st.pending = val[ci]!;
      ci++;
    }
  }
}

/**
 * Bars [t, end) while flat: equity is the cash, so after the first bar (which may follow an exit)
 * every per-bar return is 0 and the drawdown state has a closed form. O(1) apart from the equity fill.
 */
function flatSpan(st: ExecState, t: number, end: number, equity: Float64Array | null): number {
  const e = st.cash;
  const lastE = st.lastE;
  if (lastE > 0 && e !== lastE) {
    const r = e / lastE - 1;
    if (st.shift !== st.shift) st.shift = r;
    const x = r - st.shift;
    st.sumX += x;
    st.sumX2 += x * x;
    st.nz++;
    const dn = (r - Math.abs(r)) * 0.5;
    st.sumD2 += dn * dn;
  }
  st.lastE = e;
  const last = end - 1;
  if (e >= st.peak) {
    if (t - 1 - st.peakIdx > st.mddDur) st.mddDur = t - 1 - st.peakIdx;
    st.peak = e;
    st.peakIdx = last;
  } else {
    if (e < st.peak * (1 - st.mdd)) st.mdd = (st.peak - e) / st.peak;
    if (last - st.peakIdx > st.mddDur) st.mddDur = last - st.peakIdx;
  }
  if (equity !== null) equity.fill(e, t, end);
  return end;
}

/**
 * The shift of the variance sums, fixed at a run's first bar in a position: that bar's own return,
 * computed exactly as the loop computes it, so its shifted value is exactly 0 and a run whose returns
 * are all equal (e.g. a position held at an unchanged price) sums exactly zero variance. (A return
 * the run never earned, such as the price move into the entry bar measured against the equity the
 * position would have had at the previous close, can be orders of magnitude off: its shifted sums
 * then cancel to noise, which reported a held flat position with a non-zero volatility, and a
 * leveraged entry after a gap with zero volatility.) 0 when that bar's return is not summed.
 */
function varianceShift(
  close: Float64Array,
  t: number,
  cash: number,
  q: number,
  lastE: number,
): number {
  if (!(lastE > 0)) return 0;
  const r = (cash + q * close[t]!) / lastE - 1;
  return Number.isFinite(r) ? r : 0;
}

/**
 * Mark bars [t, end) while holding a position: no target changes happen before `end − 1`, so the
 * position is fixed and the loop has no calls and reads no targets. Returns `end`.
 */
function span(
  st: ExecState,
  data: OhlcvColumns,
  t: number,
  end: number,
  equity: Float64Array | null,
): number {
  const close = data.close;
  const cash = st.cash;
  const q = st.q;
  let lastE = st.lastE;
  let peak = st.peak;
  let peakIdx = st.peakIdx;
  let mdd = st.mdd;
  let keep = 1 - mdd;
  let mddDur = st.mddDur;
  let shift = st.shift;
  // Variance shift, fixed before the loop so the loop has no first-time test.
  if (shift !== shift) shift = varianceShift(close, t, cash, q, lastE);
  let sumX = st.sumX;
  let sumX2 = st.sumX2;
  let nz = st.nz;
  let sumD2 = st.sumD2;
  const start = t;
  for (;;) {
    const e = cash + q * close[t]!;
    // (No t > 0 test: a position can first exist at bar 1. Zero returns are summed like any other.)
    if (lastE > 0) {
      const r = e / lastE - 1;
      // Variance from sums shifted by a typical return, so nearly constant returns do not cancel.
      const x = r - shift;
      sumX += x;
      sumX2 += x * x;
      nz++;
      // min(r, 0) without a branch: a sign branch on a fresh quotient mispredicts half the time.
      const dn = (r - Math.abs(r)) * 0.5;
      sumD2 += dn * dn;
    }
    lastE = e;
    if (e >= peak) {
      // A new peak ends any underwater stretch at bar t − 1 (0 when t − 1 was the peak).
      if (t - 1 - peakIdx > mddDur) mddDur = t - 1 - peakIdx;
      peak = e;
      peakIdx = t;
    } else if (e < peak * keep) {
      // Divide only when a new maximum drawdown is possible.
      mdd = (peak - e) / peak;
      keep = 1 - mdd;
    }
    if (equity !== null) equity[t] = e;
    t++;
    if (t >= end) break;
  }
  st.lastE = lastE;
  st.peak = peak;
  // Close the books on a stretch still underwater at the span's last bar (t − 1).
  if (lastE < peak && t - 1 - peakIdx > mddDur) mddDur = t - 1 - peakIdx;
  st.peakIdx = peakIdx;
  st.mdd = mdd;
  st.mddDur = mddDur;
  st.shift = shift;
  st.sumX = sumX;
  st.sumX2 = sumX2;
  st.nz = nz;
  st.sumD2 = sumD2;
  st.exposed += t - start;
  return t;
}

/**
 * {@link span} that also stops before the first bar whose low/high reaches a stop level (the caller
 * then runs the exact stop logic at that bar's open). Returns that bar's index, or `end`.
 */
function spanStops(
  st: ExecState,
  data: OhlcvColumns,
  t: number,
  end: number,
  equity: Float64Array | null,
): number {
  const close = data.close;
  const low = data.low;
  const high = data.high;
  const lo = st.loTrig;
  const hi = st.hiTrig;
  const cash = st.cash;
  const q = st.q;
  let lastE = st.lastE;
  let peak = st.peak;
  let peakIdx = st.peakIdx;
  let mdd = st.mdd;
  let keep = 1 - mdd;
  let mddDur = st.mddDur;
  let shift = st.shift;
  // Variance shift, fixed before the loop so the loop has no first-time test.
  if (shift !== shift) shift = varianceShift(close, t, cash, q, lastE);
  let sumX = st.sumX;
  let sumX2 = st.sumX2;
  let nz = st.nz;
  let sumD2 = st.sumD2;
  const start = t;
  for (;;) {
    const e = cash + q * close[t]!;
    // (No t > 0 test: a position can first exist at bar 1. Zero returns are summed like any other.)
    if (lastE > 0) {
      const r = e / lastE - 1;
      // Variance from sums shifted by a typical return, so nearly constant returns do not cancel.
      const x = r - shift;
      sumX += x;
      sumX2 += x * x;
      nz++;
      // min(r, 0) without a branch: a sign branch on a fresh quotient mispredicts half the time.
      const dn = (r - Math.abs(r)) * 0.5;
      sumD2 += dn * dn;
    }
    lastE = e;
    if (e >= peak) {
      // A new peak ends any underwater stretch at bar t − 1 (0 when t − 1 was the peak).
      if (t - 1 - peakIdx > mddDur) mddDur = t - 1 - peakIdx;
      peak = e;
      peakIdx = t;
    } else if (e < peak * keep) {
      // Divide only when a new maximum drawdown is possible.
      mdd = (peak - e) / peak;
      keep = 1 - mdd;
    }
    if (equity !== null) equity[t] = e;
    t++;
    if (t >= end) break;
    if (low[t]! <= lo || high[t]! >= hi) break;
  }
  st.lastE = lastE;
  st.peak = peak;
  // Close the books on a stretch still underwater at the span's last bar (t − 1).
  if (lastE < peak && t - 1 - peakIdx > mddDur) mddDur = t - 1 - peakIdx;
  st.peakIdx = peakIdx;
  st.mdd = mdd;
  st.mddDur = mddDur;
  st.shift = shift;
  st.sumX = sumX;
  st.sumX2 = sumX2;
  st.nz = nz;
  st.sumD2 = sumD2;
  st.exposed += t - start;
  return t;
}

/**
 * Variances below this fraction of the mean square count as zero: about 64 ulps of the one-pass
 * formula's cancellation error. Shared with the reference engine in the tests. @internal
 */
export const ZERO_VARIANCE_RATIO = 64 * Number.EPSILON;

/** Turn a finished run's accumulators into {@link Metrics}. @internal */
export function finalizeMetrics(st: ExecState, o: ResolvedOptions, n: number): Metrics {
  const init = o.initialCapital;
  const fin = st.lastE;
  const ppy = o.periodsPerYear;
  const nR = n - 1;
  const years = nR / ppy;
  const growth = fin / init;
  const cagr = fin <= 0 ? -1 : Math.pow(growth, 1 / years) - 1;
  // Σ r over the counted returns is sumX + nz · shift; returns not counted are zero.
  const k = st.nz > 0 ? st.shift : 0;
  const mean = (st.sumX + st.nz * k) / nR;
  // Add the skipped zero returns back into the shifted sums: each contributes (0 − shift).
  const z = nR - st.nz;
  const s1 = st.sumX - z * k;
  const s2 = st.sumX2 + z * k * k;
  const varR = nR > 1 ? (s2 - (s1 * s1) / nR) / (nR - 1) : 0;
  // A variance this small next to the returns' mean square is rounding noise (the returns are
  // constant to double precision): report zero volatility and no Sharpe rather than a ratio of noise.
  // s1 and s2 are sums of (r − shift); Σr² = s2 + 2·shift·s1 + nR·shift².
  const meanSquare = nR > 1 ? (s2 + 2 * k * s1 + nR * k * k) / (nR - 1) : 0;
  const sd = nR > 1 && varR > ZERO_VARIANCE_RATIO * meanSquare ? Math.sqrt(varR) : 0;
  const dsd = Math.sqrt(st.sumD2 / nR);
  const ann = Math.sqrt(ppy);
  const pf = st.grossLoss > 0 ? st.grossProfit / st.grossLoss : st.grossProfit > 0 ? Infinity : 0;
  return {
    bars: n,
    initialEquity: init,
    finalEquity: fin,
    totalReturn: growth - 1,
    cagr,
    volatility: sd * ann,
    sharpe: sd > 0 ? (mean / sd) * ann : 0,
    sortino: dsd > 0 ? (mean / dsd) * ann : 0,
    maxDrawdown: st.mdd,
    maxDrawdownDuration: st.mddDur,
    calmar: st.mdd > 0 ? cagr / st.mdd : 0,
    winRate: st.nTrades > 0 ? st.wins / st.nTrades : 0,
    profitFactor: pf,
    trades: st.nTrades,
    exposure: st.exposed / n,
    fees: st.fees,
  };
}

/**
 * Run one compiled plan over all bars, block by block. Shared by `backtest` and the top-k reruns
 * of `sweep`. @internal
 */
export function runPlan(
  data: OhlcvColumns,
  n: number,
  plan: Plan,
  reg: StreamRegistry,
  o: ResolvedOptions,
): BacktestResult {
  let equity: Float64Array | null = null;
  if (o.equity instanceof Float64Array) {
    if (o.equity.length < n) {
      throw new InvalidOptionError(
        'equity',
        describe(o.equity),
        `buffer must hold at least ${n} values (one per bar)`,
      );
    }
    equity = o.equity;
  } else if (o.equity) {
    equity = new Float64Array(n);
  }
  const trades: Trade[] | null = o.trades ? [] : null;
  const signals = o.signals ? new Int8Array(n) : null;
  const st = new ExecState(o.initialCapital);
  const close = data.close;
  const B = reg.blockSize;
  const idx = SCRATCH_IDX;
  const val = SCRATCH_VAL;
  let cur = 0;
  for (let t0 = 0; t0 < n; t0 += B) {
    const t1 = Math.min(n, t0 + B);
    reg.fillAll(close, t0, t1);
    const m = plan.changes(idx, val, t0, t1, close);
    if (signals !== null) {
      let from = t0;
      for (let i = 0; i < m; i++) {
        signals.fill(cur, from, idx[i]);
        cur = val[i]!;
        from = idx[i]!;
      }
      signals.fill(cur, from, t1);
    }
    execBlock(st, o, data, idx, val, m, t0, t1, equity, trades);
  }
  const metrics = finalizeMetrics(st, o, n);
  const out: { metrics: Metrics; equity?: Float64Array; trades?: Trade[]; signals?: Int8Array } = {
    metrics,
  };
  if (equity !== null) out.equity = o.equity === true ? equity : equity.subarray(0, n);
  if (trades !== null) out.trades = trades;
  if (signals !== null) out.signals = signals;
  return out;
}

/**
 * Backtest one strategy over columnar OHLCV data in a single pass.
 *
 * Semantics: the strategy's target for bar t (−1 short, 0 flat, 1 long) uses bars ≤ t only and is
 * filled at the open of bar t + 1 (no look-ahead); the position changes only when the target changes.
 * Fills pay `slippageBps` adversely plus `feeBps` of notional and `fixedFee` per side. Stops are checked
 * from the fill bar on, stop-loss before take-profit, against each bar's low/high (a gap through the
 * level fills at the open, and a bar opening through the take-profit takes it there first); after a
 * stop the position stays flat until the target changes. Equity is marked at every close; a position
 * still open at the end is not closed.
 *
 * Cost: O(bars) time, O(min(bars, 2048)) scratch memory plus the optional equity curve.
 * Throws {@link InvalidStrategyError}, {@link InvalidOptionError} or {@link OhlcvValidationError}.
 *
 * @example
 * const data = generateOhlcv({ bars: 10_000, seed: 7 });
 * const { metrics } = backtest(data, { kind: 'sma-cross', fast: 10, slow: 50 }, { feeBps: 1 });
 */
export function backtest(
  data: OhlcvColumns,
  strategy: Strategy,
  opts?: BacktestOptions,
): BacktestResult {
  const o = resolveOptions(opts);
  const n = checkColumns(data);
  const B = Math.min(n, BLOCK_SIZE);
  const reg = new StreamRegistry(B);
  const plan = compileStrategy(strategy, data, reg, true);
  return runPlan(data, n, plan, reg, o);
}

/**
 * Resolve and validate `options` once and return a backtest function that reuses them, for hot
 * loops (many strategies or datasets with the same costs). Same results as {@link backtest}.
 *
 * @example
 * const run = createBacktest({ feeBps: 1, slippageBps: 2 });
 * const a = run(data, { kind: 'sma-cross', fast: 10, slow: 50 });
 */
export function createBacktest(
  options?: BacktestOptions,
): (data: OhlcvColumns, strategy: Strategy) => BacktestResult {
  const o = resolveOptions(options);
  return (data, strategy) => {
    const n = checkColumns(data);
    const B = Math.min(n, BLOCK_SIZE);
    const reg = new StreamRegistry(B);
    const plan = compileStrategy(strategy, data, reg, true);
    return runPlan(data, n, plan, reg, o);
  };
}
