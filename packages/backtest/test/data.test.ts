import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  OhlcvValidationError,
  allocateColumns,
  generateOhlcv,
  validateOhlcv,
} from '../src/index.js';

describe('generateOhlcv', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateOhlcv({ bars: 1000, seed: 42 });
    const b = generateOhlcv({ bars: 1000, seed: 42 });
    const c = generateOhlcv({ bars: 1000, seed: 43 });
    expect(a).toEqual(b);
    expect(a.close).not.toEqual(c.close);
  });

  it('produces valid bars: increasing time, low ≤ open/close ≤ high, positive prices and volume', () => {
    const d = generateOhlcv({ bars: 20_000, seed: 7, volatility: 0.9 });
    expect(() => validateOhlcv(d)).not.toThrow();
    for (let i = 0; i < 20_000; i++) {
      expect(d.low[i]! > 0 && d.volume[i]! > 0).toBe(true);
    }
  });

  it('has the requested volatility and realistic intraday ranges', () => {
    const d = generateOhlcv({ bars: 50_000, seed: 1, volatility: 0.3, drift: 0 });
    let s = 0;
    let s2 = 0;
    let range = 0;
    for (let i = 1; i < d.close.length; i++) {
      const r = Math.log(d.close[i]! / d.close[i - 1]!);
      s += r;
      s2 += r * r;
      range += Math.log(d.high[i]! / d.low[i]!);
    }
    const n = d.close.length - 1;
    const annVol = Math.sqrt((s2 - (s * s) / n) / (n - 1)) * Math.sqrt(252);
    expect(annVol).toBeGreaterThan(0.28);
    expect(annVol).toBeLessThan(0.32);
    // Mean high-low range is comparable to the daily σ (≈ 1.9 %), neither zero nor absurd.
    const meanRange = range / n;
    expect(meanRange).toBeGreaterThan(0.01);
    expect(meanRange).toBeLessThan(0.04);
  });

  it('spaces time by intervalMs from startTime and can allocate on a SharedArrayBuffer', () => {
    const d = generateOhlcv({ bars: 3, startTime: 1000, intervalMs: 60_000, shared: true });
    expect(Array.from(d.time)).toEqual([1000, 61_000, 121_000]);
    expect(d.close.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('rejects bad options naming the option and value', () => {
    expect(() => generateOhlcv({ bars: 0 })).toThrow(InvalidOptionError);
    expect(() => generateOhlcv({ bars: 1.5 })).toThrow(/bars = 1.5/);
    expect(() => generateOhlcv({ bars: 10, volatility: -1 })).toThrow(/volatility = -1/);
    expect(() => generateOhlcv({ bars: 10, startPrice: 0 })).toThrow(/startPrice/);
  });
});

describe('validateOhlcv', () => {
  const good = (): ReturnType<typeof allocateColumns> => {
    const d = allocateColumns(3);
    d.time.set([1, 2, 3]);
    d.open.set([10, 11, 12]);
    d.high.set([11, 12, 13]);
    d.low.set([9, 10, 11]);
    d.close.set([10.5, 11.5, 12.5]);
    d.volume.set([1, 2, Number.NaN]);
    return d;
  };
  it('accepts well-formed columns (NaN volume allowed)', () => {
    expect(() => validateOhlcv(good())).not.toThrow();
  });
  it('rejects mismatched lengths', () => {
    const d = { ...good(), close: new Float64Array(2) };
    expect(() => validateOhlcv(d)).toThrow(/close has length 2, but time has length 3/);
  });
  it('rejects non-increasing time', () => {
    const d = good();
    d.time[2] = 2;
    expect(() => validateOhlcv(d)).toThrow(/time\[2\] = 2 must be strictly increasing/);
  });
  it('rejects high < low', () => {
    const d = good();
    d.high[1] = 9;
    expect(() => validateOhlcv(d)).toThrow(/high\[1\] = 9 must be ≥ low/);
  });
  it('rejects NaN prices', () => {
    const d = good();
    d.close[0] = Number.NaN;
    let err: unknown;
    try {
      validateOhlcv(d);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OhlcvValidationError);
    expect(err).toMatchObject({ column: 'close', index: 0, code: 'E_BACKTEST_INVALID_DATA' });
  });
  it('rejects zero and negative prices, naming column and bar', () => {
    // A zero open would size an all-in entry at Infinity units: NaN equity from that bar on.
    const zero = good();
    zero.open[1] = 0;
    zero.low[1] = 0;
    expect(() => validateOhlcv(zero)).toThrow(/open\[1\] = 0 must be > 0/);
    const neg = good();
    neg.low[2] = -1;
    expect(() => validateOhlcv(neg)).toThrow(OhlcvValidationError);
    expect(() => validateOhlcv(neg)).toThrow(/low\[2\] = -1 must be > 0/);
  });
  it('rejects missing or non-Float64Array columns', () => {
    expect(() => validateOhlcv({ ...good(), open: [1, 2, 3] })).toThrow(
      /open must be a Float64Array/,
    );
    expect(() => validateOhlcv(null)).toThrow(OhlcvValidationError);
  });
});
