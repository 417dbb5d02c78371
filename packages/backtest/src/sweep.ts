import { InvalidOptionError, InvalidStrategyError, describe } from './errors.js';
import {
  BLOCK_SIZE,
  ExecState,
  SCRATCH_IDX,
  SCRATCH_VAL,
  checkColumns,
  execBlock,
  finalizeMetrics,
  resolveOptions,
  runPlan,
  type ResolvedOptions,
} from './engine.js';
import { StreamRegistry, checkFamily, compileStrategy, specFor, type Plan } from './strategies.js';
import type {
  BacktestOptions,
  Metrics,
  OhlcvColumns,
  StrategyFamily,
  StrategySpec,
} from './types.js';

/** The cartesian product of `axes`: one object per combination, in row-major order (last axis fastest). */
export type ParamGridPoint<A extends Record<string, readonly unknown[]>> = {
  -readonly [K in keyof A]: A[K][number];
};

/**
 * Expand named parameter axes into every combination, last axis varying fastest, optionally
 * filtered. `paramGrid({ fast: [5, 10], slow: [20, 50] }, (p) => p.fast < p.slow)` gives 4 points.
 * Every axis must be a non-empty array; the product is capped at 10 million points.
 */
export function paramGrid<A extends Record<string, readonly unknown[]>>(
  axes: A,
  filter?: (point: ParamGridPoint<A>) => boolean,
): ParamGridPoint<A>[] {
  if (axes === null || typeof axes !== 'object') {
    throw new InvalidOptionError(
      'axes',
      axes,
      'expected an object of non-empty arrays, e.g. { fast: [5, 10] }',
    );
  }
  const keys = Object.keys(axes);
  let total = 1;
  for (const k of keys) {
    const v = axes[k];
    if (!Array.isArray(v) || v.length === 0)
      throw new InvalidOptionError(`axes.${k}`, v, 'expected a non-empty array');
    total *= v.length;
  }
  if (total > 1e7)
    throw new InvalidOptionError('axes', total, 'grid has more than 10 million points');
  if (filter !== undefined && typeof filter !== 'function') {
    throw new InvalidOptionError('filter', filter, 'expected a function or undefined');
  }
  const out: ParamGridPoint<A>[] = [];
  const idx = new Array<number>(keys.length).fill(0);
  for (let i = 0; i < total; i++) {
    const p: Record<string, unknown> = {};
    for (let j = 0; j < keys.length; j++) p[keys[j]!] = axes[keys[j]!]![idx[j]!];
    const point = p as ParamGridPoint<A>;
    if (filter === undefined || filter(point)) out.push(point);
    for (let j = keys.length - 1; j >= 0; j--) {
      if (++idx[j]! < axes[keys[j]!]!.length) break;
      idx[j] = 0;
    }
  }
  return out;
}

/** Options of {@link sweep}: the backtest options applied to every grid point, plus ranking. */
export interface SweepOptions extends Omit<BacktestOptions, 'equity' | 'trades' | 'signals'> {
  /** Also return the equity curves of the best `topK` points by `rankBy`. Default 0. */
  readonly topK?: number;
  /** Metric to rank by for `topK` (higher is better, except `maxDrawdown`/`maxDrawdownDuration`/`volatility`/`fees`: lower). Default `'sharpe'`. */
  readonly rankBy?: keyof Metrics;
}

/** One grid point's outcome. Plain data. */
export interface SweepResult<P = Record<string, unknown>> {
  /** Index into the grid. */
  readonly index: number;
  readonly params: P;
  /** Identical to `backtest(data, { kind: family, ...params }, opts).metrics`. */
  readonly metrics: Metrics;
}

/** A ranked grid point with its equity curve. */
export interface SweepTopResult<P = Record<string, unknown>> extends SweepResult<P> {
  readonly equity: Float64Array;
}

/** What {@link sweep} returns. Plain data (structured-cloneable). */
export interface SweepOutput<P = Record<string, unknown>> {
  /** One result per grid point, in grid order. */
  readonly results: SweepResult<P>[];
  /** The best `topK` by `rankBy`, best first (empty unless `topK` > 0). */
  readonly top: SweepTopResult<P>[];
  /** Distinct indicator series computed (shared across the grid). */
  readonly indicators: number;
}

const SWEEP_KEYS: ReadonlySet<string> = new Set(['topK', 'rankBy']);
const LOWER_IS_BETTER = new Set<string>([
  'maxDrawdown',
  'maxDrawdownDuration',
  'volatility',
  'fees',
]);

/**
 * Backtest every point of a parameter grid of one strategy family over one dataset in a single
 * time-blocked pass. Each distinct indicator (e.g. SMA(20)) is computed once per block and shared by
 * every strategy that uses it, together with the per-bar marks; each strategy keeps only a few dozen
 * scalars of state, so memory is O(indicators × 2048 + grid), never bars × strategies, and the working
 * set stays in cache however long the data. Results equal the single {@link backtest} with the same
 * spec and options exactly. `topK` curves are recomputed for just those points afterwards.
 *
 * @param family strategy kind, e.g. `'sma-cross'`
 * @param grid parameter sets without `kind`, e.g. from {@link paramGrid}
 */
