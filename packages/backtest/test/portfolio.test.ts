import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, Portfolio, PortfolioError } from '../src/index.js';

describe('Portfolio (hand-computed)', () => {
  it('tracks cash, average cost, realised and unrealised P&L through adds, partial closes, flips and covers', () => {
    const p = new Portfolio({ assets: ['A', 'B'], cash: 10_000 });
    p.applyFill('A', 10, 100, 1);
    expect(p.cash).toBe(8_999);
    expect(p.position('A')).toBe(10);
    expect(p.avgCost('A')).toBe(100);
    expect(p.markToMarket(new Float64Array([110, 0]))).toBe(10_099);
    expect(p.unrealisedPnl()).toBe(100);
    expect(p.realisedPnl()).toBe(0);

    p.applyFill('A', 10, 120); // add: avg (1000 + 1200) / 20 = 110
    expect(p.avgCost('A')).toBe(110);
    p.applyFill('A', -14, 120, 1); // partial close 14 @120: realised 14 · 10 = 140
    expect(p.realisedPnl('A')).toBe(140);
    expect(p.position('A')).toBe(6);
    expect(p.avgCost('A')).toBe(110);
    expect(p.cash).toBe(8_999 - 1200 + 1680 - 1);
    expect(p.equity).toBe(9_478 + 720);
    expect(p.unrealisedPnl()).toBe(60);

    p.applyFill('A', -10, 90); // closes 6 (−120), opens 4 short at 90
    expect(p.realisedPnl('A')).toBe(20);
    expect(p.position('A')).toBe(-4);
    expect(p.avgCost('A')).toBe(90);
    p.applyFill('A', 4, 80); // cover: +40
    expect(p.realisedPnl('A')).toBe(60);
    expect(p.position('A')).toBe(0);
    expect(p.avgCost('A')).toBe(0);
    expect(p.cash).toBe(10_058);
    expect(p.equity).toBe(10_000 + p.realisedPnl() + p.unrealisedPnl() - p.fees);
  });

  it('computes weights, gross and net exposure', () => {
    const p = new Portfolio({ assets: 2, cash: 10_000 });
    p.applyFill(0, 20, 100);
    p.applyFill(1, -40, 50);
    // cash 10000 - 2000 + 2000 = 10000; long 2000, short -2000
    p.markToMarket([100, 50]);
    expect(p.equity).toBe(10_000);
    expect(p.grossExposure).toBe(4_000);
    expect(p.netExposure).toBe(0);
    expect(Array.from(p.weights())).toEqual([0.2, -0.2]);
    p.updatePrice(1, 60); // short loses 400
    expect(p.equity).toBe(9_600);
    expect(p.grossExposure).toBe(4_400);
    expect(p.netExposure).toBe(-400);
  });

  it('rebalanceTo produces orders that reach the target weights once filled', () => {
    const p = new Portfolio({ assets: ['A', 'B', 'C'], cash: 10_000 });
    p.markToMarket([100, 50, 20]);
    const orders = p.rebalanceTo([0.5, -0.25, 0]);
    expect(orders).toEqual([
      { asset: 0, symbol: 'A', qty: 50, price: 100 },
      { asset: 1, symbol: 'B', qty: -50, price: 50 },
    ]);
    for (const o of orders) p.applyFill(o.asset, o.qty, o.price);
    expect(Array.from(p.weights())).toEqual([0.5, -0.25, 0]);
    expect(p.rebalanceTo([0.5, -0.25, 0])).toEqual([]);
    expect(p.rebalanceTo([0.5, -0.2501, 0], 10)).toEqual([]);
  });

  it('snapshot is plain data', () => {
    const p = new Portfolio({ assets: ['X'], cash: 5 });
    p.applyFill('X', 1, 2);
    const s = p.snapshot();
    expect(structuredClone(s)).toEqual(s);
    expect(s).toMatchObject({ cash: 3, equity: 5, symbols: ['X'] });
  });

  it('rejects bad input naming it', () => {
    expect(() => new Portfolio({ assets: [] })).toThrow(InvalidOptionError);
    expect(() => new Portfolio({ assets: ['A', 'A'] })).toThrow(/unique/);
    expect(() => new Portfolio({ assets: 2, cash: Number.NaN })).toThrow(/cash = NaN/);
    const p = new Portfolio({ assets: ['A'] });
    expect(() => p.applyFill('Z', 1, 1)).toThrow(PortfolioError);
    expect(() => p.applyFill('A', Number.NaN, 1)).toThrow(/qty NaN/);
    expect(() => p.applyFill(3, 1, 1)).toThrow(/index 3/);
    expect(() => p.markToMarket([1, 2])).toThrow(/needs 1 prices/);
  });
});

