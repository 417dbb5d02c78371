import { fileURLToPath } from 'node:url';
import {
  benchmark,
  blackBox,
  defineBenchSuite,
  isolatedSuite,
  median,
  metaBenchmark,
  nowNs,
  processMadCv,
  type Measurement,
} from '@peaktrade/bench-harness';

function work(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (Math.imul(s, 31) + i) | 0;
  return s;
}

const noopFn = (): void => {};
const work50 = (): number => work(50);

/**
 * A hand-written timing loop `for (i < n) r = fn()`, compiled from source with `new Function` so it
 * is plain JavaScript whatever loader runs this file (tsx's transform makes module-level loops
 * several times slower). One fresh function per target keeps its call site monomorphic.
 */
function handLoop(fn: () => unknown): (n: number) => number {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const loop = new Function(
    'fn',
    'now',
    'sink',
    'return function handLoop(n) { let r; const t0 = now(); for (let i = 0; i < n; i++) r = fn(); const t1 = now(); sink(r); return (t1 - t0) / n; };',
  ) as (f: () => unknown, now: () => number, sink: (v: unknown) => void) => (n: number) => number;
  return loop(fn, nowNs, blackBox);
}

/** Median ns per iteration of `reps` runs of a hand loop over `fn`. */
function handLoopNs(fn: () => unknown, n: number, reps: number): number {
  const loop = handLoop(fn);
  const per: number[] = [];
  for (let k = 0; k < reps; k++) per.push(loop(n));
  return median(per);
}

export default defineBenchSuite({
  name: 'bench-harness',
  description:
    'Harness overhead per call, regression detection rate (meta-benchmark) and process-level dispersion.',
  async run(ctx) {
    const out: Measurement[] = [];
    const timeMs = ctx.timeMs;
    const t0 = nowNs();

    // Overhead: an empty function through the harness vs an empty loop.
    const noop = await benchmark(noopFn, { name: 'noop', timeMs });
    const empty = handLoopNs(noopFn, 2_000_000, ctx.quick ? 10 : 40);
    out.push({
      id: 'bench-harness.overhead.ns',
      label: 'Harness overhead per call (sync no-op vs hand-written empty loop)',
      value: noop.stats.median - empty,
      unit: 'ns',
      detail: `no-op through benchmark(): median ${noop.stats.median.toFixed(3)} ns/call (batch ${noop.batchSize}); hand loop calling the same no-op ${empty.toFixed(3)} ns/iter; negative = the harness's unrolled loop is cheaper`,
    });
    // The same with real work: harness vs a hand-written loop calling the same function.
    const viaHarness = await benchmark(work50, { name: 'work50', timeMs });
    const byHand = handLoopNs(work50, 20_000, ctx.quick ? 10 : 40);
    out.push({
      id: 'bench-harness.overhead.work.ns',
      label: 'Harness overhead per call (work(50) via harness vs hand loop)',
      value: viaHarness.stats.median - byHand,
      unit: 'ns',
      detail: `harness median ${viaHarness.stats.median.toFixed(2)} ns, hand loop ${byHand.toFixed(2)} ns`,
    });
    ctx.log(`overhead measured (${((nowNs() - t0) / 1e9).toFixed(1)} s)`);

    // Meta-benchmark: a calibrated loop slowed by 10%, 20 trials; and an unchanged one.
    // Under --quick, 10 trials each to stay near the 5 s budget; the full run does the 20 of the goal.
    const metaMs = ctx.quick ? 25 : Math.max(50, Math.round(timeMs / 5));
    const trials = ctx.quick ? 10 : 20;
    const slow = await metaBenchmark({ slowdown: 0.1, trials, timeMs: metaMs });
    const same = await metaBenchmark({ slowdown: 0, trials, timeMs: metaMs });
    out.push({
      id: 'bench-harness.meta.detect',
      label: '10% slowdown flagged (meta-benchmark)',
      value: (100 * slow.flaggedSlower) / slow.trials,
      unit: '%',
      detail: `${slow.flaggedSlower}/${slow.trials} trials, ${metaMs} ms per variant, interleaved suite + compareSuiteVariant`,
    });
    out.push({
      id: 'bench-harness.meta.false-alarm',
      label: 'Unchanged loop flagged (meta-benchmark)',
      value: (100 * same.flaggedAny) / same.trials,
      unit: '%',
      detail: `${same.flaggedAny}/${same.trials} trials, ${metaMs} ms per variant`,
    });
    ctx.log(`meta-benchmark done (${((nowNs() - t0) / 1e9).toFixed(1)} s)`);

    // Process-level MAD-CV of a CPU-bound benchmark across fresh child processes.
    const processes = ctx.quick ? 3 : 10;
    const iso = await isolatedSuite('cpu', {
      module: fileURLToPath(new URL('./cpu-bound.mjs', import.meta.url)),
      variants: ['cpu'],
      baseline: 'cpu',
      processes,
      timeMs: processes * (ctx.quick ? 60 : 200),
    });
    const meds = iso.processMedians!.cpu!;
    ctx.log(`isolation done (${((nowNs() - t0) / 1e9).toFixed(1)} s)`);
    out.push({
      id: 'bench-harness.isolation.madcv',
      label: 'Process-level MAD-CV of a CPU-bound benchmark',
      value: 100 * processMadCv(meds),
      unit: '%',
      detail: `${processes} processes, medians ${meds.map((m) => m.toFixed(0)).join(', ')} ns`,
    });
    return out;
  },
});
