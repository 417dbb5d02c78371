import { describe, expect, it } from 'vitest';
import { BenchOptionError } from './errors.js';
import {
  bootstrapMedianCI,
  bootstrapRatioCI,
  createRng,
  mad,
  mannWhitneyU,
  mean,
  median,
  normalCdf,
  quantileSorted,
  stddev,
  summarize,
} from './stats.js';

/** Exact CDF of the bootstrap median of n (odd) sorted distinct values at order statistic j (1-based). */
function exactBootstrapMedianCdf(n: number, j: number): number {
  // P(median of resample ≤ x_(j)) = P(at least (n+1)/2 of n draws have index ≤ j), p = j/n.
  const p = j / n;
  let s = 0;
  for (let k = (n + 1) / 2; k <= n; k++) s += binom(n, k) * p ** k * (1 - p) ** (n - k);
  return s;
}
function binom(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

describe('order statistics', () => {
  it('median, MAD, mean and stddev match known values', () => {
    // Wikipedia, "Median absolute deviation": (1, 1, 2, 2, 4, 6, 9) has median 2 and MAD 1.
    const xs = [1, 1, 2, 2, 4, 6, 9];
    expect(median(xs)).toBe(2);
    expect(mad(xs)).toBe(1);
    expect(mean([2, 4, 4, 4, 5, 5, 7, 9])).toBe(5);
    // Sample stddev of (2, 4, 4, 4, 5, 5, 7, 9): sqrt(32 / 7).
    expect(stddev([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('quantiles interpolate like R type 7', () => {
    const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // R: quantile(1:10, c(.25, .75, .99)) -> 3.25, 7.75, 9.91
    expect(quantileSorted(sorted, 0.25)).toBeCloseTo(3.25, 12);
    expect(quantileSorted(sorted, 0.75)).toBeCloseTo(7.75, 12);
    expect(quantileSorted(sorted, 0.99)).toBeCloseTo(9.91, 12);
  });

  it('summarize reports every statistic of fixed samples', () => {
    const s = summarize(Float64Array.from([5, 1, 3, 2, 4]));
    expect(s).toMatchObject({ min: 1, max: 5, mean: 3, median: 3, p75: 4, mad: 1 });
    expect(s.p99).toBeCloseTo(4.96, 12);
    expect(s.ci95[0]).toBeLessThanOrEqual(3);
    expect(s.ci95[1]).toBeGreaterThanOrEqual(3);
  });
});

describe('edge samples', () => {
  it('treats infinite samples as order statistics instead of returning NaN beside them', () => {
    expect(median([1, 2, Number.POSITIVE_INFINITY])).toBe(2);
    expect(median([Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY])).toBe(
      Number.POSITIVE_INFINITY,
    );
    const sorted = Float64Array.from([1, 2, Number.POSITIVE_INFINITY]);
    expect(quantileSorted(sorted, 1)).toBe(Number.POSITIVE_INFINITY);
    expect(quantileSorted(sorted, 0.75)).toBe(Number.POSITIVE_INFINITY);
    const s = summarize([1, 2, 3, 4, Number.POSITIVE_INFINITY]);
    expect(s).toMatchObject({ median: 3, mad: 1, max: Number.POSITIVE_INFINITY });
    // Against an all-zero denominator every resampled ratio is +∞, so the interval is too.
    expect(bootstrapRatioCI([1, 1, 1], [0, 0, 0])).toEqual([
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ]);
  });

  it('gives NaN statistics for samples holding a NaN instead of sorting it past the maximum', () => {
    expect(median([Number.NaN, 1, 2, 3])).toBeNaN();
    expect(mad([Number.NaN, 1, 2, 3])).toBeNaN();
    expect(quantileSorted(Float64Array.from([1, 2, Number.NaN]), 0)).toBeNaN();
    const s = summarize([Number.NaN, 1, 2, 3, 4]);
    for (const v of [s.min, s.max, s.median, s.p75, s.mad, s.ci95[0], s.ci95[1]])
      expect(v).toBeNaN();
    expect(bootstrapMedianCI([1, 2, 3, 4, Number.NaN])).toEqual([Number.NaN, Number.NaN]);
    expect(bootstrapRatioCI([1, 2, 3], [1, Number.NaN])).toEqual([Number.NaN, Number.NaN]);
    expect(mannWhitneyU([Number.NaN, 1, 2], [3, 4, 5]).pValue).toBeNaN();
  });

  it('handles one and two samples and all-equal samples', () => {
    expect(summarize([7])).toMatchObject({
      min: 7,
      max: 7,
      median: 7,
      mad: 0,
      stddev: 0,
      ci95: [7, 7],
    });
    expect(summarize([2, 4])).toMatchObject({ median: 3, mad: 1, p99: 3.98 });
    const flat = summarize(new Float64Array(50).fill(5));
    expect(flat).toMatchObject({ median: 5, mad: 0, stddev: 0, ci95: [5, 5] });
    expect(mannWhitneyU([5, 5, 5], [5, 5, 5]).pValue).toBe(1);
  });

  it('rejects bootstrap options out of range with BenchOptionError naming the option', () => {
    const xs = [1, 2, 3, 4, 5];
    for (const [options, name] of [
      [{ confidence: 5 }, 'confidence'],
      [{ confidence: 0 }, 'confidence'],
      [{ confidence: Number.NaN }, 'confidence'],
      [{ resamples: 0 }, 'resamples'],
      [{ resamples: 1.5 }, 'resamples'],
      [{ seed: 0.5 }, 'seed'],
    ] as const) {
      expect(() => bootstrapMedianCI(xs, options)).toThrow(BenchOptionError);
      expect(() => bootstrapRatioCI(xs, xs, options)).toThrow(`Invalid option ${name} = `);
      expect(() => summarize(xs, options)).toThrow(BenchOptionError);
    }
  });
});

describe('seeded bootstrap', () => {
  it('the RNG is reproducible and uniform enough', () => {
    const a = createRng(42);
    const b = createRng(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(mean(xs)).toBeCloseTo(0.5, 1);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });

  it('the median CI equals the exact bootstrap quantiles of fixed samples', () => {
    // 11 distinct values; the bootstrap distribution of the median is known in closed form.
    const xs = Float64Array.from({ length: 11 }, (_, i) => 10 + i * i);
    const n = xs.length;
    const cdf = Array.from({ length: n }, (_, j) => exactBootstrapMedianCdf(n, j + 1));
    const lowIdx = cdf.findIndex((c) => c >= 0.025);
    const highIdx = cdf.findIndex((c) => c >= 0.975);
    // Away from the jump points, a large Monte-Carlo bootstrap lands on the exact order statistics.
    // (n = 11: P(M ≤ x₍₂₎) = 0.0072, P(M ≤ x₍₃₎) = 0.0512, P(M ≤ x₍₈₎) = 0.9488, P(M ≤ x₍₉₎) = 0.9928.)
    for (const idx of [lowIdx, highIdx]) {
      const cut = idx === lowIdx ? 0.025 : 0.975;
      expect(cdf[idx]! - cut).toBeGreaterThan(0.01);
      expect(cut - (cdf[idx - 1] ?? 0)).toBeGreaterThan(0.01);
    }
    expect([lowIdx, highIdx]).toEqual([2, 8]);
    const [lo, hi] = bootstrapMedianCI(xs, { resamples: 40_000, seed: 7 });
    expect(lo).toBe(xs[lowIdx]);
    expect(hi).toBe(xs[highIdx]);
  });

  it('the same seed gives the same CI and a different seed may differ', () => {
    const rng = createRng(1);
    const xs = Float64Array.from({ length: 200 }, () => 100 + 10 * rng());
    expect(bootstrapMedianCI(xs, { seed: 3 })).toEqual(bootstrapMedianCI(xs, { seed: 3 }));
    const ci = bootstrapMedianCI(xs);
    expect(ci[0]).toBeLessThan(median(xs));
    expect(ci[1]).toBeGreaterThan(median(xs));
  });

  it('the ratio CI brackets the ratio of medians', () => {
    const rng = createRng(9);
    const a = Float64Array.from({ length: 300 }, () => 200 + 5 * rng());
    const b = Float64Array.from({ length: 300 }, () => 100 + 5 * rng());
    const [lo, hi] = bootstrapRatioCI(a, b);
    const r = median(a) / median(b);
    expect(lo).toBeLessThan(r);
    expect(hi).toBeGreaterThan(r);
    expect(hi - lo).toBeLessThan(0.1);
  });
});

describe('Mann–Whitney U', () => {
  it('matches the Hollander & Wolfe (1973, p. 69) example used by R wilcox.test', () => {
    // Permeability constants of the human chorioamnion at term (x) and at 12–26 weeks (y).
    // R: wilcox.test(x, y, alternative = "greater") -> W = 35, p-value = 0.1272 (exact).
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    const g = mannWhitneyU(x, y, 'greater');
    expect(g.u).toBe(35);
    expect(g.uY).toBe(15);
    expect(g.method).toBe('exact');
    expect(g.pValue).toBeCloseTo(0.1272, 4);
    // 382 of the C(15, 5) = 3003 equally likely rank sets give U ≥ 35.
    expect(g.pValue * 3003).toBeCloseTo(382, 6);
    expect(mannWhitneyU(x, y).pValue).toBeCloseTo(2 * 0.1272, 3);
    expect(mannWhitneyU(x, y, 'less').pValue).toBeGreaterThan(0.85);
  });

  it('uses the tie-corrected normal approximation with ties', () => {
    const x = [1, 2, 2, 3, 3, 3, 4, 5];
    const y = [3, 4, 4, 5, 5, 6, 6, 7];
    const r = mannWhitneyU(x, y);
    expect(r.method).toBe('normal');
    // By hand: midranks 1 | 2.5 | 5.5 (four 3s) | 9 | 12 | 14.5 | 16, so the rank sum of x is
    // 1 + 2.5·2 + 5.5·3 + 9 + 12 = 43.5 and U = 43.5 − 8·9/2 = 7.5.
    expect(r.u).toBe(7.5);
    // Tie groups: 2 (×2), 3 (×4), 4 (×3), 5 (×3), 6 (×2): Σ(t³ − t) = 6 + 60 + 24 + 24 + 6 = 120.
    const sigma = Math.sqrt(((8 * 8) / 12) * (17 - 120 / (16 * 15)));
    const z = (7.5 - 32 + 0.5) / sigma;
    expect(r.z).toBeCloseTo(z, 12);
    expect(r.pValue).toBeCloseTo(2 * normalCdf(z), 12);
  });

  it('normalCdf matches tabulated values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 4);
    expect(normalCdf(-2.5758)).toBeCloseTo(0.005, 4);
  });
});