export function sweep<P extends Readonly<Record<string, unknown>>>(
  data: OhlcvColumns,
  family: StrategyFamily,
  grid: readonly P[],
  opts?: SweepOptions,
): SweepOutput<P> {
  const fam = checkFamily(family);
  for (const k of ['equity', 'trades', 'signals'] as const) {
    const v = (opts as Record<string, unknown> | undefined)?.[k];
    if (v !== undefined) {
      throw new InvalidOptionError(
        k,
        v,
        'not a sweep option: sweeps return metrics only; use topK for equity curves, or backtest() for trades and signals',
      );
    }
  }
  const o = resolveOptions(opts, SWEEP_KEYS);
  const topK = (opts as { topK?: unknown } | undefined)?.topK ?? 0;
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 0) {
    throw new InvalidOptionError('topK', topK, 'expected an integer ≥ 0');
  }
  const rankBy = (opts as { rankBy?: unknown } | undefined)?.rankBy ?? 'sharpe';
  if (typeof rankBy !== 'string' || !METRIC_KEYS.has(rankBy)) {
    throw new InvalidOptionError(
      'rankBy',
      rankBy,
      `expected a metric name: ${[...METRIC_KEYS].join(', ')}`,
    );
  }
  const gridIn: unknown = grid;
  if (!Array.isArray(gridIn))
    throw new InvalidOptionError('grid', gridIn, 'expected an array of parameter objects');
  const n = checkColumns(data);
  const B = Math.min(n, BLOCK_SIZE);
  const reg = new StreamRegistry(B);
  const m = grid.length;
  const plans: Plan[] = new Array<Plan>(m);
  const specs: StrategySpec[] = new Array<StrategySpec>(m);
  for (let i = 0; i < m; i++) {
    const p: P | undefined = grid[i];
    if (p === null || typeof p !== 'object') {
      throw new InvalidStrategyError(
        `grid[${i}]`,
        p,
        'expected a parameter object like { fast: 10, slow: 50 }',
      );
    }
    specs[i] = specFor(fam, p);
    try {
      plans[i] = compileStrategy(specs[i]!, data, reg);
    } catch (err) {
      if (err instanceof InvalidStrategyError) {
        throw new InvalidStrategyError(`grid[${i}].${err.param}`, describe(p), err.message, {
          cause: err,
        });
      }
      throw err;
    }
  }
  const states: ExecState[] = new Array<ExecState>(m);
  for (let i = 0; i < m; i++) states[i] = new ExecState(o.initialCapital);
  const idx = SCRATCH_IDX;
  const val = SCRATCH_VAL;
  const close = data.close;
  for (let t0 = 0; t0 < n; t0 += B) {
    const t1 = Math.min(n, t0 + B);
    reg.fillAll(close, t0, t1);
    for (let i = 0; i < m; i++) {
      const changes = plans[i]!.changes(idx, val, t0, t1, close);
      execBlock(states[i]!, o, data, idx, val, changes, t0, t1, null, null);
    }
  }
  const results: SweepResult<P>[] = new Array<SweepResult<P>>(m);
  for (let i = 0; i < m; i++) {
    results[i] = { index: i, params: grid[i]!, metrics: finalizeMetrics(states[i]!, o, n) };
  }
  return {
    results,
    top: topResults(data, n, specs, results, o, topK, rankBy as keyof Metrics),
    indicators: reg.streams.length,
  };
}

const METRIC_KEYS: ReadonlySet<string> = new Set([
  'bars',
  'initialEquity',
  'finalEquity',
  'totalReturn',
  'cagr',
  'volatility',
  'sharpe',
  'sortino',
  'maxDrawdown',
  'maxDrawdownDuration',
  'calmar',
  'winRate',
  'profitFactor',
  'trades',
  'exposure',
  'fees',
]);

function topResults<P>(
  data: OhlcvColumns,
  n: number,
  specs: StrategySpec[],
  results: SweepResult<P>[],
  o: ResolvedOptions,
  k: number,
  rankBy: keyof Metrics,
): SweepTopResult<P>[] {
  if (k === 0 || results.length === 0) return [];
  const sign = LOWER_IS_BETTER.has(rankBy) ? -1 : 1;
  const key = (r: SweepResult<P>): number => {
    const v = r.metrics[rankBy] * sign;
    return Number.isNaN(v) ? -Infinity : v;
  };
  const order = results.slice().sort((a, b) => key(b) - key(a) || a.index - b.index);
  const eo: ResolvedOptions = { ...o, equity: true, trades: false, signals: false };
  const out: SweepTopResult<P>[] = [];
  for (const r of order.slice(0, k)) {
    const B = Math.min(n, BLOCK_SIZE);
    const reg = new StreamRegistry(B);
    const plan = compileStrategy(specs[r.index]!, data, reg);
    const res = runPlan(data, n, plan, reg, eo);
    out.push({ ...r, equity: res.equity! });
  }
  return out;
}
