import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectRangeError } from '../test/range-error.js';
import { ewmCore } from './ewm.js';
import * as na from './index.js';
import { wasmCallCount } from './wasm/backend.js';

const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const withGaps = fc.oneof(finite, finite, finite, fc.constant(Number.NaN));
const arr = (g: fc.Arbitrary<number>, minLength = 1, maxLength = 60) =>
  fc.array(g, { minLength, maxLength }).map((a) => Float64Array.from(a));

function near(a: number, b: number, scale: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) <= 1e-9 * Math.max(1, scale);
}
const maxAbs = (x: Float64Array): number =>
  x.reduce((m, v) => (v === v ? Math.max(m, Math.abs(v)) : m), 0);

describe('property: a rolling window of the whole length equals the full reduction at the last index', () => {
  it('rollingSum / rollingMean / rollingMin / rollingMax with window = n, minPeriods 1', () => {
    fc.assert(
      fc.property(arr(withGaps), (x) => {
        const n = x.length;
        const opts = { window: n, minPeriods: 1 };
        const last = (a: Float64Array): number => a[n - 1]!;
        const valid = x.some((v) => v === v);
        const s = maxAbs(x) * n;
        expect(near(last(na.rollingSum(x, opts)), valid ? na.sum(x) : NaN, s)).toBe(true);
        expect(near(last(na.rollingMean(x, opts)), na.mean(x), s)).toBe(true);
        expect(last(na.rollingMin(x, opts))).toBe(na.min(x));
        expect(last(na.rollingMax(x, opts))).toBe(na.max(x));
      }),
    );
  });

  it('rollingVar / rollingStd with window = n match variance / std', () => {
    fc.assert(
      fc.property(arr(withGaps, 1, 40), fc.integer({ min: 0, max: 2 }), (x, ddof) => {
        const n = x.length;
        const opts = { window: n, minPeriods: 1, ddof };
        const A = maxAbs(x);
        expect(near(na.rollingVar(x, opts)[n - 1]!, na.variance(x, { ddof }), A * A)).toBe(true);
        expect(near(na.rollingStd(x, opts)[n - 1]!, na.std(x, { ddof }), A)).toBe(true);
      }),
    );
  });
});

