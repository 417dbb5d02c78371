import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { expectRangeError } from '../test/range-error.js';
import * as na from './index.js';
import { releaseWasmArrays, wasmArray, wasmCallCount } from './wasm/backend.js';

afterEach(() => {
  na.configureAccel({});
});
afterAll(() => {
  releaseWasmArrays();
});

function walk(n: number, seed: number, gaps = 0): Float64Array {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const x = new Float64Array(n);
  let p = 100;
  for (let i = 0; i < n; i++) {
    p *= 1 + (rand() - 0.5) * 0.02;
    x[i] = rand() < gaps ? NaN : p;
  }
  return x;
}

/** pandas `close.replace([np.inf, -np.inf], np.nan)`: the package treats an infinite close as missing. */
function infToNaN(x: Float64Array): Float64Array {
  return Float64Array.from(x, (v) => (v === Infinity || v === -Infinity ? NaN : v));
}

interface Reference {
  fastMean: Float64Array;
  slowMean: Float64Array;
  position: Float64Array;
  equity: Float64Array;
  dd: na.MaxDrawdownResult;
  turnover: number;
}

/**
 * The unfused chain of existing kernels, written out step by step as pandas code would be:
 * f = close.rolling(fast).mean(); s = close.rolling(slow).mean(); pos = sign(f − s) (−1 only with shorts);
 * ret = close.pct_change().fillna(0); strat = pos.shift(1).fillna(0)·ret − cost·|pos.diff()|;
 * equity = initial·(1 + strat).cumprod().
 */
function unfused(
  close: Float64Array,
  fast: number,
  slow: number,
  allowShort: boolean,
  cost: number,
  initial: number,
): Reference {
  const n = close.length;
  const fastMean = na.rollingMean(close, { window: fast });
  const slowMean = na.rollingMean(close, { window: slow });
  const position = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const d = fastMean[t]! - slowMean[t]!;
    position[t] = d > 0 ? 1 : d < 0 && allowShort ? -1 : 0;
  }
  return { fastMean, slowMean, position, ...chainFromPosition(close, position, cost, initial) };
}

function chainFromPosition(
  close: Float64Array,
  position: Float64Array,
  cost: number,
  initial: number,
): { equity: Float64Array; dd: na.MaxDrawdownResult; turnover: number } {
  const n = close.length;
  const pos = Float64Array.from(position, (v) => (v === v ? v : 0));
  const held = na.shift(pos, { fillValue: 0 });
  const ret = na.pctChange(close);
  const turn = na.diff(pos);
  if (n > 0) turn[0] = pos[0]!;
  const growth = new Float64Array(n);
  let turnover = 0;
  for (let t = 0; t < n; t++) {
    const r = ret[t] === ret[t] ? ret[t]! : 0;
    const tt = Math.abs(turn[t]!);
    turnover += tt;
    growth[t] = 1 + (held[t]! * r - cost * tt);
  }
  const equity = na.cumprod(growth);
  for (let t = 0; t < n; t++) equity[t] = initial * equity[t]!;
  return { equity, dd: na.maxDrawdown(equity), turnover };
}

/** Bars where the reference's two means are too close for the sign of their difference to be meaningful. */
function ambiguous(ref: Reference): number[] {
  const out: number[] = [];
  for (let t = 0; t < ref.fastMean.length; t++) {
    const f = ref.fastMean[t]!;
    const s = ref.slowMean[t]!;
    if (Math.abs(f - s) <= 1e-9 * Math.max(Math.abs(f), Math.abs(s))) out.push(t);
  }
  return out;
}

function relDiff(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    worst = Math.max(worst, Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y)));
  }
  return worst;
}

