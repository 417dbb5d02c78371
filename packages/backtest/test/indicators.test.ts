import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateOhlcv } from '../src/index.js';
import { SmaStream } from '../src/indicators.js';
import { FusedSmaCrossPlan } from '../src/strategies.js';

/** SmaStream output for every bar, filled in blocks that end at the given cut points. */
function smaInBlocks(close: Float64Array, w: number, cuts: readonly number[]): Float64Array {
  const n = close.length;
  const bounds = [...new Set([0, ...cuts.filter((c) => c > 0 && c < n), n])].sort((a, b) => a - b);
  const stream = new SmaStream(w, n);
  const out = new Float64Array(n);
  for (let i = 0; i + 1 < bounds.length; i++) {
    const t0 = bounds[i]!;
    const t1 = bounds[i + 1]!;
    stream.fill(close, t0, t1);
    out.set(stream.out.subarray(0, t1 - t0), t0);
  }
  return out;
}

const caseArb = fc.record({
  bars: fc.integer({ min: 2, max: 700 }),
  seed: fc.integer(),
  w: fc.integer({ min: 1, max: 60 }),
  cuts: fc.array(fc.integer({ min: 1, max: 699 }), { maxLength: 8 }),
});

describe('SmaStream (rolling sum)', () => {
  it('gives bit-identical sums however the bars are split into blocks, odd starts included', () => {
    fc.assert(
      fc.property(caseArb, ({ bars, seed, w, cuts }) => {
        const { close } = generateOhlcv({ bars, seed });
        expect(smaInBlocks(close, w, cuts)).toStrictEqual(smaInBlocks(close, w, []));
      }),
      { numRuns: 300 },
    );
  });

  it('is NaN before bar w − 1 and equals the window sum to rounding after', () => {
    fc.assert(
      fc.property(caseArb, ({ bars, seed, w, cuts }) => {
        const { close } = generateOhlcv({ bars, seed, volatility: 0.8 });
        const s = smaInBlocks(close, w, cuts);
        for (let t = 0; t < bars; t++) {
          if (t < w - 1) {
            expect(s[t]).toBeNaN();
            continue;
          }
          let exact = 0;
          for (let k = t - w + 1; k <= t; k++) exact += close[k]!;
          // Rolling sums drift by a few ulps of the prices per step at most.
          expect(Math.abs(s[t]! - exact)).toBeLessThanOrEqual(1e-12 * w * exact + 1e-9);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('the fused SMA plan decides on the same sums as two SmaStreams, block by block', () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.integer({ min: 1, max: 80 }),
        fc.boolean(),
        ({ bars, seed, w: fast, cuts }, gap, nearTies) => {
          const slow = fast + gap;
          const { close } = generateOhlcv({ bars, seed, volatility: 0.8 });
          // Prices a few ulps apart: the averages then tie to within rounding, so a decision
          // flips on any difference in how the sums are rounded, not only on large ones.
          if (nearTies) for (let t = 0; t < bars; t++) close[t] = 100 + (close[t]! % 1) * 1e-12;
          const f = smaInBlocks(close, fast, []);
          const s = smaInBlocks(close, slow, []);
          // Expected changes from the streams' sums (long-only: long 1, otherwise flat 0).
          const expected: [number, number][] = [];
          let prev = 0;
          for (let t = slow - 1; t < bars; t++) {
            const g = f[t]! * slow > s[t]! * fast ? 1 : 0;
            if (g !== prev) expected.push([t, g]);
            prev = g;
          }
          const plan = new FusedSmaCrossPlan(fast, slow, 1, 0);
          const bounds = [
            ...new Set([0, ...cuts.filter((c) => c > 0 && c < bars), bars]),
          ].sort((a, b) => a - b);
          const got: [number, number][] = [];
          const idx = new Int32Array(bars);
          const val = new Int8Array(bars);
          for (let i = 0; i + 1 < bounds.length; i++) {
            const m = plan.changes(idx, val, bounds[i]!, bounds[i + 1]!, close);
            for (let k = 0; k < m; k++) got.push([idx[k]!, val[k]!]);
          }
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