describe('property: identities', () => {
  it('cumsum of diff gives back x − x[0]', () => {
    fc.assert(
      fc.property(arr(finite, 2), (x) => {
        const d = na.diff(x);
        d[0] = 0;
        const c = na.cumsum(d);
        for (let i = 0; i < x.length; i++)
          expect(Math.abs(c[i]! - (x[i]! - x[0]!))).toBeLessThanOrEqual(
            1e-9 * maxAbs(x) * x.length,
          );
      }),
    );
  });

  it('shift by p then by −p restores the interior and fills the edges', () => {
    fc.assert(
      fc.property(arr(finite, 1), fc.integer({ min: -5, max: 5 }), (x, p) => {
        const back = na.shift(na.shift(x, { periods: p }), { periods: -p });
        for (let i = 0; i < x.length; i++) {
          const inside = p >= 0 ? i < x.length - p : i >= -p;
          if (inside) expect(back[i]).toBe(x[i]);
          else expect(back[i]).toBeNaN();
        }
      }),
    );
  });

  it('drawdown is ≤ 0 and its minimum is maxDrawdown, with peak ≤ trough', () => {
    fc.assert(
      fc.property(arr(fc.double({ min: 1, max: 1e4, noNaN: true }), 1), (x) => {
        const dd = na.drawdown(x);
        for (const v of dd) expect(v).toBeLessThanOrEqual(0);
        const m = na.maxDrawdown(x);
        expect(m.value).toBe(na.min(dd));
        expect(m.peakIndex).toBeLessThanOrEqual(m.troughIndex);
        expect(x[m.peakIndex]).toBe(na.max(x.subarray(0, m.troughIndex + 1)));
        if (m.recoveryIndex >= 0)
          expect(x[m.recoveryIndex]).toBeGreaterThanOrEqual(x[m.peakIndex]!);
      }),
    );
  });

  it('pctChange and logReturns agree: log1p(pct) = logReturn', () => {
    fc.assert(
      fc.property(arr(fc.double({ min: 0.5, max: 2, noNaN: true }), 2), (x) => {
        const p = na.pctChange(x);
        const l = na.logReturns(x);
        for (let i = 1; i < x.length; i++)
          expect(Math.abs(Math.log1p(p[i]!) - l[i]!)).toBeLessThan(1e-12);
      }),
    );
  });

  it('quantile equals the sorted-order linear interpolation', () => {
    fc.assert(
      fc.property(arr(withGaps, 1), fc.double({ min: 0, max: 1, noNaN: true }), (x, q) => {
        const v = [...x].filter((a) => a === a).sort((a, b) => a - b);
        const got = na.quantile(x, q);
        if (v.length === 0) {
          expect(got).toBeNaN();
          return;
        }
        const pos = q * (v.length - 1);
        const lo = Math.floor(pos);
        const hi = Math.min(v.length - 1, lo + 1);
        const want = v[lo]! + (v[hi]! - v[lo]!) * (pos - lo);
        expect(near(got, want, maxAbs(x))).toBe(true);
      }),
    );
  });

  it('ema with alpha = 1 is the identity and rsi stays within [0, 100]', () => {
    fc.assert(
      fc.property(arr(finite, 2), (x) => {
        // Numeric identity: -0 and +0 are the same number here (`v + 0` folds -0 to +0).
        expect(Array.from(na.ema(x, { alpha: 1, adjust: false }), (v) => v + 0)).toEqual(
          Array.from(x, (v) => v + 0),
        );
        for (const v of na.rsi(x, { period: 3 }))
          if (v === v) expect(v >= 0 && v <= 100).toBe(true);
      }),
    );
  });

  it('a rolling correlation of a series with itself is 1 where defined, and with its negation −1', () => {
    fc.assert(
      fc.property(
        arr(
          fc.integer({ min: -1e6, max: 1e6 }).map((v) => v / 64),
          3,
          80,
        ),
        fc.integer({ min: 2, max: 30 }),
        (x, w) => {
          const neg = x.map((v) => -v);
          const r1 = na.rollingCorr(x, x, { window: w });
          const r2 = na.rollingCorr(x, neg, { window: w });
          for (let i = 0; i < x.length; i++) {
            if (r1[i] === r1[i]) expect(r1[i]).toBeCloseTo(1, 6);
            if (r2[i] === r2[i]) expect(r2[i]).toBeCloseTo(-1, 6);
          }
        },
      ),
    );
  });
});

// Large inputs exercise the lane and block code paths that the small pandas fixtures never reach.
function series(n: number, seed: number, gaps: boolean): Float64Array {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const x = new Float64Array(n);
  let p = 100;
  for (let i = 0; i < n; i++) {
    p *= 1 + (rand() - 0.5) * 0.02;
    x[i] = gaps && rand() < 0.01 ? NaN : p;
  }
  return x;
}

function naiveRolling(
  x: Float64Array,
  w: number,
  minp: number,
  f: (v: number[]) => number,
): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = Array.from(x.subarray(Math.max(0, i - w + 1), i + 1)).filter((a) => a === a);
    out[i] = v.length >= Math.max(minp, 1) ? f(v) : NaN;
  }
  return out;
}
const meanOf = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const varOf = (v: number[]): number => {
  const m = meanOf(v);
  return v.length < 2 ? NaN : v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
};

