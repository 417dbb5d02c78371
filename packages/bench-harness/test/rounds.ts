// Per-round views of interleaved suites, computed from their raw samples, for the tests that
// judge verdicts on real timings: they tell rounds the machine disturbed from rounds it left alone.
import type { BenchResult } from '../src/benchmark.js';
import { median } from '../src/stats.js';

/** The median of each measuring round of `r` (rounds end at `r.roundEnds`). */
export function roundMedians(r: BenchResult): number[] {
  const ends = r.roundEnds ?? [r.samples.length];
  return ends.map((end, i) => median(r.samples.subarray(i === 0 ? 0 : ends[i - 1], end)));
}

/** `log(median(cur) / median(base))` of each round both ran. */
export function roundLogRatios(cur: BenchResult, base: BenchResult): number[] {
  const c = roundMedians(cur);
  const b = roundMedians(base);
  return c.slice(0, Math.min(c.length, b.length)).map((v, i) => Math.log(v / b[i]!));
}

/**
 * The noise floor compareSuiteVariant documents, from the raw rounds: four standard errors of
 * the per-round log ratios, `4 × 1.4826 × MAD / √rounds`, and at least 2%.
 */
export function documentedFloor(cur: BenchResult, base: BenchResult): number {
  const logs = roundLogRatios(cur, base);
  const m = median(logs);
  const spread = 1.4826 * median(logs.map((v) => Math.abs(v - m)));
  return Math.max(0.02, (4 * spread) / Math.sqrt(logs.length));
}

/**
 * Whether other processes left the rounds alone enough to resolve a `change` (0.1 = 10%): every
 * per-round ratio within 10% of their median, and a documented floor under half the change. On a
 * loaded 2-vCPU VM whole rounds of one variant run at half speed, which raises the floor and moves
 * the pooled medians a verdict is based on; on a quiet machine the rounds agree within a few percent.
 */
export function resolvable(cur: BenchResult, base: BenchResult, change: number): boolean {
  const logs = roundLogRatios(cur, base);
  const m = median(logs);
  return (
    logs.every((v) => Math.abs(v - m) < Math.log(1.1)) && documentedFloor(cur, base) < change / 2
  );
}