/** Checks a fused result against the reference: same positions (except ambiguous bars), same curve and stats. */
function expectMatches(
  close: Float64Array,
  got: na.EquityCurveResult,
  pos: Float64Array,
  ref: Reference,
  cost: number,
  initial: number,
): void {
  const amb = new Set(ambiguous(ref));
  let mismatched = 0;
  for (let t = 0; t < close.length; t++) {
    if (!amb.has(t) && pos[t] !== ref.position[t]) mismatched++;
  }
  expect(mismatched).toBe(0);
  // where an ambiguous bar was decided the other way, the rest follows from the fused positions
  const want = amb.size === 0 ? ref : { ...ref, ...chainFromPosition(close, pos, cost, initial) };
  expect(relDiff(got.equity, want.equity)).toBeLessThanOrEqual(1e-12);
  expect(got.turnover).toBe(want.turnover);
  expect(got.peakIndex).toBe(want.dd.peakIndex);
  expect(got.troughIndex).toBe(want.dd.troughIndex);
  expect(got.recoveryIndex).toBe(want.dd.recoveryIndex);
  if (Number.isNaN(want.dd.value)) expect(got.maxDrawdown).toBeNaN();
  else expect(Math.abs(got.maxDrawdown - want.dd.value)).toBeLessThanOrEqual(1e-12);
  const n = close.length;
  expect(got.finalEquity).toBe(n > 0 ? got.equity[n - 1] : initial);
  expect(got.totalReturn).toBe(got.finalEquity / initial - 1);
}

