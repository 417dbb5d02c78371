import { maxDrawdown, sharpe, sortino } from '@peaktrade/numeric-accel';
import { describe, expect, it } from 'vitest';
import { backtest, generateOhlcv, type StrategySpec } from '../src/index.js';
import { relClose } from './helpers.js';

describe('metrics agree with the @peaktrade/numeric-accel risk kernels', () => {
  const specs: StrategySpec[] = [
    { kind: 'sma-cross', fast: 10, slow: 50, direction: 'both' },
    { kind: 'ema-cross', fast: 12, slow: 26 },
    { kind: 'rsi-reversion', period: 14, lower: 30, upper: 70, direction: 'both' },
    { kind: 'bollinger-breakout', period: 20, k: 2 },
  ];
  for (const spec of specs) {
    it(`Sharpe, Sortino and max drawdown of ${spec.kind} equal the kernels applied to its equity curve`, () => {
      const data = generateOhlcv({ bars: 3000, seed: 21, volatility: 0.3 });
      const { metrics, equity } = backtest(data, spec, {
        equity: true,
        feeBps: 2,
        periodsPerYear: 252,
      });
      const eq = equity!;
      const r = new Float64Array(eq.length - 1);
      for (let t = 1; t < eq.length; t++) r[t - 1] = eq[t]! / eq[t - 1]! - 1;
      expect(relClose(metrics.sharpe, sharpe(r, { periodsPerYear: 252 }))).toBe(true);
      expect(relClose(metrics.sortino, sortino(r, { periodsPerYear: 252 }))).toBe(true);
      expect(relClose(metrics.maxDrawdown, -maxDrawdown(eq).value)).toBe(true);
    });
  }
});