describe.each(['js', 'wasm'] as const)(
  'fast paths on large inputs agree with straightforward references, backend %s',
  (backend) => {
    beforeEach(() => {
      na.configureAccel({ backend });
    });
    afterEach(() => {
      na.configureAccel({});
    });
    for (const gaps of [false, true]) {
      it(`rolling kernels over 20k values (${gaps ? 'with' : 'without'} NaN gaps) match a naive O(n·w) computation`, () => {
        const before = wasmCallCount();
        const x = series(20_000, 7, gaps);
        for (const w of [5, 37]) {
          const checks: [Float64Array, Float64Array, number][] = [
            [na.rollingMean(x, { window: w }), naiveRolling(x, w, w, meanOf), 1e-11],
            [
              na.rollingSum(x, { window: w }),
              naiveRolling(x, w, w, (v) => v.reduce((a, b) => a + b, 0)),
              1e-11,
            ],
            [
              na.rollingStd(x, { window: w }),
              naiveRolling(x, w, w, (v) => Math.sqrt(varOf(v))),
              1e-7,
            ],
            [na.rollingMax(x, { window: w }), naiveRolling(x, w, w, (v) => Math.max(...v)), 0],
            [
              na.rollingMin(x, { window: w, minPeriods: 2 }),
              naiveRolling(x, w, 2, (v) => Math.min(...v)),
              0,
            ],
          ];
          for (const [got, want, tol] of checks) {
            let bad = 0;
            for (let i = 0; i < x.length; i++) {
              const a = got[i]!;
              const b = want[i]!;
              if (
                Number.isNaN(b)
                  ? !Number.isNaN(a)
                  : !(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)))
              )
                bad++;
            }
            expect(bad).toBe(0);
          }
        }
        if (backend === 'wasm') expect(wasmCallCount()).toBeGreaterThan(before);
      });
    }

    it('a window of equal values gives exactly 0 (NaN z-score), as pandas does, wherever it falls', () => {
      const x = series(40_000, 11, false);
      // runs of equal values inside a random walk, one of them right after 1e150-sized values slid through
      x.fill(0.1 + 0.2, 5_000, 5_100);
      x.fill(1e150, 12_000, 12_040);
      x.fill(0.7, 12_040, 12_300);
      x.fill(123.456, 20_000, 25_000);
      x.fill(-3e-7, 30_001, 30_023);
      for (const w of [3, 20]) {
        const sd = na.rollingStd(x, { window: w });
        const v = na.rollingVar(x, { window: w, ddof: 0 });
        const z = na.zscore(x, { window: w });
        let flat = 0;
        let run = 0;
        for (let i = 0; i < x.length; i++) {
          run = i > 0 && x[i] === x[i - 1] ? run + 1 : 0;
          if (run >= w - 1) {
            flat++;
            expect(sd[i]).toBe(0);
            expect(v[i]).toBe(0);
            expect(z[i]).toBeNaN();
          } else if (i >= w - 1) {
            expect(sd[i]).toBeGreaterThan(0);
          }
        }
        expect(flat).toBeGreaterThan(5_000);
      }
    });

    it('ema over 200k values (four lanes plus correction) equals the sequential pandas recursion within 1e-13', () => {
      for (const adjust of [true, false]) {
        for (const span of [3, 20, 500]) {
          const x = series(200_000, span, false);
          const got = na.ema(x, { span, adjust });
          const want = new Float64Array(x.length);
          ewmCore(x, want, 2 / (span + 1), adjust, false, 0);
          let worst = 0;
          for (let i = 0; i < x.length; i++)
            worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.abs(want[i]!));
          expect(worst).toBeLessThanOrEqual(1e-13);
        }
      }
    });

    it('reduction fast paths equal their NaN-aware slow paths', () => {
      const x = series(10_001, 3, false);
      const g = series(10_001, 3, true);
      const valid = Float64Array.from(Array.from(g).filter((v) => v === v));
      expect(na.sum(g)).toBeCloseTo(na.sum(valid), 6);
      expect(na.mean(g)).toBeCloseTo(na.mean(valid), 9);
      expect(na.variance(g)).toBeCloseTo(na.variance(valid), 9);
      expect(na.min(g)).toBe(na.min(valid));
      expect(na.max(g)).toBe(na.max(valid));
      expect(na.argmax(x)).toBe(Array.from(x).indexOf(na.max(x)));
      expect(na.argmin(x)).toBe(Array.from(x).indexOf(na.min(x)));
      expect(na.sum(g, { skipna: false })).toBeNaN();
      expect(na.argmax(g, { skipna: false })).toBe(-1);
    });
  },
);

