/**
 * Columnar market data: one bar per index, every column a `Float64Array` of the same length.
 * `time` is epoch milliseconds (strictly increasing). Columns may sit on a `SharedArrayBuffer`.
 */
export interface OhlcvColumns {
  readonly time: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
}

/**
 * Which sides a strategy may take. `'long'` (default) turns short signals into flat,
 * `'short'` turns long signals into flat, `'both'` trades long and short.
 */
export type Direction = 'long' | 'short' | 'both';

/** Fast/slow simple-moving-average crossover on close: long while SMA(fast) > SMA(slow), else short (or flat). Flat until bar `slow - 1`. */
export interface SmaCrossStrategy {
  readonly kind: 'sma-cross';
  /** Fast window in bars, integer ≥ 1. */
  readonly fast: number;
  /** Slow window in bars, integer > fast. */
  readonly slow: number;
  readonly direction?: Direction;
}

/**
 * Fast/slow exponential-moving-average crossover on close (`alpha = 2 / (n + 1)`, seeded with the
 * first close): long while EMA(fast) > EMA(slow), else short (or flat). Flat until bar `slow - 1`.
 */
export interface EmaCrossStrategy {
  readonly kind: 'ema-cross';
  readonly fast: number;
  readonly slow: number;
  readonly direction?: Direction;
}

/**
 * RSI mean reversion (Wilder RSI on close). Enters long when RSI < `lower`, short when RSI > `upper`;
 * a long exits when RSI ≥ `exit`, a short when RSI ≤ `exit`; otherwise holds. Flat until bar `period`.
 */
export interface RsiReversionStrategy {
  readonly kind: 'rsi-reversion';
  /** RSI period in bars, integer ≥ 2. */
  readonly period: number;
  /** Oversold level, 0 < lower < exit. */
  readonly lower: number;
  /** Overbought level, exit < upper < 100. */
  readonly upper: number;
  /** Exit level, default 50. */
  readonly exit?: number;
  readonly direction?: Direction;
}

/**
 * Bollinger breakout on close: long when close > SMA + k·σ, short when close < SMA − k·σ
 * (population σ over `period` bars); a long exits when close < SMA, a short when close > SMA.
 * Flat until bar `period - 1`.
 */
export interface BollingerBreakoutStrategy {
  readonly kind: 'bollinger-breakout';
  /** Window in bars, integer ≥ 2. */
  readonly period: number;
  /** Band width in standard deviations, > 0. */
  readonly k: number;
  readonly direction?: Direction;
}

/**
 * Precomputed target positions, one per bar: > 0 long, < 0 short, 0 (or NaN) flat. `targets[t]` is
 * decided at the close of bar t and filled at the open of bar t + 1. Plain data, so it crosses threads.
 */
export interface TargetsStrategy {
  readonly kind: 'targets';
  readonly targets: ArrayLike<number>;
  /** Default `'both'` here (targets are explicit). */
  readonly direction?: Direction;
}

/** Every built-in strategy spec. All are plain, structured-cloneable data. */
export type StrategySpec =
  | SmaCrossStrategy
  | EmaCrossStrategy
  | RsiReversionStrategy
  | BollingerBreakoutStrategy
  | TargetsStrategy;

/** The `kind` of a parameterised strategy family that `sweep` accepts. */
export type StrategyFamily = Exclude<StrategySpec['kind'], 'targets'>;

/**
 * In-thread custom strategy: returns one target per bar (> 0 long, < 0 short, 0/NaN flat), where
 * `targets[t]` may only use bars ≤ t. Not cloneable; for worker threads use a spec or `kind: 'targets'`.
 */
export type SignalFunction = (data: OhlcvColumns) => ArrayLike<number>;

/** Anything `backtest` accepts as a strategy. */
export type Strategy = StrategySpec | SignalFunction;

/** Position sizing applied at each entry. */
export type Sizing =
  /** Invest `fraction` of current equity (after fees); `{ kind: 'fraction', fraction: 1 }` is all-in. */
  | { readonly kind: 'fraction'; readonly fraction: number }
  /** Trade a fixed number of units (fractional allowed). */
  | { readonly kind: 'units'; readonly units: number }
  /** Invest all equity (after fees). Same as `{ kind: 'fraction', fraction: 1 }`. */
  | { readonly kind: 'all-in' };

