import { measureMemory } from '@peaktrade/bench-harness';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  InvalidStrategyError,
  backtest,
  generateOhlcv,
  paramGrid,
  sweep,
  type BacktestOptions,
  type StrategyFamily,
} from '../src/index.js';

const gridFor: Record<StrategyFamily, Record<string, unknown>[]> = {
  'sma-cross': paramGrid(
    { fast: [1, 3, 8], slow: [5, 20, 45], direction: ['long', 'both'] },
    (p) => p.fast < p.slow,
  ),
  'ema-cross': paramGrid({ fast: [2, 5], slow: [9, 30], direction: ['short', 'both'] }),
  'rsi-reversion': paramGrid({
    period: [2, 7, 14],
    lower: [25, 35],
    upper: [65, 80],
    direction: ['long', 'both'],
  }),
  'bollinger-breakout': paramGrid({
    period: [5, 20],
    k: [0.5, 1, 2.5],
    direction: ['long', 'both'],
  }),
};

describe('sweep', () => {
  it('every result equals the single backtest with the same parameters, for every family', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5000 }),
        fc.integer(),
        fc.constantFrom(...(Object.keys(gridFor) as StrategyFamily[])),
        fc.record(
          {
            feeBps: fc.double({ min: 0, max: 20, noNaN: true }),
            slippageBps: fc.double({ min: 0, max: 10, noNaN: true }),
            stopLoss: fc.double({ min: 0.005, max: 0.05, noNaN: true }),
            takeProfit: fc.double({ min: 0.005, max: 0.1, noNaN: true }),
          },
          { requiredKeys: [] },
        ),
        (bars, seed, family, opts: BacktestOptions) => {
          const data = generateOhlcv({ bars, seed, volatility: 0.5 });
          const grid = gridFor[family];
          const out = sweep(data, family, grid, opts);
          expect(out.results).toHaveLength(grid.length);
          out.results.forEach((r, i) => {
            expect(r.index).toBe(i);
            expect(r.params).toBe(grid[i]);
            const single = backtest(data, { kind: family, ...grid[i] } as never, opts);
            expect(r.metrics).toEqual(single.metrics);
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('computes each distinct indicator once for the whole grid', () => {
    const data = generateOhlcv({ bars: 3000, seed: 4 });
    const grid = paramGrid({ fast: [2, 4, 6, 8, 10], slow: [20, 30, 40, 50] });
    const out = sweep(data, 'sma-cross', grid);
    // 5 fast + 4 slow windows, shared by 20 strategies.
    expect(out.indicators).toBe(9);
    const rsi = sweep(
      data,
      'rsi-reversion',
      paramGrid({ period: [7, 14], lower: [20, 30], upper: [70, 80] }),
    );
    expect(rsi.indicators).toBe(2);
  });

  it('returns the top-k equity curves ranked by the chosen metric, equal to single backtests', () => {
    const data = generateOhlcv({ bars: 4000, seed: 9 });
    const grid = paramGrid({ fast: [3, 5, 10, 15], slow: [30, 60, 90] });
    const out = sweep(data, 'sma-cross', grid, { topK: 3, rankBy: 'totalReturn', feeBps: 1 });
    expect(out.top).toHaveLength(3);
    const best = [...out.results]
      .sort((a, b) => b.metrics.totalReturn - a.metrics.totalReturn)
      .slice(0, 3);
    expect(out.top.map((t) => t.index)).toEqual(best.map((b) => b.index));
    for (const t of out.top) {
      const single = backtest(
        data,
        { kind: 'sma-cross', ...grid[t.index]! },
        { equity: true, feeBps: 1 },
      );
      expect(t.equity).toEqual(single.equity);
      expect(t.metrics).toEqual(single.metrics);
    }
    const dd = sweep(data, 'sma-cross', grid, { topK: 1, rankBy: 'maxDrawdown' });
    const minDd = Math.min(...dd.results.map((r) => r.metrics.maxDrawdown));
    expect(dd.top[0]!.metrics.maxDrawdown).toBe(minDd);
  });

  it('uses memory independent of bars × strategies (time-blocked, O(indicators × block + grid))', async () => {
    const bars = 200_000;
    const data = generateOhlcv({ bars, seed: 12 });
    const grid = paramGrid({
      fast: Array.from({ length: 15 }, (_, i) => 2 + i * 2),
      slow: Array.from({ length: 20 }, (_, i) => 40 + i * 5),
    });
    expect(grid).toHaveLength(300);
    const mem = await measureMemory(() => sweep(data, 'sma-cross', grid));
    // bars × strategies doubles would be 480 MB; the sweep's peak growth stays a small constant.
    const perCell = 8 * bars * grid.length;
    expect(mem.peakHeapBytes + Math.max(0, mem.externalBytes)).toBeLessThan(perCell / 10);
  });

  it('results are plain data', () => {
    const data = generateOhlcv({ bars: 300, seed: 1 });
    const out = sweep(data, 'ema-cross', paramGrid({ fast: [3], slow: [10, 20] }), { topK: 1 });
    expect(structuredClone(out)).toEqual(out);
  });

  it('rejects bad grids and options naming the culprit', () => {
    const data = generateOhlcv({ bars: 100, seed: 1 });
    expect(() =>
      sweep(data, 'sma-cross', [
        { fast: 10, slow: 20 },
        { fast: 30, slow: 20 },
      ]),
    ).toThrow(/grid\[1\]\.slow/);
    expect(() => sweep(data, 'sma-cross', [{ fast: 30, slow: 20 }])).toThrow(InvalidStrategyError);
    expect(() => sweep(data, 'macd' as StrategyFamily, [])).toThrow(/family = "macd"/);
    expect(() => sweep(data, 'sma-cross', [], { topK: -1 })).toThrow(InvalidOptionError);
    expect(() => sweep(data, 'sma-cross', [], { rankBy: 'luck' as never })).toThrow(/rankBy/);
    expect(() => sweep(data, 'sma-cross', [], { trades: true } as never)).toThrow(
      /trades = true: not a sweep option/,
    );
  });
});

describe('paramGrid', () => {
  it('is the cartesian product, last axis fastest, with an optional filter', () => {
    expect(paramGrid({ a: [1, 2], b: ['x', 'y', 'z'] })).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 2, b: 'z' },
    ]);
    expect(paramGrid({ fast: [5, 10, 20], slow: [10, 20] }, (p) => p.fast < p.slow)).toEqual([
      { fast: 5, slow: 10 },
      { fast: 5, slow: 20 },
      { fast: 10, slow: 20 },
    ]);
    expect(paramGrid({})).toEqual([{}]);
  });
  it('rejects empty axes', () => {
    expect(() => paramGrid({ a: [] })).toThrow(/axes.a/);
  });
});
