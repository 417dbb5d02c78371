import { describe, expect, it } from 'vitest';
import { documentedFloor, resolvable } from '../test/rounds.js';
import type { BenchResult } from './benchmark.js';
import { calibratedLoop, metaBenchmark } from './meta.js';
import { onResult, type RecordedResult } from './recorder.js';
import { median } from './stats.js';

/** Runs `fn`, collecting every benchmark and suite result measured meanwhile, in order. */
async function recorded<T>(fn: () => Promise<T>): Promise<{ value: T; seen: RecordedResult[] }> {
  const seen: RecordedResult[] = [];
  const off = onResult((entry) => seen.push(entry));
  try {
    return { value: await fn(), seen };
  } finally {
    off();
  }
}

/** The candidate and baseline results of each interleaved trial, in order. */
function trials(seen: RecordedResult[]): { cand: BenchResult; base: BenchResult }[] {
  return seen.flatMap((e) =>
    e.kind === 'suite' ? [{ cand: e.result.results.cand!, base: e.result.results.base! }] : [],
  );
}

const fastest = (r: BenchResult): number => r.samples.reduce((m, v) => Math.min(m, v), Infinity);

describe('meta-benchmark: the harness detecting a controlled slowdown', () => {
  // Reduced trials to keep the test run short; bench/harness.bench.ts runs the full 20 + 20.
  it('flags a 10% slower calibrated loop in at least 9 of 10 trials', async () => {
    const { value: r, seen } = await recorded(() =>
      metaBenchmark({ slowdown: 0.1, trials: 10, timeMs: 80 }),
    );
    expect(r.trials).toBe(10);
    expect(r.verdicts).toHaveLength(10);
    // Each trial's floor is the documented one, learned from its own rounds.
    const runs = trials(seen);
    expect(runs).toHaveLength(10);
    runs.forEach(({ cand, base }, t) =>
      expect(r.verdicts[t]!.noiseFloor).toBeCloseTo(documentedFloor(cand, base), 12),
    );
    // On a loaded machine whole rounds of one variant run at half speed; the floor then nears or
    // passes 10% and the harness, by design, abstains ('unchanged'). That answer is accepted for
    // such a trial (see resolvable); any other answer that is not 'slower' counts as wrong, and
    // one wrong answer in 10 is allowed, as before.
    const wrong = r.verdicts.filter(
      (v, t) =>
        v.verdict !== 'slower' &&
        (resolvable(runs[t]!.cand, runs[t]!.base, 0.1) || v.verdict !== 'unchanged'),
    );
    expect(wrong.length).toBeLessThanOrEqual(1);
  });

  it('flags an unchanged loop in at most 1 of 10 trials', async () => {
    const r = await metaBenchmark({ slowdown: 0, trials: 10, timeMs: 80 });
    expect(r.flaggedAny).toBeLessThanOrEqual(1);
  });

  it('sequential mode compares two separate runs', async () => {
    const { value: r, seen } = await recorded(() =>
      metaBenchmark({ slowdown: 0.5, trials: 2, timeMs: 40, mode: 'sequential' }),
    );
    expect(r.verdicts).toHaveLength(2);
    // The calibration probe, then each trial's two runs (baseline first in even trials).
    const runs = seen.flatMap((e) => (e.kind === 'benchmark' ? [e.result] : []));
    expect(runs).toHaveLength(1 + 2 * 2);
    r.verdicts.forEach((v, t) => {
      const [first, second] = runs.slice(1 + 2 * t, 3 + 2 * t) as [BenchResult, BenchResult];
      const [base, cand] = t % 2 === 0 ? [first, second] : [second, first];
      // The verdict compares exactly these two runs...
      expect(v.ratio).toBeCloseTo(median(cand.samples) / median(base.samples), 12);
      // ...and they measured a loop 50% longer: judged by the fastest call of each run, which
      // other processes can only slow down, so a run slowed as a whole does not blur it.
      expect(fastest(cand) / fastest(base)).toBeGreaterThan(1.25);
    });
  });

  it('the calibrated loop does work proportional to its length', () => {
    expect(calibratedLoop(0)).toBe(0);
    expect(calibratedLoop(3)).toBe(((0 * 31 + 0) * 31 + 1) * 31 + 2);
  });

  it('rejects bad options', async () => {
    await expect(metaBenchmark({ slowdown: -1 })).rejects.toThrow(/slowdown = -1/);
    await expect(metaBenchmark({ slowdown: 0, trials: 0 })).rejects.toThrow(/trials = 0/);
  });
});
