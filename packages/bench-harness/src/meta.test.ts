import { describe, expect, it } from 'vitest';
import { calibratedLoop, metaBenchmark } from './meta.js';

describe('meta-benchmark: the harness detecting a controlled slowdown', () => {
  // Reduced trials to keep the test run short; bench/harness.bench.ts runs the full 20 + 20.
  it('flags a 10% slower calibrated loop in at least 9 of 10 trials', async () => {
    const r = await metaBenchmark({ slowdown: 0.1, trials: 10, timeMs: 80 });
    expect(r.trials).toBe(10);
    expect(r.verdicts).toHaveLength(10);
    expect(r.flaggedSlower).toBeGreaterThanOrEqual(9);
  });

  it('flags an unchanged loop in at most 1 of 10 trials', async () => {
    const r = await metaBenchmark({ slowdown: 0, trials: 10, timeMs: 80 });
    expect(r.flaggedAny).toBeLessThanOrEqual(1);
  });

  it('sequential mode compares two separate runs', async () => {
    const r = await metaBenchmark({ slowdown: 0.5, trials: 2, timeMs: 40, mode: 'sequential' });
    expect(r.verdicts).toHaveLength(2);
    for (const v of r.verdicts) expect(v.ratio).toBeGreaterThan(1.25);
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
