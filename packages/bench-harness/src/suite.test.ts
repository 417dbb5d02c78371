import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { IsolationError } from './errors.js';
import { isolatedSuite, processMadCv } from './isolate.js';
import { ratioMeasurement, timeMeasurement, opsMeasurement } from './measurements.js';
import { median } from './stats.js';
import { suite } from './suite.js';

function work(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (Math.imul(s, 31) + i) | 0;
  return s;
}

const fixture = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'test',
  'fixtures',
  'benches.mjs',
);
const tmp = mkdtempSync(join(tmpdir(), 'pt-bench-harness-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('suite()', () => {
  it('measures every variant and states ratios against the baseline with CIs', async () => {
    const r = await suite(
      'work',
      { one: () => work(1000), two: () => work(2000) },
      { baseline: 'one', timeMs: 80 },
    );
    expect(r.name).toBe('work');
    expect(r.baseline).toBe('one');
    expect(r.mode).toBe('interleaved');
    expect(Object.keys(r.results)).toEqual(['one', 'two']);
    expect(r.ratios.one!.ratio).toBe(1);
    const two = r.ratios.two!;
    expect(two.ratio).toBeCloseTo(r.results.two!.stats.median / r.results.one!.stats.median, 12);
    // Twice the loop length: the ratio is near 2 (loose bounds: the machine is shared).
    expect(two.ratio).toBeGreaterThan(1.4);
    expect(two.ratio).toBeLessThan(2.8);
    expect(two.ci95[0]).toBeLessThanOrEqual(two.ratio);
    expect(two.ci95[1]).toBeGreaterThanOrEqual(two.ratio);
  });

  it("gives each variant its own measuring budget, whatever the others' calibration took", async () => {
    // `slowStart`'s first call can take 150 ms of a 200 ms budget. That time is its own: the variant
    // calibrated after it must still measure about as much as when nothing before it was slow.
    const run = (slowFirst: boolean) => {
      let first = slowFirst;
      const slowStart = (): number => {
        if (first) {
          first = false;
          const end = performance.now() + 150;
          while (performance.now() < end);
        }
        return work(200);
      };
      return suite(
        'budgets',
        { slowStart, steady: () => work(200) },
        { baseline: 'steady', timeMs: 200, rounds: 4 },
      );
    };
    const control = await run(false);
    const slow = await run(true);
    // With one clock for the whole suite, steady kept at most 200 - 150 = 50 ms of its budget, less its
    // own calibration: a fifth of the control's calls or fewer. Both runs share the machine's load.
    const kept = slow.results.steady!.iterations / control.results.steady!.iterations;
    expect(kept).toBeGreaterThan(0.5);
    // and slowStart, which did spend its budget calibrating, measured less than steady
    expect(slow.results.slowStart!.iterations).toBeLessThan(slow.results.steady!.iterations);
  });

  it('interleaves the variants in alternating rounds', async () => {
    const log: string[] = [];
    const slowCall = (name: string) => (): void => {
      log.push(name);
      const end = performance.now() + 1;
      while (performance.now() < end);
    };
    await suite(
      'order',
      { a: slowCall('a'), b: slowCall('b') },
      { baseline: 'a', timeMs: 40, rounds: 4 },
    );
    // Collapse runs of the same name. Preparation: a, b. Rounds: a b | b a | a b | b a, so
    // neighbouring rounds merge: a b | a b | a b | a.
    const runs = log.filter((v, i) => i === 0 || log[i - 1] !== v);
    expect(runs).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a']);
  });

  it('rejects an unknown baseline, naming the allowed variants', async () => {
    await expect(suite('x', { a: () => 1 }, { baseline: 'b' })).rejects.toThrow(
      /baseline = "b": expected one of the variants: "a"/,
    );
    await expect(suite('x', {}, { baseline: 'a' })).rejects.toThrow(/benches/);
    await expect(suite('x', { a: () => 1 }, { baseline: 'a', rounds: 0 })).rejects.toThrow(
      /rounds = 0/,
    );
  });

  it('turns results into runner measurements', async () => {
    const r = await suite(
      'm',
      { base: () => work(500), fast: () => work(250) },
      { baseline: 'base', timeMs: 40 },
    );
    const ratio = ratioMeasurement('harness.test.ratio', 'fast vs base', r, 'fast');
    expect(ratio).toMatchObject({
      id: 'harness.test.ratio',
      unit: 'x',
      value: r.ratios.fast!.ratio,
    });
    expect(ratio.ci).toEqual(r.ratios.fast!.ci95);
    expect(ratio.detail).toContain('median(fast) / median(base)');
    const t = timeMeasurement('harness.test.us', 'base', r.results.base!, 'us');
    expect(t.value).toBeCloseTo(r.results.base!.stats.median / 1000, 12);
    expect(t.unit).toBe('us');
    expect(timeMeasurement('x', 'x', r.results.base!, 'ns').value).toBe(
      r.results.base!.stats.median,
    );
    expect(opsMeasurement('x', 'x', r.results.base!).value).toBe(r.results.base!.opsPerSec);
    expect(() => ratioMeasurement('x', 'x', r, 'nope')).toThrow(/variant = "nope"/);
  });
});

