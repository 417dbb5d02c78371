import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  InvalidStrategyError,
  OhlcvValidationError,
  backtest,
  createBacktest,
  generateOhlcv,
  type BacktestOptions,
  type OhlcvColumns,
  type StrategySpec,
} from '../src/index.js';
import { expectMetricsClose, expectSeriesClose, expectTradesMatch } from './helpers.js';
import { naiveBacktest } from './naive-engine.js';

const direction = fc.constantFrom('long' as const, 'short' as const, 'both' as const);

const specArb: fc.Arbitrary<StrategySpec> = fc.oneof(
  fc
    .record({
      fast: fc.integer({ min: 1, max: 30 }),
      gap: fc.integer({ min: 1, max: 60 }),
      direction,
    })
    .map(({ fast, gap, direction }) => ({
      kind: 'sma-cross' as const,
      fast,
      slow: fast + gap,
      direction,
    })),
  fc
    .record({
      fast: fc.integer({ min: 1, max: 30 }),
      gap: fc.integer({ min: 1, max: 60 }),
      direction,
    })
    .map(({ fast, gap, direction }) => ({
      kind: 'ema-cross' as const,
      fast,
      slow: fast + gap,
      direction,
    })),
  fc
    .record({
      period: fc.integer({ min: 2, max: 30 }),
      lower: fc.double({ min: 10, max: 45, noNaN: true }),
      upper: fc.double({ min: 55, max: 90, noNaN: true }),
      exit: fc.double({ min: 46, max: 54, noNaN: true }),
      direction,
    })
    .map((p) => ({ kind: 'rsi-reversion' as const, ...p })),
  fc
    .record({
      period: fc.integer({ min: 2, max: 40 }),
      k: fc.double({ min: 0.2, max: 3, noNaN: true }),
      direction,
    })
    .map((p) => ({ kind: 'bollinger-breakout' as const, ...p })),
);

const optionsArb: fc.Arbitrary<BacktestOptions> = fc.record(
  {
    initialCapital: fc.double({ min: 100, max: 1e6, noNaN: true }),
    feeBps: fc.double({ min: 0, max: 50, noNaN: true }),
    fixedFee: fc.double({ min: 0, max: 2, noNaN: true }),
    slippageBps: fc.double({ min: 0, max: 30, noNaN: true }),
    sizing: fc.oneof(
      fc.constant({ kind: 'all-in' as const }),
      fc
        .double({ min: 0.05, max: 1, noNaN: true })
        .map((fraction) => ({ kind: 'fraction' as const, fraction })),
      fc
        .double({ min: 0.1, max: 5, noNaN: true })
        .map((units) => ({ kind: 'units' as const, units })),
    ),
    stopLoss: fc.double({ min: 0.002, max: 0.08, noNaN: true }),
    takeProfit: fc.double({ min: 0.002, max: 0.15, noNaN: true }),
    periodsPerYear: fc.constantFrom(252, 365, 98_280),
  },
  { requiredKeys: [] },
);

const dataArb = fc
  .record({
    bars: fc.integer({ min: 2, max: 400 }),
    seed: fc.integer(),
    volatility: fc.double({ min: 0.05, max: 1.5, noNaN: true }),
    drift: fc.double({ min: -0.5, max: 0.5, noNaN: true }),
  })
  .map((o) => generateOhlcv(o));

function agree(data: OhlcvColumns, spec: StrategySpec, opts: BacktestOptions): void {
  const fast = backtest(data, spec, { ...opts, equity: true, trades: true, signals: true });
  const slow = naiveBacktest(data, spec, opts);
  const label = JSON.stringify({ spec, opts, bars: data.close.length });
  expect(Array.from(fast.signals!), `${label} decisions`).toEqual(slow.decisions);
  expectTradesMatch(fast.trades!, slow.trades, label);
  expectSeriesClose(fast.equity!, slow.equity, `${label} equity`);
  expectMetricsClose(fast.metrics, slow.metrics, label);
}