describe('out arrays', () => {
  it('writes into the given out array and returns it, with no other allocation of that size', () => {
    const x = series(1000, 1, false);
    const out = new Float64Array(1000);
    expect(na.rollingMean(x, { window: 10, out })).toBe(out);
    expect(na.ema(x, { span: 10, out })).toBe(out);
    expect(na.cumsum(x, { out })).toBe(out);
  });

  it('elementwise kernels may run in place', () => {
    const x = series(100, 2, false);
    const want = na.diff(x, { periods: 2 });
    const y = x.slice();
    expect(na.diff(y, { periods: 2, out: y })).toEqual(want);
    const y2 = x.slice();
    expect(na.shift(y2, { periods: -3, out: y2 })).toEqual(na.shift(x, { periods: -3 }));
    const y3 = x.slice();
    expect(na.ema(y3, { span: 5, out: y3 })).toEqual(na.ema(x, { span: 5 }));
  });
});

describe('bad input throws a RangeError naming the parameter', () => {
  const x = new Float64Array([1, 2, 3]);
  const cases: [string, () => unknown, string][] = [
    ['non-Float64Array x', () => na.sum([1, 2, 3] as unknown as Float64Array), 'x'],
    [
      'Float32Array x',
      () => na.rollingMean(new Float32Array(3) as unknown as Float64Array, { window: 2 }),
      'x',
    ],
    ['window 0', () => na.rollingMean(x, { window: 0 }), 'options.window'],
    ['negative window', () => na.rollingStd(x, { window: -3 }), 'options.window'],
    ['fractional window', () => na.rollingMax(x, { window: 1.5 }), 'options.window'],
    [
      'minPeriods above window',
      () => na.rollingSum(x, { window: 2, minPeriods: 3 }),
      'options.minPeriods',
    ],
    ['mismatched lengths', () => na.rollingCorr(x, new Float64Array(4), { window: 2 }), 'y'],
    ['out of the wrong length', () => na.cumsum(x, { out: new Float64Array(2) }), 'options.out'],
    ['out aliasing a rolling input', () => na.rollingMean(x, { window: 2, out: x }), 'options.out'],
    [
      'two decay parameters',
      () => na.ema(x, { span: 3, alpha: 0.5 }),
      'options.span|alpha|halflife|com',
    ],
    ['alpha out of range', () => na.ema(x, { alpha: 1.5 }), 'options.alpha'],
    ['span below 1', () => na.ema(x, { span: 0.5 }), 'options.span'],
    ['q out of range', () => na.quantile(x, 1.2), 'q'],
    ['negative ddof', () => na.variance(x, { ddof: -1 }), 'options.ddof'],
    ['rsi period 0', () => na.rsi(x, { period: 0 }), 'options.period'],
    ['periodsPerYear 0', () => na.sharpe(x, { periodsPerYear: 0 }), 'options.periodsPerYear'],
  ];
  for (const [what, fn, param] of cases) {
    it(`${what} → RangeError for ${param}`, () => expectRangeError(fn, param));
  }
});