describe('smaCrossover: the fused pass equals the unfused chain of existing kernels', () => {
  for (const backend of ['js', 'wasm'] as const) {
    it(`100k bars, several parameter sets, backend ${backend}`, () => {
      na.configureAccel({ backend });
      const before = wasmCallCount();
      const x = walk(100_000, 5);
      for (const [fast, slow, allowShort, cost, initial] of [
        [10, 50, false, 0, 1],
        [5, 20, true, 0.0005, 10_000],
        [1, 2, true, 0.001, 1],
        [50, 1500, false, 0.0002, 3],
      ] as const) {
        // WASM writes positions only into wasm memory (close and out are copied in and out)
        const positionOut = backend === 'wasm' ? wasmArray(x.length) : new Float64Array(x.length);
        const calls = wasmCallCount();
        const got = na.smaCrossover(x, { fast, slow, allowShort, cost, initial, positionOut });
        expect(wasmCallCount() - calls).toBe(backend === 'wasm' ? 1 : 0);
        const ref = unfused(x, fast, slow, allowShort, cost, initial);
        expect(ambiguous(ref).length).toBeLessThan(5);
        expectMatches(x, got, positionOut, ref, cost, initial);
        expect(got.turnover).toBeGreaterThan(0);
      }
      // an ordinary positionOut keeps the call on JS
      const calls = wasmCallCount();
      na.smaCrossover(x, { fast: 3, slow: 7, positionOut: new Float64Array(x.length) });
      expect(wasmCallCount()).toBe(calls);
      if (backend === 'js') expect(calls).toBe(before);
      releaseWasmArrays();
    });
  }

  it('input with NaN gaps takes the NaN-aware path and still equals the chain', () => {
    for (const backend of ['js', 'wasm'] as const) {
      na.configureAccel({ backend });
      const x = walk(20_000, 9, 0.002);
      const positionOut = backend === 'wasm' ? wasmArray(x.length) : new Float64Array(x.length);
      const got = na.smaCrossover(x, {
        fast: 4,
        slow: 30,
        allowShort: true,
        cost: 0.001,
        positionOut,
      });
      const ref = unfused(x, 4, 30, true, 0.001, 1);
      expectMatches(x, got, positionOut, ref, 0.001, 1);
    }
  });

  it('an infinite close counts as missing on both backends: the curve stays finite and equals the chain', () => {
    const x = walk(5_000, 21);
    for (const [i, v] of [
      [700, Infinity],
      [701, Infinity],
      [2_000, -Infinity],
      [3_500, Infinity],
    ] as const)
      x[i] = v;
    const opts = { fast: 4, slow: 30, allowShort: true, cost: 0.001, initial: 2 };
    const ref = unfused(infToNaN(x), 4, 30, true, 0.001, 2);
    na.configureAccel({ backend: 'js' });
    const jsPos = new Float64Array(x.length);
    const js = na.smaCrossover(x, { ...opts, positionOut: jsPos });
    expectMatches(x, js, jsPos, ref, 0.001, 2);
    // resident arrays under backend 'wasm': the WASM kernel runs (and hands the non-finite input to JS)
    na.configureAccel({ backend: 'wasm' });
    const rx = wasmArray(x.length);
    rx.set(x);
    const wasmPos = wasmArray(x.length);
    const before = wasmCallCount();
    const wasm = na.smaCrossover(rx, { ...opts, out: wasmArray(x.length), positionOut: wasmPos });
    expect(wasmCallCount()).toBeGreaterThan(before);
    expectMatches(x, wasm, wasmPos, ref, 0.001, 2);
    expect(relDiff(js.equity, wasm.equity)).toBeLessThanOrEqual(1e-12);
    for (const r of [js, wasm]) {
      expect(r.equity.every((v) => Number.isFinite(v))).toBe(true);
      expect(Number.isFinite(r.finalEquity)).toBe(true);
    }
    // the infinite bars are flat (their windows have a missing value) and carry equity over unchanged
    expect(jsPos[700]).toBe(0);
    expect(js.equity[701]).toBe(js.equity[700]);
    expect(js.equity[702]).toBe(js.equity[701]);
    releaseWasmArrays();
  });

  it('a constant series never trades (equal means are a tie, as in pandas)', () => {
    for (const backend of ['js', 'wasm'] as const) {
      na.configureAccel({ backend });
      const x = new Float64Array(5_000).fill(0.1 + 0.2);
      const got = na.smaCrossover(x, { fast: 3, slow: 17, allowShort: true, cost: 0.01 });
      expect(got.turnover).toBe(0);
      expect(got.equity.every((v) => v === 1)).toBe(true);
      expect(got.maxDrawdown).toBe(0);
    }
  });

  it('property: random price paths and windows (JS backend)', () => {
    na.configureAccel({ backend: 'js' });
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 1e6, noNaN: true }), { minLength: 0, maxLength: 300 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        fc.double({ min: 0, max: 0.01, noNaN: true }),
        (prices, fast, extra, allowShort, cost) => {
          const x = Float64Array.from(prices);
          const slow = fast + extra;
          const positionOut = new Float64Array(x.length);
          const got = na.smaCrossover(x, { fast, slow, allowShort, cost, initial: 5, positionOut });
          expectMatches(x, got, positionOut, unfused(x, fast, slow, allowShort, cost, 5), cost, 5);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: JS and WASM give identical results on resident arrays', () => {
    const cap = 3_000;
    const rx = wasmArray(cap);
    const ro = wasmArray(cap);
    const rp = wasmArray(cap);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: cap }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 200 }),
        fc.boolean(),
        fc.double({ min: 0, max: 0.01, noNaN: true }),
        (n, seed, fast, extra, allowShort, cost) => {
          const x = walk(n, seed);
          const opts = { fast, slow: fast + extra, allowShort, cost };
          na.configureAccel({ backend: 'js' });
          const pos = new Float64Array(n);
          const a = na.smaCrossover(x, { ...opts, positionOut: pos });
          na.configureAccel({ backend: 'wasm' });
          const xs = rx.subarray(0, n);
          xs.set(x);
          const before = wasmCallCount();
          const b = na.smaCrossover(xs, {
            ...opts,
            out: ro.subarray(0, n),
            positionOut: rp.subarray(0, n),
          });
          if (n >= fast + extra) expect(wasmCallCount()).toBe(before + 1);
          expect(relDiff(a.equity, b.equity)).toBeLessThanOrEqual(1e-12);
          expect(Array.from(rp.subarray(0, n))).toEqual(Array.from(pos));
          expect([b.maxDrawdown, b.peakIndex, b.troughIndex, b.recoveryIndex, b.turnover]).toEqual([
            a.maxDrawdown,
            a.peakIndex,
            a.troughIndex,
            a.recoveryIndex,
            a.turnover,
          ]);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('equityCurve: position × returns → equity curve and drawdown in one pass', () => {
  it('property: equals the unfused chain for any positions (NaN = flat) and prices with gaps and ±inf', () => {
    const price = fc.oneof(
      fc.double({ min: 0.5, max: 2e3, noNaN: true }),
      fc.double({ min: 0.5, max: 2e3, noNaN: true }),
      fc.constantFrom(Number.NaN, Infinity, -Infinity),
    );
    const position = fc.oneof(
      fc.constantFrom(-1, 0, 1, 0.5, Number.NaN),
      fc.double({ min: -3, max: 3, noNaN: true }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(price, position), { maxLength: 200 }),
        fc.double({ min: 0, max: 0.01, noNaN: true }),
        fc.double({ min: 0.1, max: 1e6, noNaN: true }),
        (rows, cost, initial) => {
          const close = Float64Array.from(rows, (r) => r[0]);
          const pos = Float64Array.from(rows, (r) => r[1]);
          const got = na.equityCurve(close, pos, { cost, initial });
          // an infinite close is missing, like NaN
          const want = chainFromPosition(infToNaN(close), pos, cost, initial);
          expect(relDiff(got.equity, want.equity)).toBe(0);
          expect(got.turnover).toBe(want.turnover);
          const dd = na.maxDrawdown(got.equity);
          expect([got.maxDrawdown, got.peakIndex, got.troughIndex, got.recoveryIndex]).toEqual([
            dd.value,
            dd.peakIndex,
            dd.troughIndex,
            dd.recoveryIndex,
          ]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an infinite close is missing: zero return on its bar and the next, later bars unaffected', () => {
    const close = Float64Array.from([100, 101, Infinity, 102, 103, -Infinity, -Infinity, 104, 106]);
    const pos = Float64Array.from([1, 1, 1, 0.5, 0.5, -1, -1, 1, 1]);
    const got = na.equityCurve(close, pos, { cost: 0.001, initial: 10 });
    // identical to the same series with NaN in place of the infinities
    const same = na.equityCurve(infToNaN(close), pos, { cost: 0.001, initial: 10 });
    expect(Array.from(got.equity)).toEqual(Array.from(same.equity));
    expect(got.equity.every((v) => Number.isFinite(v))).toBe(true);
    // bars 2 and 3 (the +inf and the bar after it) only pay the cost of the position change at 3
    expect(got.equity[2]).toBe(got.equity[1]);
    expect(got.equity[3]! / (got.equity[2]! * (1 - 0.001 * 0.5)) - 1).toBeCloseTo(0, 14);
    // bar 4 earns 0.5 × (103 / 102 − 1) again
    expect(got.equity[4]! / (got.equity[3]! * (1 + 0.5 * (103 / 102 - 1))) - 1).toBeCloseTo(0, 14);
    // flat through a −inf: nothing changes (a zero position times an infinite return was NaN)
    const flat = na.equityCurve(close, new Float64Array(close.length), { initial: 3 });
    expect(Array.from(flat.equity)).toEqual(new Array<number>(close.length).fill(3));
    expect([got.maxDrawdown, got.peakIndex, got.troughIndex, got.recoveryIndex]).toEqual([
      same.maxDrawdown,
      same.peakIndex,
      same.troughIndex,
      same.recoveryIndex,
    ]);
    expect(got.finalEquity).toBe(got.equity[8]);
  });

  it('always long without costs is buy-and-hold: equity tracks close / close[0]', () => {
    const close = walk(10_000, 3);
    const got = na.equityCurve(close, new Float64Array(close.length).fill(1), { initial: 100 });
    for (let t = 0; t < close.length; t += 997) {
      expect(got.equity[t]! / (100 * (close[t]! / close[0]!)) - 1).toBeLessThan(1e-11);
    }
    expect(got.maxDrawdown).toBeCloseTo(na.maxDrawdown(close).value, 11);
  });

  it('writes into out (which may be the position array) and returns it', () => {
    const close = walk(500, 4);
    const pos = Float64Array.from(close, (_, i) => (i % 7 < 3 ? 1 : -1));
    const want = na.equityCurve(close, pos).equity;
    const got = na.equityCurve(close, pos, { out: pos });
    expect(got.equity).toBe(pos);
    expect(Array.from(pos)).toEqual(Array.from(want));
  });

  it('an infinite position throws AccelRangeError naming position, the index and the value', () => {
    const close = walk(20, 5);
    for (const bad of [Infinity, -Infinity]) {
      for (const at of [0, 7, 19]) {
        const pos = Float64Array.from(close, (_, i) => (i % 3 === 0 ? NaN : 1));
        pos[at] = bad;
        expectRangeError(() => na.equityCurve(close, pos, { cost: 0.001 }), 'position');
        expect(() => na.equityCurve(close, pos)).toThrow(
          `position must be finite or NaN (flat) at every index, but position[${at}] is not; got ${bad}`,
        );
      }
    }
  });

  it('an infinite position leaves the position array untouched when it is also out', () => {
    const close = walk(50, 6);
    for (const bad of [Infinity, -Infinity]) {
      const pos = Float64Array.from(close, (_, i) => (i % 5 < 2 ? 1 : -0.5));
      pos[30] = bad;
      const before = Array.from(pos);
      // a separate out is an output buffer: it is rejected all the same, and the positions are kept
      const out = new Float64Array(close.length).fill(7);
      expectRangeError(() => na.equityCurve(close, pos, { out }), 'position');
      expect(Array.from(pos)).toEqual(before);
      // in place: the positions before index 30 must not have been overwritten with equity
      expectRangeError(() => na.equityCurve(close, pos, { out: pos, cost: 0.001 }), 'position');
      expect(Array.from(pos)).toEqual(before);
    }
  });

  it('an empty series gives an empty curve', () => {
    const r = na.equityCurve(new Float64Array(0), new Float64Array(0), { initial: 3 });
    expect(r.equity.length).toBe(0);
    expect(r.finalEquity).toBe(3);
    expect(r.totalReturn).toBe(0);
    expect(r.maxDrawdown).toBeNaN();
    expect([r.peakIndex, r.troughIndex, r.recoveryIndex]).toEqual([-1, -1, -1]);
  });
});

describe('fused backtest primitives: bad input throws a RangeError naming the parameter', () => {
  const x = walk(50, 1);
  const cases: [string, () => unknown, string][] = [
    ['close', () => na.smaCrossover([1, 2, 3] as never, { fast: 1, slow: 2 }), 'close'],
    ['fast ≥ slow', () => na.smaCrossover(x, { fast: 5, slow: 5 }), 'options.fast'],
    ['fast 0', () => na.smaCrossover(x, { fast: 0, slow: 5 }), 'options.fast'],
    ['slow missing', () => na.smaCrossover(x, { fast: 2 } as never), 'options.slow'],
    ['slow 1', () => na.smaCrossover(x, { fast: 1, slow: 1 }), 'options.slow'],
    ['no options', () => na.smaCrossover(x, undefined as never), 'options'],
    ['cost < 0', () => na.smaCrossover(x, { fast: 1, slow: 3, cost: -0.1 }), 'options.cost'],
    ['initial 0', () => na.smaCrossover(x, { fast: 1, slow: 3, initial: 0 }), 'options.initial'],
    [
      'allowShort not boolean',
      () => na.smaCrossover(x, { fast: 1, slow: 3, allowShort: 1 as never }),
      'options.allowShort',
    ],
    [
      'out length',
      () => na.smaCrossover(x, { fast: 1, slow: 3, out: new Float64Array(3) }),
      'options.out',
    ],
    ['out = close', () => na.smaCrossover(x, { fast: 1, slow: 3, out: x }), 'options.out'],
    [
      'positionOut length',
      () => na.smaCrossover(x, { fast: 1, slow: 3, positionOut: new Float64Array(2) }),
      'options.positionOut',
    ],
    [
      'positionOut = out',
      () => {
        const o = new Float64Array(x.length);
        return na.smaCrossover(x, { fast: 1, slow: 3, out: o, positionOut: o });
      },
      'options.positionOut',
    ],
    ['position length', () => na.equityCurve(x, new Float64Array(3)), 'position'],
    ['position type', () => na.equityCurve(x, Array.from(x) as never), 'position'],
    ['equityCurve out = close', () => na.equityCurve(x, x.slice(), { out: x }), 'options.out'],
    [
      'position +Infinity',
      () =>
        na.equityCurve(
          x,
          Float64Array.from(x, (_, i) => (i === 10 ? Infinity : 1)),
        ),
      'position',
    ],
    [
      'position −Infinity with out',
      () =>
        na.equityCurve(
          x,
          Float64Array.from(x, (_, i) => (i === 49 ? -Infinity : 0)),
          {
            out: new Float64Array(x.length),
          },
        ),
      'position',
    ],
  ];
  for (const [what, call, param] of cases) {
    it(`${what} → RangeError for ${param}`, () => expectRangeError(call, param));
  }
});