describe('backtest agrees with the naive event-driven engine', () => {
  it('matches trades exactly and floats within 1e-9 for every strategy over random data and params', () => {
    fc.assert(
      fc.property(dataArb, specArb, optionsArb, (data, spec, opts) => agree(data, spec, opts)),
      { numRuns: 300 },
    );
  });

  it('matches on long series that span several 2048-bar blocks', () => {
    const data = generateOhlcv({ bars: 5_000, seed: 11, volatility: 0.4 });
    const specs: StrategySpec[] = [
      { kind: 'sma-cross', fast: 7, slow: 40, direction: 'both' },
      { kind: 'ema-cross', fast: 5, slow: 21 },
      { kind: 'rsi-reversion', period: 14, lower: 30, upper: 70, direction: 'both' },
      { kind: 'bollinger-breakout', period: 20, k: 2, direction: 'both' },
    ];
    for (const spec of specs)
      agree(data, spec, { feeBps: 2, slippageBps: 1, stopLoss: 0.03, takeProfit: 0.06 });
  });

  it('matches for precomputed targets and for a signal function', () => {
    fc.assert(
      fc.property(
        dataArb.chain((data) =>
          fc.tuple(
            fc.constant(data),
            fc.array(fc.constantFrom(-1, 0, 1, 0.5, -2, Number.NaN), {
              minLength: data.close.length,
              maxLength: data.close.length,
            }),
          ),
        ),
        optionsArb,
        ([data, targets], opts) => {
          agree(data, { kind: 'targets', targets }, opts);
          const viaFn = backtest(data, () => targets, { ...opts, trades: true });
          const viaSpec = backtest(data, { kind: 'targets', targets }, { ...opts, trades: true });
          expect(viaFn).toEqual(viaSpec);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('no look-ahead', () => {
  it('changing every bar after t changes no decision, closed trade or equity value up to t', () => {
    fc.assert(
      fc.property(
        dataArb.filter((d) => d.close.length > 10),
        specArb,
        optionsArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (data, spec, opts, frac, seed) => {
          const n = data.close.length;
          const t = Math.floor(frac * (n - 2));
          const other = generateOhlcv({
            bars: n,
            seed,
            volatility: 0.9,
            startPrice: data.close[t]! * 1.3,
          });
          const mutated: OhlcvColumns = {
            time: data.time,
            open: data.open.slice(),
            high: data.high.slice(),
            low: data.low.slice(),
            close: data.close.slice(),
            volume: data.volume.slice(),
          };
          for (let i = t + 1; i < n; i++) {
            mutated.open[i] = other.open[i]!;
            mutated.high[i] = other.high[i]!;
            mutated.low[i] = other.low[i]!;
            mutated.close[i] = other.close[i]!;
            mutated.volume[i] = other.volume[i]!;
          }
          const a = backtest(data, spec, { ...opts, equity: true, trades: true, signals: true });
          const b = backtest(mutated, spec, { ...opts, equity: true, trades: true, signals: true });
          expect(b.equity!.subarray(0, t + 1)).toEqual(a.equity!.subarray(0, t + 1));
          // Trades closed by t are identical.
          expect(b.trades!.filter((x) => x.exitIndex <= t)).toEqual(
            a.trades!.filter((x) => x.exitIndex <= t),
          );
          // The engine's own decisions up to t are identical.
          expect(b.signals!.subarray(0, t + 1)).toEqual(a.signals!.subarray(0, t + 1));
          // Decisions (targets) up to t: compare via the naive engine's decision log on both inputs.
          const da = naiveBacktest(data, spec, opts).decisions.slice(0, t + 1);
          const db = naiveBacktest(mutated, spec, opts).decisions.slice(0, t + 1);
          expect(db).toEqual(da);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a target decided at bar t fills at the open of bar t + 1, never earlier', () => {
    const data = generateOhlcv({ bars: 100, seed: 3 });
    const targets = new Float64Array(100);
    targets.fill(1, 50);
    const r = backtest(
      data,
      { kind: 'targets', targets },
      { trades: true, equity: true, signals: true },
    );
    expect(r.equity!.subarray(0, 51).every((e) => e === 10_000)).toBe(true);
    expect(r.equity![51]).not.toBe(10_000);
    expect(r.signals![50]).toBe(1);
    expect(r.metrics.exposure).toBe(49 / 100);
  });
});

describe('fills, fees and sizing (hand-computed)', () => {
  const bars = (rows: [o: number, h: number, l: number, c: number][]): OhlcvColumns => {
    const n = rows.length;
    const col = (f: (r: [number, number, number, number]) => number): Float64Array =>
      Float64Array.from(rows, f);
    return {
      time: Float64Array.from({ length: n }, (_, i) => i * 1000),
      open: col((r) => r[0]),
      high: col((r) => r[1]),
      low: col((r) => r[2]),
      close: col((r) => r[3]),
      volume: new Float64Array(n),
    };
  };

  it('fills at the next open with slippage and fees, and closes on the target change', () => {
    const data = bars([
      [100, 101, 99, 100],
      [102, 104, 101, 103],
      [105, 106, 104, 105],
      [110, 111, 108, 109],
    ]);
    const r = backtest(
      data,
      { kind: 'targets', targets: [1, 1, 0, 0] },
      {
        initialCapital: 1000,
        feeBps: 10,
        fixedFee: 1,
        slippageBps: 100,
        equity: true,
        trades: true,
      },
    );
    const entry = 102 * 1.01;
    const units = (1000 - 1) / (entry * 1.001);
    const entryFee = units * entry * 0.001 + 1;
    const exit = 110 * 0.99;
    const exitFee = units * exit * 0.001 + 1;
    expect(r.trades).toHaveLength(1);
    const t = r.trades![0]!;
    expect(t.entryIndex).toBe(1);
    expect(t.exitIndex).toBe(3);
    expect(t.entryPrice).toBeCloseTo(entry, 12);
    expect(t.exitPrice).toBeCloseTo(exit, 12);
    expect(t.units).toBeCloseTo(units, 12);
    expect(t.pnl).toBeCloseTo(units * (exit - entry) - entryFee - exitFee, 9);
    expect(r.equity![0]).toBe(1000);
    expect(r.equity![1]).toBeCloseTo(1000 - units * entry - entryFee + units * 103, 9);
    expect(r.equity![3]).toBeCloseTo(1000 + t.pnl, 9);
    expect(r.metrics.fees).toBeCloseTo(entryFee + exitFee, 12);
    expect(r.metrics.trades).toBe(1);
    expect(r.metrics.exposure).toBeCloseTo(2 / 4, 15);
  });

  it('shorts profit when price falls, and fixed units sizing trades exactly that many units', () => {
    const data = bars([
      [100, 100, 100, 100],
      [100, 100, 90, 90],
      [80, 80, 80, 80],
    ]);
    const r = backtest(
      data,
      { kind: 'targets', targets: [-1, 0, 0] },
      { sizing: { kind: 'units', units: 3 }, trades: true },
    );
    expect(r.trades![0]).toMatchObject({
      side: -1,
      units: 3,
      entryPrice: 100,
      exitPrice: 80,
      pnl: 60,
    });
    expect(r.metrics.finalEquity).toBe(10_060);
  });

  it('long-only turns short signals into flat', () => {
    const data = bars([
      [100, 100, 100, 100],
      [100, 100, 100, 100],
      [100, 100, 100, 100],
    ]);
    const r = backtest(
      data,
      { kind: 'targets', targets: [-1, -1, -1], direction: 'long' },
      { trades: true },
    );
    expect(r.metrics.exposure).toBe(0);
  });

  it('stop-loss fills at the stop level, or at the open when the bar gaps through it, and stays flat until the target changes', () => {
    const data = bars([
      [100, 100, 100, 100],
      [100, 101, 94, 95], // entry at 100, stop 95 hit intrabar
      [96, 97, 95, 96],
      [97, 98, 96, 97],
    ]);
    const r = backtest(
      data,
      { kind: 'targets', targets: [1, 1, 1, 1] },
      { stopLoss: 0.05, trades: true },
    );
    expect(r.trades).toHaveLength(1);
    expect(r.trades![0]).toMatchObject({ exitIndex: 1, exitPrice: 95, exitReason: 'stop-loss' });
    expect(r.metrics.exposure).toBe(0);

    const gap = bars([
      [100, 100, 100, 100],
      [100, 101, 99, 100],
      [90, 91, 89, 90], // gaps below the 95 stop: fills at the open
    ]);
    const g = backtest(
      gap,
      { kind: 'targets', targets: [1, 1, 1] },
      { stopLoss: 0.05, trades: true },
    );
    expect(g.trades![0]).toMatchObject({ exitIndex: 2, exitPrice: 90, exitReason: 'stop-loss' });
  });

  it('a bar that opens through the take-profit fills it at the open, even if it then reaches the stop', () => {
    // The open is the bar's first price: a bar opening beyond the take-profit has hit it before any
    // intrabar low or high, so "stop-loss first" (for a bar whose path is unknown) does not apply.
    const long = bars([
      [100, 100, 100, 100],
      [100, 101, 99, 100], // entry at 100: stop 95, take-profit 110
      [112, 113, 90, 91], // gaps above 110, then trades through 95
    ]);
    const opts: BacktestOptions = { stopLoss: 0.05, takeProfit: 0.1, trades: true };
    const l = backtest(long, { kind: 'targets', targets: [1, 1, 1] }, opts);
    expect(l.trades![0]).toMatchObject({
      exitIndex: 2,
      exitPrice: 112,
      exitReason: 'take-profit',
    });
    expect(naiveBacktest(long, { kind: 'targets', targets: [1, 1, 1] }, opts).trades).toEqual(
      l.trades,
    );

    const short = bars([
      [100, 100, 100, 100],
      [100, 101, 99, 100], // entry at 100: stop 105, take-profit 90
      [88, 110, 87, 109], // gaps below 90, then trades through 105
    ]);
    const s = backtest(short, { kind: 'targets', targets: [-1, -1, -1] }, opts);
    expect(s.trades![0]).toMatchObject({
      side: -1,
      exitIndex: 2,
      exitPrice: 88,
      exitReason: 'take-profit',
    });
    expect(naiveBacktest(short, { kind: 'targets', targets: [-1, -1, -1] }, opts).trades).toEqual(
      s.trades,
    );

    // Opening between the levels, the path is unknown: the stop-loss still comes first.
    const both = bars([
      [100, 100, 100, 100],
      [100, 101, 99, 100],
      [100, 111, 94, 100],
    ]);
    const b = backtest(both, { kind: 'targets', targets: [1, 1, 1] }, opts);
    expect(b.trades![0]).toMatchObject({ exitPrice: 95, exitReason: 'stop-loss' });
  });

  it('take-profit on a short fills at the level', () => {
    const data = bars([
      [100, 100, 100, 100],
      [100, 100, 89, 92],
    ]);
    const r = backtest(
      data,
      { kind: 'targets', targets: [-1, -1] },
      { takeProfit: 0.1, trades: true },
    );
    expect(r.trades![0]).toMatchObject({ side: -1, exitPrice: 90, exitReason: 'take-profit' });
  });

  it('computes the metrics of a known equity path', () => {
    // Long from bar 1 at 100 with units sizing 1 and 0 cash drag: equity = 10000 - 100 + close.
    const data = bars([
      [100, 100, 100, 100],
      [100, 110, 100, 110],
      [110, 110, 99, 99],
      [99, 121, 99, 121],
    ]);
    const r = backtest(
      data,
      { kind: 'targets', targets: [1, 1, 1, 1] },
      { sizing: { kind: 'units', units: 1 }, initialCapital: 100, periodsPerYear: 3, equity: true },
    );
    expect(Array.from(r.equity!)).toEqual([100, 110, 99, 121]);
    const rets = [0.1, -0.1, 121 / 99 - 1];
    const m = rets.reduce((a, b) => a + b) / 3;
    const sd = Math.sqrt(rets.reduce((a, b) => a + (b - m) ** 2, 0) / 2);
    expect(r.metrics.totalReturn).toBeCloseTo(0.21, 12);
    expect(r.metrics.cagr).toBeCloseTo(0.21, 12);
    expect(r.metrics.sharpe).toBeCloseTo((m / sd) * Math.sqrt(3), 12);
    expect(r.metrics.sortino).toBeCloseTo((m / Math.sqrt(0.01 / 3)) * Math.sqrt(3), 12);
    expect(r.metrics.maxDrawdown).toBeCloseTo(0.1, 12);
    expect(r.metrics.maxDrawdownDuration).toBe(1);
    expect(r.metrics.trades).toBe(0);
    expect(r.metrics.exposure).toBe(0.75);
  });
});

describe('volatility and Sharpe of held positions', () => {
  const flatAfter = (first: number, next: number, n: number): OhlcvColumns => {
    const px = Float64Array.from({ length: n }, (_, i) => (i === 0 ? first : next));
    return {
      time: Float64Array.from({ length: n }, (_, i) => i),
      open: px,
      high: px,
      low: px,
      close: px,
      volume: new Float64Array(n),
    };
  };

  it('are 0 for a position held at an unchanged price (every return is exactly 0)', () => {
    // Enters at bar 1 after a 1 % gap, then the price never moves: the equity curve is constant.
    for (const [side, sizing] of [
      [1, undefined],
      [-1, undefined],
      [1, { kind: 'units', units: 7 }],
    ] as const) {
      const data = flatAfter(100, 101, 300);
      const r = backtest(
        data,
        { kind: 'targets', targets: new Array<number>(300).fill(side) },
        { equity: true, ...(sizing ? { sizing } : {}) },
      );
      expect(new Set(r.equity).size, `side ${side}`).toBe(1);
      expect(r.metrics.volatility, `side ${side}`).toBe(0);
      expect(r.metrics.sharpe, `side ${side}`).toBe(0);
    }
  });

  it('are right for a leveraged entry after a gap (the pre-entry move is no typical return)', () => {
    // 20× leverage entering on a 1/19 gap: cash + units · previous close is ~0 here.
    const rows: number[][] = [[100, 100, 100, 100]];
    let c = 2000 / 19;
    rows.push([c, c * 1.01, c * 0.99, c * 1.001]);
    c *= 1.001;
    for (let i = 0; i < 20; i++) {
      const nc = c * (i % 2 ? 1.002 : 0.999);
      rows.push([c, Math.max(c, nc), Math.min(c, nc), nc]);
      c = nc;
    }
    const n = rows.length;
    const data: OhlcvColumns = {
      time: Float64Array.from(rows, (_, i) => i),
      open: Float64Array.from(rows, (r) => r[0]!),
      high: Float64Array.from(rows, (r) => r[1]!),
      low: Float64Array.from(rows, (r) => r[2]!),
      close: Float64Array.from(rows, (r) => r[3]!),
      volume: new Float64Array(n),
    };
    const spec: StrategySpec = { kind: 'targets', targets: new Array<number>(n).fill(1) };
    const opts: BacktestOptions = { sizing: { kind: 'fraction', fraction: 20 } };
    const fast = backtest(data, spec, opts).metrics;
    const slow = naiveBacktest(data, spec, opts).metrics;
    expect(slow.volatility).toBeGreaterThan(0.4);
    expectMetricsClose(fast, slow);
  });
});

describe('results are plain data', () => {
  it('metrics, equity and trades survive structuredClone unchanged', () => {
    const data = generateOhlcv({ bars: 500, seed: 2 });
    const r = backtest(
      data,
      { kind: 'sma-cross', fast: 5, slow: 20 },
      { equity: true, trades: true },
    );
    expect(structuredClone(r)).toEqual(r);
  });
});

describe('input errors', () => {
  const data = generateOhlcv({ bars: 50, seed: 1 });
  it('rejects bad strategies naming the parameter', () => {
    expect(() => backtest(data, { kind: 'sma-cross', fast: 10, slow: 5 })).toThrow(
      InvalidStrategyError,
    );
    expect(() => backtest(data, { kind: 'sma-cross', fast: 10, slow: 5 })).toThrow(/slow = 5/);
    expect(() => backtest(data, { kind: 'nope' } as unknown as StrategySpec)).toThrow(
      /kind = "nope"/,
    );
    // lower ≥ upper names upper, not the defaulted exit that no value could satisfy.
    expect(() =>
      backtest(data, { kind: 'rsi-reversion', period: 14, lower: 70, upper: 30 }),
    ).toThrow(/upper = 30: expected a number > lower \(70\)/);
    expect(() =>
      backtest(data, { kind: 'rsi-reversion', period: 14, lower: 30, upper: 70, exit: 80 }),
    ).toThrow(/exit = 80/);
    // A value over a cap is told the cap, not a rule it already meets.
    expect(() => backtest(data, { kind: 'sma-cross', fast: 2e8, slow: 3e8 })).toThrow(
      /fast = 200000000: expected an integer from 1 to 100000000/,
    );
    expect(() => backtest(data, { kind: 'bollinger-breakout', period: 20, k: 2e6 })).toThrow(
      /k = 2000000: expected a finite number > 0 and < 1000000/,
    );
    expect(() => backtest(data, { kind: 'targets', targets: [1, 2] })).toThrow(/length 50/);
    expect(() =>
      backtest(data, { kind: 'ema-cross', fast: 2, slow: 5, direction: 'up' as 'long' }),
    ).toThrow(/direction/);
  });
  it('rejects bad options naming the option, value and rule', () => {
    const s: StrategySpec = { kind: 'sma-cross', fast: 2, slow: 5 };
    expect(() => backtest(data, s, { feeBps: -1 })).toThrow(InvalidOptionError);
    expect(() => backtest(data, s, { feeBps: -1 })).toThrow(/feeBps = -1/);
    expect(() => backtest(data, s, { stopLoss: 1.5 })).toThrow(/stopLoss/);
    expect(() => backtest(data, s, { sizing: { kind: 'fraction', fraction: 0 } })).toThrow(
      /sizing.fraction = 0/,
    );
    expect(() => backtest(data, s, { bogus: 1 } as BacktestOptions)).toThrow(/bogus/);
    expect(() => backtest(data, s, { equity: new Float64Array(3) })).toThrow(/at least 50/);
  });
  it('rejects mismatched columns', () => {
    const bad = { ...data, close: data.close.subarray(0, 10) };
    expect(() => backtest(bad, { kind: 'sma-cross', fast: 2, slow: 5 })).toThrow(
      OhlcvValidationError,
    );
  });
});

describe('createBacktest', () => {
  it('validates options once up front and gives the same results as backtest', () => {
    expect(() => createBacktest({ slippageBps: -2 })).toThrow(/slippageBps = -2/);
    const data = generateOhlcv({ bars: 800, seed: 5 });
    const run = createBacktest({ feeBps: 3, trades: true, equity: true });
    const spec: StrategySpec = {
      kind: 'bollinger-breakout',
      period: 15,
      k: 1.5,
      direction: 'both',
    };
    expect(run(data, spec)).toEqual(
      backtest(data, spec, { feeBps: 3, trades: true, equity: true }),
    );
  });
});