describe('isolated suites', () => {
  it('runs variants in fresh child processes, A/B interleaved, with process-level ratios', async () => {
    const r = await suite(
      'iso',
      { base: () => 0, slower: () => 0 },
      {
        baseline: 'base',
        timeMs: 200,
        isolate: { module: fixture, processes: 2 },
      },
    );
    expect(r.mode).toBe('isolated');
    const medians = r.processMedians!;
    expect(medians.base).toHaveLength(2);
    expect(medians.slower).toHaveLength(2);
    // The process-level ratio: median of the children's medians over the baseline's.
    expect(r.ratios.slower!.ratio).toBeCloseTo(median(medians.slower!) / median(medians.base!), 12);
    // The children ran the module's functions (work(4000) vs work(2000)), not the parent's stubs.
    // Judged by each variant's fastest call, which other processes can only slow down: with two
    // children per variant, one child slowed as a whole (or left 5 preempted samples) would move
    // the ratio of medians anywhere.
    const fastest = (v: string) => r.results[v]!.samples.reduce((m, x) => Math.min(m, x), Infinity);
    expect(fastest('base')).toBeGreaterThan(100); // ns per call; a stub `() => 0` takes ~1 ns
    expect(fastest('slower') / fastest('base')).toBeGreaterThan(1.4);
    expect(fastest('slower') / fastest('base')).toBeLessThan(2.8);
    // Samples of both children are pooled, each child measuring for its 100 ms share of timeMs
    // (calibration included) and taking at least 5 samples even when calibration used it all.
    expect(r.results.base!.samples.length).toBeGreaterThanOrEqual(2 * 5);
    expect(r.results.base!.durationMs).toBeGreaterThanOrEqual(2 * 100 - 1);
    expect(processMadCv(medians.base!)).toBeGreaterThanOrEqual(0);
  });

  it('accepts an export that is an async factory', async () => {
    const r = await isolatedSuite('factory', {
      module: fixture,
      exportName: 'factory',
      variants: ['base', 'twice'],
      baseline: 'base',
      processes: 1,
      timeMs: 100,
    });
    expect(r.results.twice!.async).toBe(true);
    expect(r.results.base!.async).toBe(false);
  });

  it('reports a variant whose children landed in different batching modes as incomparable', async () => {
    const counter = join(tmp, 'flaky-counter');
    process.env.PT_FLAKY_COUNTER = counter;
    try {
      const r = await isolatedSuite('flaky', {
        module: fixture,
        exportName: 'flaky',
        variants: ['base', 'flip'],
        baseline: 'base',
        processes: 2,
        timeMs: 200,
      });
      expect(r.incomparable).toEqual(['flip']);
      expect(r.results.flip!.warnings[0]).toMatch(
        /^incomparable: child processes landed in different batching modes/,
      );
      expect(ratioMeasurement('x', 'x', r, 'flip').detail).toContain('INCOMPARABLE');
    } finally {
      delete process.env.PT_FLAKY_COUNTER;
    }
  });

  it('fails with IsolationError carrying the child error', async () => {
    const err = await isolatedSuite('broken', {
      module: fixture,
      exportName: 'broken',
      variants: ['base', 'boom'],
      baseline: 'base',
      processes: 1,
      timeMs: 50,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IsolationError);
    expect((err as Error).message).toMatch(/variant "boom" failed in its child process/);
  });

  it('rejects a missing module and bad process counts', async () => {
    await expect(
      isolatedSuite('x', { module: '', variants: ['a'], baseline: 'a' }),
    ).rejects.toThrow(/isolate.module/);
    await expect(
      isolatedSuite('x', { module: fixture, variants: ['a'], baseline: 'a', processes: 0 }),
    ).rejects.toThrow(/isolate.processes = 0/);
  });
});