describe('Portfolio after a NaN mark', () => {
  it('equity is finite again once every mark is, through a tick or a fill', () => {
    const p = new Portfolio({ assets: ['A', 'B'], cash: 10_000 });
    p.applyFill('A', 10, 100);
    expect(p.markToMarket([Number.NaN, 50])).toBeNaN(); // documented: NaN propagates
    expect(p.updatePrice('A', 110)).toBe(10_100);
    expect(p.grossExposure).toBe(1_100);
    expect(p.unrealisedPnl()).toBe(100);

    p.markToMarket([Number.NaN, 50]);
    p.applyFill('A', -10, 105); // closes A at a finite price: every mark is finite again
    expect(p.position('A')).toBe(0);
    expect(p.equity).toBe(10_050);
    expect(p.marketValue).toBe(0);
    expect(p.grossExposure).toBe(0);
    expect(p.equity).toBe(p.initialCash + p.realisedPnl() + p.unrealisedPnl() - p.fees);

    p.updatePrice('B', Number.NaN);
    p.applyFill('A', 2, 100); // B still has no finite mark: NaN still propagates
    expect(p.equity).toBeNaN();
    expect(p.updatePrice('B', 40)).toBe(10_050);
  });

  it('rebalanceTo refuses to size orders from a NaN equity instead of returning none', () => {
    const p = new Portfolio({ assets: ['A', 'B'], cash: 10_000 });
    p.applyFill('A', 10, 100);
    p.markToMarket([100, Number.NaN]);
    expect(() => p.rebalanceTo([0, 0.5])).toThrow(PortfolioError);
    expect(() => p.rebalanceTo([0, 0.5])).toThrow(/finite equity/);
    p.updatePrice('B', 50);
    expect(p.rebalanceTo([0, 0.5])).toEqual([
      { asset: 0, symbol: 'A', qty: -10, price: 100 },
      { asset: 1, symbol: 'B', qty: 100, price: 50 },
    ]);
  });
});

describe('Portfolio P&L conservation', () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('fill' as const),
      asset: fc.integer({ min: 0, max: 4 }),
      qty: fc.double({ min: -50, max: 50, noNaN: true }),
      price: fc.double({ min: 1, max: 500, noNaN: true }),
      fee: fc.double({ min: 0, max: 3, noNaN: true }),
    }),
    fc.record({
      kind: fc.constant('tick' as const),
      asset: fc.integer({ min: 0, max: 4 }),
      price: fc.double({ min: 1, max: 500, noNaN: true }),
    }),
    fc.record({
      kind: fc.constant('mark' as const),
      prices: fc.array(fc.double({ min: 1, max: 500, noNaN: true }), {
        minLength: 5,
        maxLength: 5,
      }),
    }),
  );

  it('equity = initial cash + realised + unrealised − fees after any sequence of fills and marks', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const p = new Portfolio({ assets: 5, cash: 1_000 });
        for (const o of ops) {
          if (o.kind === 'fill') p.applyFill(o.asset, o.qty, o.price, o.fee);
          else if (o.kind === 'tick') p.updatePrice(o.asset, o.price);
          else p.markToMarket(o.prices);
          const expected = p.initialCash + p.realisedPnl() + p.unrealisedPnl() - p.fees;
          const scale = 1_000 + p.grossExposure + Math.abs(p.realisedPnl()) + 1e4;
          expect(Math.abs(p.equity - expected)).toBeLessThan(1e-9 * scale);
          // Incremental state agrees with a from-scratch recomputation.
          const s = p.snapshot();
          let mv = 0;
          let gross = 0;
          let un = 0;
          for (let i = 0; i < 5; i++) {
            mv += s.quantities[i]! * s.prices[i]!;
            gross += Math.abs(s.quantities[i]! * s.prices[i]!);
            un += s.unrealisedPnl[i]!;
          }
          expect(Math.abs(p.marketValue - mv)).toBeLessThan(1e-9 * scale);
          expect(Math.abs(p.grossExposure - gross)).toBeLessThan(1e-9 * scale);
          expect(Math.abs(p.unrealisedPnl() - un)).toBeLessThan(1e-9 * scale);
        }
      }),
      { numRuns: 300 },
    );
  });
});