/** Options of `backtest` and `sweep`. */
export interface BacktestOptions {
  /** Starting cash, > 0. Default 10 000. */
  readonly initialCapital?: number;
  /** Proportional fee per side in basis points of traded notional, ≥ 0. Default 0. */
  readonly feeBps?: number;
  /** Fixed fee per fill (per side), ≥ 0, in cash units. Default 0. */
  readonly fixedFee?: number;
  /** Adverse slippage per fill in basis points of price, ≥ 0. Default 0. */
  readonly slippageBps?: number;
  /** Position sizing. Default all-in. */
  readonly sizing?: Sizing;
  /** Stop-loss as a fraction of the entry price (0.02 = 2 %), checked against each bar's low/high. */
  readonly stopLoss?: number;
  /** Take-profit as a fraction of the entry price, checked against each bar's high/low. */
  readonly takeProfit?: number;
  /** Bars per year for annualisation (252 daily, 252·390 minute bars...). Default 252. */
  readonly periodsPerYear?: number;
  /**
   * Return the per-bar equity curve (mark at each close). `true` allocates a `Float64Array(bars)`;
   * pass a `Float64Array` of at least `bars` to reuse a buffer. Default false.
   */
  readonly equity?: boolean | Float64Array;
  /** Return the list of closed trades. Default false. */
  readonly trades?: boolean;
  /** Return the target decided at each bar's close (−1, 0, 1 after the direction mask). Default false. */
  readonly signals?: boolean;
}

/** Why a trade was closed. */
export type ExitReason = 'signal' | 'stop-loss' | 'take-profit';

/** One closed round trip. Plain data. */
export interface Trade {
  /** 1 long, −1 short. */
  readonly side: 1 | -1;
  /** Bar index of the entry fill (at that bar's open). */
  readonly entryIndex: number;
  /** Bar index of the exit fill. */
  readonly exitIndex: number;
  readonly entryTime: number;
  readonly exitTime: number;
  /** Entry fill price including slippage. */
  readonly entryPrice: number;
  /** Exit fill price including slippage. */
  readonly exitPrice: number;
  /** Units traded (positive). */
  readonly units: number;
  /** Net P&L in cash, after both fills' fees. */
  readonly pnl: number;
  /** `pnl` divided by entry notional (`units · entryPrice`). */
  readonly returnPct: number;
  /** Fees paid on both fills. */
  readonly fees: number;
  readonly exitReason: ExitReason;
}

/** Performance metrics of one run. Plain data; ratios are fractions (0.1 = 10 %). */
export interface Metrics {
  /** Number of bars. */
  readonly bars: number;
  readonly initialEquity: number;
  /** Equity marked at the last close (open positions are not closed). */
  readonly finalEquity: number;
  /** finalEquity / initialEquity − 1. */
  readonly totalReturn: number;
  /** Compound annual growth over (bars − 1) / periodsPerYear years; −1 if equity ended ≤ 0. */
  readonly cagr: number;
  /** Sample standard deviation of per-bar returns × √periodsPerYear. */
  readonly volatility: number;
  /** mean / std of per-bar returns × √periodsPerYear (risk-free 0); 0 when std is 0. */
  readonly sharpe: number;
  /** mean / downside deviation (√(Σ min(r,0)² / N)) × √periodsPerYear; 0 when there is no downside. */
  readonly sortino: number;
  /** Largest peak-to-trough fall of the equity curve, as a positive fraction of the peak. */
  readonly maxDrawdown: number;
  /** Longest stretch, in bars, that equity stayed below a previous peak. */
  readonly maxDrawdownDuration: number;
  /** cagr / maxDrawdown; 0 when there was no drawdown. */
  readonly calmar: number;
  /** Winning closed trades / closed trades; 0 with no trades. */
  readonly winRate: number;
  /** Gross profit / gross loss of closed trades; Infinity with profits and no losses, 0 with neither. */
  readonly profitFactor: number;
  /** Number of closed trades. */
  readonly trades: number;
  /** Fraction of bars that ended with an open position. */
  readonly exposure: number;
  /** Total fees paid. */
  readonly fees: number;
}

/** What `backtest` returns. Plain data (structured-cloneable). */
export interface BacktestResult {
  readonly metrics: Metrics;
  /** Equity at each bar's close, when `equity` was requested. */
  readonly equity?: Float64Array;
  /** Closed trades in order, when `trades` was requested. */
  readonly trades?: Trade[];
  /** Target decided at each close (`targets[t]` fills at bar t + 1's open), when `signals` was requested. */
  readonly signals?: Int8Array;
}
