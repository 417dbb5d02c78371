/**
 * An independent, deliberately naive backtest engine used as the reference in tests and as the
 * baseline in benchmarks. It is event-driven: the data becomes one object per bar, the strategy
 * sees bars one at a time and recomputes its indicators from the history it kept, and a broker
 * object fills orders. Written for clarity, not speed. Not shipped in dist.
 */
import { ZERO_VARIANCE_RATIO } from '../src/engine.js';
import type {
  BacktestOptions,
  ExitReason,
  Metrics,
  OhlcvColumns,
  StrategySpec,
  Trade,
} from '../src/types.js';

interface Bar {
  index: number;
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

/** A strategy that decides a raw target (−1, 0, 1) at each bar's close from the bars seen so far. */
interface NaiveStrategy {
  onBar(bar: Bar, history: Bar[]): number;
}

function mean(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

class SmaCross implements NaiveStrategy {
  constructor(
    private fast: number,
    private slow: number,
  ) {}
  onBar(bar: Bar, history: Bar[]): number {
    if (history.length < this.slow) return 0;
    const f = mean(history.slice(-this.fast).map((b) => b.close));
    const s = mean(history.slice(-this.slow).map((b) => b.close));
    return f > s ? 1 : -1;
  }
}

class EmaCross implements NaiveStrategy {
  private f: number | undefined;
  private s: number | undefined;
  constructor(
    private fast: number,
    private slow: number,
  ) {}
  onBar(bar: Bar, history: Bar[]): number {
    const af = 2 / (this.fast + 1);
    const as = 2 / (this.slow + 1);
    this.f = this.f === undefined ? bar.close : this.f + af * (bar.close - this.f);
    this.s = this.s === undefined ? bar.close : this.s + as * (bar.close - this.s);
    if (history.length < this.slow) return 0;
    return this.f > this.s ? 1 : -1;
  }
}

class RsiReversion implements NaiveStrategy {
  private gains: number[] = [];
  private losses: number[] = [];
  private avgGain = 0;
  private avgLoss = 0;
  private state = 0;
  constructor(
    private period: number,
    private lower: number,
    private upper: number,
    private exit: number,
  ) {}
  onBar(bar: Bar, history: Bar[]): number {
    if (history.length < 2) return 0;
    const change = bar.close - history[history.length - 2]!.close;
    const gain = Math.max(change, 0);
    const loss = Math.max(-change, 0);
    const p = this.period;
    if (this.gains.length < p) {
      this.gains.push(gain);
      this.losses.push(loss);
      if (this.gains.length < p) return 0;
      this.avgGain = mean(this.gains);
      this.avgLoss = mean(this.losses);
    } else {
      this.avgGain = (this.avgGain * (p - 1) + gain) / p;
      this.avgLoss = (this.avgLoss * (p - 1) + loss) / p;
    }
    let rsi: number;
    if (this.avgLoss === 0) rsi = this.avgGain === 0 ? 50 : 100;
    else rsi = 100 - 100 / (1 + this.avgGain / this.avgLoss);
    if (rsi < this.lower) this.state = 1;
    else if (rsi > this.upper) this.state = -1;
    else if (this.state === 1 && rsi >= this.exit) this.state = 0;
    else if (this.state === -1 && rsi <= this.exit) this.state = 0;
    return this.state;
  }
}

class Bollinger implements NaiveStrategy {
  private state = 0;
  constructor(
    private period: number,
    private k: number,
  ) {}
  onBar(bar: Bar, history: Bar[]): number {
    if (history.length < this.period) return 0;
    const window = history.slice(-this.period).map((b) => b.close);
    const m = mean(window);
    const sd = Math.sqrt(mean(window.map((x) => (x - m) * (x - m))));
    if (bar.close > m + this.k * sd) this.state = 1;
    else if (bar.close < m - this.k * sd) this.state = -1;
    else if (this.state === 1 && bar.close < m) this.state = 0;
    else if (this.state === -1 && bar.close > m) this.state = 0;
    return this.state;
  }
}

class Targets implements NaiveStrategy {
  constructor(private targets: ArrayLike<number>) {}
  onBar(bar: Bar): number {
    const v = this.targets[bar.index]!;
    return v > 0 ? 1 : v < 0 ? -1 : 0;
  }
}

function makeStrategy(spec: StrategySpec): NaiveStrategy {
  switch (spec.kind) {
    case 'sma-cross':
      return new SmaCross(spec.fast, spec.slow);
    case 'ema-cross':
      return new EmaCross(spec.fast, spec.slow);
    case 'rsi-reversion':
      return new RsiReversion(spec.period, spec.lower, spec.upper, spec.exit ?? 50);
    case 'bollinger-breakout':
      return new Bollinger(spec.period, spec.k);
    case 'targets':
      return new Targets(spec.targets);
  }
}

interface Position {
  side: 1 | -1;
  units: number;
  entryPrice: number;
  entryIndex: number;
  entryFee: number;
  stopPrice: number | undefined;
  takePrice: number | undefined;
}

/** Holds cash and at most one position; fills orders with slippage and fees. */
class Broker {
  cash: number;
  position: Position | undefined;
  trades: Trade[] = [];
  feesPaid = 0;
  constructor(
    cash: number,
    private opts: Required<
      Omit<BacktestOptions, 'equity' | 'trades' | 'signals' | 'stopLoss' | 'takeProfit'>
    > &
      Pick<BacktestOptions, 'stopLoss' | 'takeProfit'>,
  ) {
    this.cash = cash;
  }
  private feeFor(units: number, price: number): number {
    return (units * price * this.opts.feeBps) / 10_000 + this.opts.fixedFee;
  }
  open(side: 1 | -1, price: number, bar: Bar): void {
    const slip = this.opts.slippageBps / 10_000;
    const fill = side === 1 ? price * (1 + slip) : price * (1 - slip);
    const sizing = this.opts.sizing;
    let units: number;
    if (sizing.kind === 'units') units = sizing.units;
    else {
      const fraction = sizing.kind === 'fraction' ? sizing.fraction : 1;
      // Spend `fraction` of equity on units plus their fees.
      units =
        (fraction * this.cash - this.opts.fixedFee) / (fill * (1 + this.opts.feeBps / 10_000));
    }
    if (!(units > 0)) return;
    const fee = this.feeFor(units, fill);
    this.cash -= side * units * fill + fee;
    this.feesPaid += fee;
    const sl = this.opts.stopLoss;
    const tp = this.opts.takeProfit;
    this.position = {
      side,
      units,
      entryPrice: fill,
      entryIndex: bar.index,
      entryFee: fee,
      stopPrice: sl === undefined ? undefined : fill * (1 - side * sl),
      takePrice: tp === undefined ? undefined : fill * (1 + side * tp),
    };
  }
  close(price: number, bar: Bar, reason: ExitReason, bars: Bar[]): void {
    const p = this.position;
    if (p === undefined) return;
    const slip = this.opts.slippageBps / 10_000;
    const fill = p.side === 1 ? price * (1 - slip) : price * (1 + slip);
    const fee = this.feeFor(p.units, fill);
    this.cash += p.side * p.units * fill - fee;
    this.feesPaid += fee;
    const pnl = p.side * p.units * (fill - p.entryPrice) - p.entryFee - fee;
    this.trades.push({
      side: p.side,
      entryIndex: p.entryIndex,
      exitIndex: bar.index,
      entryTime: bars[p.entryIndex]!.time,
      exitTime: bar.time,
      entryPrice: p.entryPrice,
      exitPrice: fill,
      units: p.units,
      pnl,
      returnPct: pnl / (p.units * p.entryPrice),
      fees: p.entryFee + fee,
      exitReason: reason,
    });
    this.position = undefined;
  }
  equityAt(price: number): number {
    const p = this.position;
    return p === undefined ? this.cash : this.cash + p.side * p.units * price;
  }
}

/** Result of the naive engine (arrays instead of typed arrays). */
export interface NaiveResult {
  metrics: Metrics;
  equity: number[];
  trades: Trade[];
  /** The masked target decided at each bar's close. */
  decisions: number[];
}

/** Run the naive event-driven engine with the same semantics as `backtest`. */
export function naiveBacktest(
  data: OhlcvColumns,
  spec: StrategySpec,
  options: BacktestOptions = {},
): NaiveResult {
  const opts = {
    initialCapital: options.initialCapital ?? 10_000,
    feeBps: options.feeBps ?? 0,
    fixedFee: options.fixedFee ?? 0,
    slippageBps: options.slippageBps ?? 0,
    sizing: options.sizing ?? { kind: 'all-in' as const },
    periodsPerYear: options.periodsPerYear ?? 252,
    ...(options.stopLoss !== undefined ? { stopLoss: options.stopLoss } : {}),
    ...(options.takeProfit !== undefined ? { takeProfit: options.takeProfit } : {}),
  };
  // One object per bar: the event stream.
  const bars: Bar[] = [];
  for (let i = 0; i < data.close.length; i++) {
    bars.push({
      index: i,
      time: data.time[i]!,
      open: data.open[i]!,
      high: data.high[i]!,
      low: data.low[i]!,
      close: data.close[i]!,
    });
  }
  const strategy = makeStrategy(spec);
  const direction = spec.direction ?? (spec.kind === 'targets' ? 'both' : 'long');
  const broker = new Broker(opts.initialCapital, opts);
  const history: Bar[] = [];
  const equity: number[] = [];
  const decisions: number[] = [];
  let lastTarget = 0;
  let order: number | undefined;
  let exposedBars = 0;

  for (const bar of bars) {
    // 1. Orders decided at the previous close fill at this bar's open.
    if (order !== undefined) {
      const want = order;
      order = undefined;
      const have = broker.position?.side ?? 0;
      if (want !== have) {
        if (have !== 0) broker.close(bar.open, bar, 'signal', bars);
        if (want !== 0) broker.open(want as 1 | -1, bar.open, bar);
      }
    }
    // 2. Protective exits during the bar: a take-profit the open already reached (the open comes
    // first), else stop-loss first, then take-profit.
    const pos = broker.position;
    if (pos !== undefined) {
      if (pos.side === 1) {
        if (pos.takePrice !== undefined && bar.open >= pos.takePrice) {
          broker.close(bar.open, bar, 'take-profit', bars);
        } else if (pos.stopPrice !== undefined && bar.low <= pos.stopPrice) {
          broker.close(Math.min(bar.open, pos.stopPrice), bar, 'stop-loss', bars);
        } else if (pos.takePrice !== undefined && bar.high >= pos.takePrice) {
          broker.close(Math.max(bar.open, pos.takePrice), bar, 'take-profit', bars);
        }
      } else {
        if (pos.takePrice !== undefined && bar.open <= pos.takePrice) {
          broker.close(bar.open, bar, 'take-profit', bars);
        } else if (pos.stopPrice !== undefined && bar.high >= pos.stopPrice) {
          broker.close(Math.max(bar.open, pos.stopPrice), bar, 'stop-loss', bars);
        } else if (pos.takePrice !== undefined && bar.low <= pos.takePrice) {
          broker.close(Math.min(bar.open, pos.takePrice), bar, 'take-profit', bars);
        }
      }
    }
    // 3. Mark to market at the close.
    equity.push(broker.equityAt(bar.close));
    if (broker.position !== undefined) exposedBars++;
    // 4. The strategy sees the closed bar and decides.
    history.push(bar);
    let target = strategy.onBar(bar, history);
    if (target > 0 && direction === 'short') target = 0;
    if (target < 0 && direction === 'long') target = 0;
    decisions.push(target);
    if (target !== lastTarget) {
      lastTarget = target;
      order = target;
    }
  }
  return {
    metrics: naiveMetrics(equity, broker, opts.initialCapital, opts.periodsPerYear, exposedBars),
    equity,
    trades: broker.trades,
    decisions,
  };
}

function naiveMetrics(
  equity: number[],
  broker: Broker,
  initial: number,
  ppy: number,
  exposedBars: number,
): Metrics {
  const n = equity.length;
  const returns: number[] = [];
  for (let t = 1; t < n; t++) {
    const prev = equity[t - 1]!;
    returns.push(prev > 0 ? equity[t]! / prev - 1 : 0);
  }
  const m = mean(returns);
  const variance = returns.reduce((s, r) => s + (r - m) ** 2, 0) / (returns.length - 1);
  const meanSquare = returns.reduce((s, r) => s + r * r, 0) / (returns.length - 1);
  // Same rule as the engine: a variance that is rounding noise next to the mean square is zero.
  const sd =
    returns.length > 1 && variance > ZERO_VARIANCE_RATIO * meanSquare ? Math.sqrt(variance) : 0;
  const downside = Math.sqrt(returns.reduce((s, r) => s + Math.min(r, 0) ** 2, 0) / returns.length);
  let peak = initial;
  let peakAt = 0;
  let maxDd = 0;
  let maxDur = 0;
  equity.forEach((e, t) => {
    if (e >= peak) {
      peak = e;
      peakAt = t;
    } else {
      maxDd = Math.max(maxDd, (peak - e) / peak);
      maxDur = Math.max(maxDur, t - peakAt);
    }
  });
  const final = equity[n - 1]!;
  const years = (n - 1) / ppy;
  const cagr = final <= 0 ? -1 : (final / initial) ** (1 / years) - 1;
  const trades = broker.trades;
  const wins = trades.filter((t) => t.pnl > 0);
  const grossProfit = wins.reduce((s, t) => s + t.pnl, 0);
  const grossLoss = trades.filter((t) => t.pnl < 0).reduce((s, t) => s - t.pnl, 0);
  return {
    bars: n,
    initialEquity: initial,
    finalEquity: final,
    totalReturn: final / initial - 1,
    cagr,
    volatility: sd * Math.sqrt(ppy),
    sharpe: sd > 0 ? (m / sd) * Math.sqrt(ppy) : 0,
    sortino: downside > 0 ? (m / downside) * Math.sqrt(ppy) : 0,
    maxDrawdown: maxDd,
    maxDrawdownDuration: maxDur,
    calmar: maxDd > 0 ? cagr / maxDd : 0,
    winRate: trades.length > 0 ? wins.length / trades.length : 0,
    profitFactor: grossLoss > 0 ? grossProfit / grossLoss : grossProfit > 0 ? Infinity : 0,
    trades: trades.length,
    exposure: exposedBars / n,
    fees: broker.feesPaid,
  };
}