describe('pandas edge semantics', () => {
  it('a window longer than the series yields NaN until minPeriods values are seen', () => {
    const x = new Float64Array([1, 2, 3]);
    expect(Array.from(na.rollingMean(x, { window: 10 }))).toEqual([NaN, NaN, NaN]);
    expect(Array.from(na.rollingMean(x, { window: 10, minPeriods: 2 }))).toEqual([NaN, 1.5, 2]);
  });
  it("quantile 'nearest' rounds an exact half of the virtual index (n − 1)·q to even, as NumPy does", () => {
    const x = Float64Array.from({ length: 106 }, (_, i) => i);
    // (106 − 1) · 0.1 = 10.5 exactly → 10
    expect(na.quantile(x, 0.1, { interpolation: 'nearest' })).toBe(10);
    expect(na.quantile(x, 0.1)).toBe(10.5);
  });
  it('empty input gives empty outputs and NaN / 0 reductions like pandas', () => {
    const e = new Float64Array(0);
    expect(na.sum(e)).toBe(0);
    expect(na.sum(e, { minCount: 1 })).toBeNaN();
    expect(na.mean(e)).toBeNaN();
    expect(na.rollingStd(e, { window: 3 }).length).toBe(0);
    expect(na.ema(e, { span: 3 }).length).toBe(0);
    expect(na.maxDrawdown(e)).toEqual({
      value: NaN,
      peakIndex: -1,
      troughIndex: -1,
      recoveryIndex: -1,
    });
  });
});

describe('in place and overlapping out arrays', () => {
  const gapped = (): Float64Array => {
    const x = series(3000, 5, false);
    x[7] = NaN;
    x[1500] = NaN;
    return x;
  };

  it('rsi may run in place (out = x), with and without NaN gaps', () => {
    for (const x of [series(3000, 4, false), gapped()]) {
      for (const period of [1, 3, 14]) {
        const want = na.rsi(x, { period });
        const y = x.slice();
        expect(na.rsi(y, { period, out: y })).toBe(y);
        expect(Array.from(y)).toEqual(Array.from(want));
      }
    }
  });

  it('ema and rsi run in place through a second view of the same memory, NaN gaps included', () => {
    const x = gapped();
    const wantEma = na.ema(x, { span: 10 });
    const wantRsi = na.rsi(x, { period: 5 });
    const a = x.slice();
    na.ema(a, { span: 10, out: new Float64Array(a.buffer) });
    expect(Array.from(a)).toEqual(Array.from(wantEma));
    const b = x.slice();
    na.rsi(b, { period: 5, out: new Float64Array(b.buffer) });
    expect(Array.from(b)).toEqual(Array.from(wantRsi));
  });

  it('an out array that is a shifted view of the input is rejected, naming options.out', () => {
    const buf = new Float64Array(101);
    buf.set(series(100, 6, false));
    const x = buf.subarray(0, 100);
    const ahead = buf.subarray(1, 101);
    const calls: [string, () => unknown][] = [
      ['cumsum', () => na.cumsum(x, { out: ahead })],
      ['cumprod', () => na.cumprod(x, { out: ahead })],
      ['cummax', () => na.cummax(x, { out: ahead })],
      ['cummin', () => na.cummin(x, { out: ahead })],
      ['diff', () => na.diff(x, { periods: -1, out: ahead })],
      ['pctChange', () => na.pctChange(x, { fillMethod: 'pad', out: ahead })],
      ['logReturns', () => na.logReturns(x, { periods: -1, out: ahead })],
      ['drawdown', () => na.drawdown(x, { out: ahead })],
      ['ema', () => na.ema(x, { span: 3, out: ahead })],
      ['rsi', () => na.rsi(x, { period: 3, out: ahead })],
      ['zscore', () => na.zscore(x, { out: ahead })],
      ['equityCurve', () => na.equityCurve(series(100, 8, false), x, { out: ahead })],
    ];
    const before = Array.from(buf);
    for (const [name, call] of calls) {
      try {
        expectRangeError(call, 'options.out');
      } catch (e) {
        throw new Error(`${name}: ${(e as Error).message}`, { cause: e });
      }
    }
    // rejected before anything was written
    expect(Array.from(buf)).toEqual(before);
  });

  it('quantile rejects a scratch buffer that overlaps x, which it would reorder', () => {
    const x = Float64Array.from([5, 3, 1, 4, 2]);
    expectRangeError(() => na.quantile(x, 0.5, { scratch: x }), 'options.scratch');
    expect(Array.from(x)).toEqual([5, 3, 1, 4, 2]);
    const scratch = new Float64Array(5);
    expect(na.quantile(x, 0.5, { scratch })).toBe(3);
    expect(Array.from(x)).toEqual([5, 3, 1, 4, 2]);
  });
});

describe('infinities: pandas rolling and ewm functions treat ±inf as missing, reductions keep them', () => {
  it('variance, std and sharpe of data holding an infinity and a NaN are NaN, as in pandas', () => {
    // pandas: Series([1, nan, inf, 5, -inf, 7]).var() and Series([1, nan, inf, 5, 7]).var() are NaN
    for (const x of [
      Float64Array.from([1, NaN, Infinity, 5, -Infinity, 7]),
      Float64Array.from([1, NaN, Infinity, 5, 7]),
      Float64Array.from([1, NaN, -Infinity, 5, 7]),
      Float64Array.from([Infinity, NaN, 1, 5, 7]),
    ]) {
      expect(na.variance(x)).toBeNaN();
      expect(na.variance(x, { ddof: 0 })).toBeNaN();
      expect(na.std(x)).toBeNaN();
      expect(na.sharpe(x)).toBeNaN();
    }
  });

  it('rolling z-score at an infinite value is ±inf, also where the rest of the window is flat (pandas)', () => {
    // pandas: s = Series([2, 2, 2, inf, 2, -inf, 2]); r = s.rolling(3, min_periods=2); (s - r.mean()) / r.std()
    const x = Float64Array.from([2, 2, 2, Infinity, 2, -Infinity, 2]);
    const want = [NaN, NaN, NaN, Infinity, NaN, NaN, NaN];
    expect(Array.from(na.zscore(x, { window: 3, minPeriods: 2 }))).toEqual(want);
    expect(Array.from(na.zscore(x, { window: 3, minPeriods: 2, ddof: 0 }))).toEqual(want);
    const y = Float64Array.from([1, 2, 3, -Infinity, 5]);
    expect(na.zscore(y, { window: 3, minPeriods: 2 })[3]).toBe(-Infinity);
  });

  describe.each(['js', 'wasm'] as const)('backend %s', (backend) => {
    beforeEach(() => {
      na.configureAccel({ backend });
    });
    afterEach(() => {
      na.configureAccel({});
    });

    it('every rolling and ewm kernel gives the same result as with NaN in place of each infinity, across block boundaries', () => {
      const before = wasmCallCount();
      const n = 9000;
      const withInf = series(n, 21, true);
      // around the 1024-output (JS) and 2048-output (WASM pair) block boundaries, a run, and both signs
      for (const [i, v] of [
        [5, Infinity],
        [1023, Infinity],
        [1024, -Infinity],
        [2047, Infinity],
        [2048, Infinity],
        [4095, -Infinity],
        [6000, Infinity],
        [6001, Infinity],
        [6002, -Infinity],
        [n - 1, Infinity],
      ] as const)
        withInf[i] = v;
      const withNaN = withInf.map((v) => (Number.isFinite(v) ? v : NaN));
      const y = series(n, 22, true);
      y[3000] = -Infinity;
      const yNaN = y.map((v) => (Number.isFinite(v) ? v : NaN));
      const same = (a: Float64Array, b: Float64Array): void => {
        let first = -1;
        for (let i = 0; i < a.length && first < 0; i++) {
          if (!(a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) first = i;
        }
        expect(first < 0 ? 'same' : `[${first}] ${a[first]} vs ${b[first]}`).toBe('same');
      };
      for (const w of [1, 3, 20, 1500]) {
        for (const minPeriods of [undefined, 1]) {
          const o = minPeriods === undefined ? { window: w } : { window: w, minPeriods };
          same(na.rollingSum(withInf, o), na.rollingSum(withNaN, o));
          same(na.rollingMean(withInf, o), na.rollingMean(withNaN, o));
          same(na.rollingVar(withInf, o), na.rollingVar(withNaN, o));
          same(
            na.rollingStd(withInf, { ...o, ddof: 0 }),
            na.rollingStd(withNaN, { ...o, ddof: 0 }),
          );
          same(na.rollingMin(withInf, o), na.rollingMin(withNaN, o));
          same(na.rollingMax(withInf, o), na.rollingMax(withNaN, o));
          same(na.rollingCorr(withInf, y, o), na.rollingCorr(withNaN, yNaN, o));
          // the z-score keeps x itself, so only the infinite positions differ (±inf there, or NaN)
          const z = na.zscore(withInf, o);
          const zNaN = na.zscore(withNaN, o);
          let off = 0;
          for (let i = 0; i < n; i++) {
            const ok = Number.isFinite(withInf[i])
              ? z[i] === zNaN[i] || (Number.isNaN(z[i]) && Number.isNaN(zNaN[i]))
              : Number.isNaN(z[i]) || z[i] === withInf[i];
            if (!ok) off++;
          }
          expect(off).toBe(0);
        }
      }
      for (const adjust of [true, false]) {
        for (const ignoreNA of [true, false]) {
          const o = { span: 12, adjust, ignoreNA, minPeriods: 3 };
          same(na.ema(withInf, o), na.ema(withNaN, o));
        }
      }
      if (backend === 'wasm') expect(wasmCallCount()).toBeGreaterThan(before);
      // rsi: a +inf move is a missing gain but an observed zero loss, so it is not the NaN result; check a
      // pandas value instead: s = Series([1, 2, inf, 4, 5, 6]); d = s.diff(); the ewm(alpha=1/2, adjust=False,
      // min_periods=2) of the gains and losses give 100 - 100 / (1 + up / down) = [nan, nan, nan, 100, 100, 100]
      expect(
        Array.from(na.rsi(Float64Array.from([1, 2, Infinity, 4, 5, 6]), { period: 2 })),
      ).toEqual([NaN, NaN, NaN, 100, 100, 100]);
    });
  });
});

describe('window and count options', () => {
  it('zscore takes the same windows as rollingStd, longer than the series included', () => {
    const x = series(50, 9, true);
    const huge = 1e300;
    const z = na.zscore(x, { window: huge, minPeriods: 2 });
    const m = na.rollingMean(x, { window: huge, minPeriods: 2 });
    const s = na.rollingStd(x, { window: huge, minPeriods: 2 });
    for (let i = 0; i < x.length; i++) {
      const want = (x[i]! - m[i]!) / s[i]!;
      if (Number.isNaN(want)) expect(z[i]).toBeNaN();
      else expect(Math.abs(z[i]! - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));
    }
  });

  it('zscore rejects minPeriods without a window instead of ignoring it', () => {
    expectRangeError(() => na.zscore(new Float64Array(5), { minPeriods: 2 }), 'options.minPeriods');
  });

  it('an integer option above 2^53 − 1 is told the limit, not "an integer ≥ 1"', () => {
    expectRangeError(() => na.rsi(new Float64Array(5), { period: 1e300 }), 'options.period');
    expect(() => na.rsi(new Float64Array(5), { period: 1e300 })).toThrow(/2\^53/);
    expect(() => na.diff(new Float64Array(5), { periods: -1e300 })).toThrow(/2\^53/);
  });
});

// Outputs are allocated without zero-filling (validate.ts outArray), which is only sound if every
// kernel writes every element of its output. An `out` full of garbage must give exactly the result
// of a fresh zeroed array: an element left unwritten would keep the garbage in one and 0 in the other.
describe('every kernel writes every element of its output', () => {
  const GARBAGE = 7.77e77;
  type Call = (x: Float64Array, out: Float64Array | undefined) => Float64Array;
  const calls: [string, Call][] = [
    ['shift', (x, out) => na.shift(x, { periods: 3, ...(out && { out }) })],
    ['shift back', (x, out) => na.shift(x, { periods: -2, ...(out && { out }) })],
    ['diff', (x, out) => na.diff(x, { periods: 2, ...(out && { out }) })],
    ['pctChange', (x, out) => na.pctChange(x, { ...(out && { out }) })],
    ['logReturns', (x, out) => na.logReturns(x, { ...(out && { out }) })],
    ['cumsum', (x, out) => na.cumsum(x, { ...(out && { out }) })],
    ['cumprod', (x, out) => na.cumprod(x, { ...(out && { out }) })],
    ['cummax', (x, out) => na.cummax(x, { ...(out && { out }) })],
    ['cummin', (x, out) => na.cummin(x, { ...(out && { out }) })],
    ['ema', (x, out) => na.ema(x, { span: 7, ...(out && { out }) })],
    ['rsi', (x, out) => na.rsi(x, { period: 5, ...(out && { out }) })],
    ['zscore', (x, out) => na.zscore(x, { ...(out && { out }) })],
    ['zscore window', (x, out) => na.zscore(x, { window: 6, minPeriods: 3, ...(out && { out }) })],
    ['drawdown', (x, out) => na.drawdown(x, { ...(out && { out }) })],
    ['rollingSum', (x, out) => na.rollingSum(x, { window: 5, ...(out && { out }) })],
    ['rollingMean', (x, out) => na.rollingMean(x, { window: 20, ...(out && { out }) })],
    [
      'rollingMean minPeriods',
      (x, out) => na.rollingMean(x, { window: 9, minPeriods: 2, ...(out && { out }) }),
    ],
    ['rollingVar', (x, out) => na.rollingVar(x, { window: 4, ...(out && { out }) })],
    ['rollingStd', (x, out) => na.rollingStd(x, { window: 20, ...(out && { out }) })],
    [
      'rollingStd ddof 0',
      (x, out) => na.rollingStd(x, { window: 3, ddof: 0, minPeriods: 1, ...(out && { out }) }),
    ],
    ['rollingMin', (x, out) => na.rollingMin(x, { window: 6, ...(out && { out }) })],
    ['rollingMax', (x, out) => na.rollingMax(x, { window: 6, ...(out && { out }) })],
    [
      'rollingCorr',
      (x, out) =>
        na.rollingCorr(
          x,
          x.map((v, i) => v * 0.5 + (i % 7)),
          { window: 8, ...(out && { out }) },
        ),
    ],
    [
      'equityCurve',
      (x, out) =>
        na.equityCurve(
          x.map(Math.abs),
          x.map((v) => (v > 0 ? 1 : 0)),
          { ...(out && { out }) },
        ).equity,
    ],
    [
      'smaCrossover',
      (x, out) =>
        na.smaCrossover(
          x.map((v) => Math.abs(v) + 1),
          { fast: 3, slow: 8, ...(out && { out }) },
        ).equity,
    ],
  ];
  /** Elements that differ, by Object.is (NaN equals NaN, -0 differs from 0). */
  const differing = (a: Float64Array, b: Float64Array): number[] =>
    Array.from(a.keys()).filter((i) => !Object.is(a[i], b[i]));

  describe.each(['js', 'wasm'] as const)('backend %s', (backend) => {
    beforeEach(() => na.configureAccel({ backend }));
    afterEach(() => na.configureAccel({}));

    it.each(calls)('%s', (_name, call) => {
      const lengths = [0, 1, 2, 5, 19, 20, 21, 64, 4097, 20_000];
      for (const n of lengths) {
        for (const gaps of [false, true]) {
          const x = series(n, n + 11, gaps);
          const fresh = call(x, undefined);
          const dirty = call(x, new Float64Array(n).fill(GARBAGE));
          expect(differing(fresh, dirty), `n ${n}, gaps ${gaps}`).toEqual([]);
        }
      }
    });
  });
});
