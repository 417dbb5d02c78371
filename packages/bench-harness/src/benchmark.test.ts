import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { benchmark } from './benchmark.js';
import { BenchFunctionError, BenchOptionError } from './errors.js';
import { PerformanceBenchmark } from './performance-benchmark.js';

function work(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (Math.imul(s, 31) + i) | 0;
  return s;
}

describe('benchmark()', () => {
  it('returns ordered ns samples with consistent statistics for a sync function', async () => {
    let calls = 0;
    const r = await benchmark(
      () => {
        calls++;
        return work(200);
      },
      { name: 'work200', timeMs: 60 },
    );
    expect(r.name).toBe('work200');
    expect(r.samples).toBeInstanceOf(Float64Array);
    expect(r.samples.length).toBeGreaterThanOrEqual(5);
    expect(r.iterations).toBe(r.samples.length * r.batchSize);
    expect(calls).toBeGreaterThan(r.iterations); // calibration and warmup calls are not measured
    const s = r.stats;
    expect(s.min).toBeLessThanOrEqual(s.median);
    expect(s.median).toBeLessThanOrEqual(s.p75);
    expect(s.p75).toBeLessThanOrEqual(s.p99);
    expect(s.p99).toBeLessThanOrEqual(s.max);
    expect(s.ci95[0]).toBeLessThanOrEqual(s.median);
    expect(s.ci95[1]).toBeGreaterThanOrEqual(s.median);
    expect(s.mad).toBeGreaterThanOrEqual(0);
    expect(r.opsPerSec).toBeCloseTo(1e9 / s.median, 6);
    expect(r.timerResolutionNs).toBeGreaterThan(0);
    expect(r.async).toBe(false);
    expect(r.heapBytesPerIter).toBeUndefined(); // no --expose-gc in the test process
  });

  it('batches fast functions and times slow ones one call per sample', async () => {
    const fast = await benchmark(() => work(10), { name: 'fast', timeMs: 40 });
    expect(fast.batching).toBe('batched');
    expect(fast.batchSize).toBeGreaterThan(64);
    const slow = await benchmark(
      () => {
        const end = performance.now() + 5;
        while (performance.now() < end);
      },
      { name: 'slow', timeMs: 40 },
    );
    expect(slow.batching).toBe('single');
    expect(slow.batchSize).toBe(1);
  });

  it('batches a fast function whose first call was slow (a one-off setup or a preemption)', async () => {
    let calls = 0;
    const r = await benchmark(
      () => {
        // The first call spins 15 ms, 15% of the budget; every later call is a few µs.
        const end = performance.now() + (calls++ === 0 ? 15 : 0);
        while (performance.now() < end);
        return work(200);
      },
      { name: 'slow first call', timeMs: 100 },
    );
    expect(r.batching).toBe('batched');
    expect(r.batchSize).toBeGreaterThan(1);
  });

  it('awaits async functions on every call', async () => {
    let started = 0;
    let finished = 0;
    const r = await benchmark(
      async () => {
        started++;
        await new Promise<void>((resolve) => setImmediate(resolve));
        finished++;
      },
      { name: 'async', timeMs: 40 },
    );
    expect(r.async).toBe(true);
    expect(finished).toBe(started);
    expect(r.iterations).toBeGreaterThan(0);
  });

  it('passes args to every call', async () => {
    const seen = new Set<string>();
    await benchmark((a: number, b: string) => seen.add(`${a}${b}`), {
      name: 'args',
      args: [1, 'x'],
      timeMs: 20,
    });
    expect([...seen]).toEqual(['1x']);
  });

  it('measures exactly the requested iterations (rounded down to whole batches)', async () => {
    const r = await benchmark(() => work(50), { name: 'fixed', iterations: 3000, warmup: 100 });
    expect(r.iterations).toBeLessThanOrEqual(3000);
    expect(r.iterations).toBeGreaterThan(3000 - r.batchSize);
    expect(r.samples.length).toBeGreaterThanOrEqual(30);
  });

  it('warns when samples are too short to trust', async () => {
    const r = await benchmark(() => 1, { name: 'tiny', iterations: 1, warmup: 0 });
    expect(r.samples.length).toBe(1);
    expect(r.warnings.some((w) => w.startsWith('samples too short to trust'))).toBe(true);
    expect(r.warnings.some((w) => w.startsWith('only 1 samples'))).toBe(true);
  });

  it('rejects bad options before running anything, naming the option', async () => {
    let called = false;
    const fn = (): void => {
      called = true;
    };
    await expect(benchmark(fn, { name: '' })).rejects.toThrow(
      /name = "": expected a non-empty string/,
    );
    await expect(benchmark(fn, { name: 'x', timeMs: -1 })).rejects.toThrow(BenchOptionError);
    await expect(benchmark(fn, { name: 'x', iterations: 1.5 })).rejects.toMatchObject({
      code: 'E_BENCH_OPTION',
      option: 'iterations',
    });
    await expect(benchmark(fn, { name: 'x', warmup: -2 })).rejects.toThrow(/warmup = -2/);
    await expect(benchmark('nope' as never, { name: 'x' })).rejects.toThrow(/fn = "nope"/);
    expect(called).toBe(false);
  });

  it('wraps a throwing function in BenchFunctionError with the cause', async () => {
    const boom = new Error('boom');
    const err = await benchmark(
      () => {
        throw boom;
      },
      { name: 'thrower', timeMs: 10 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BenchFunctionError);
    expect((err as BenchFunctionError).cause).toBe(boom);
    expect((err as BenchFunctionError).message).toContain('thrower');
  });

  it('reports heap bytes per call and GC count under --expose-gc', () => {
    const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');
    const script = `
      const { benchmark } = await import(${JSON.stringify(dist)});
      const keep = [];
      const r = await benchmark(() => { keep.push(new Array(16).fill(1)); if (keep.length > 1000) keep.length = 0; }, { name: 'alloc', timeMs: 100 });
      const n = await benchmark(() => 1 + 1, { name: 'none', timeMs: 50 });
      console.log(JSON.stringify({ heap: r.heapBytesPerIter, gc: r.gcCount, none: n.heapBytesPerIter }));`;
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    const { heap, gc, none } = JSON.parse(out) as { heap: number; gc: number; none: number };
    // A 16-element array is well over 100 bytes on the V8 heap.
    expect(heap).toBeGreaterThan(100);
    expect(gc).toBeGreaterThanOrEqual(0);
    expect(Number.isInteger(gc)).toBe(true);
    expect(none).toBeLessThan(8);
  });
});

describe('PerformanceBenchmark', () => {
  it('mirrors the Python API with times in seconds, snake_case and camelCase', async () => {
    const pb = new PerformanceBenchmark();
    const r = await pb.run(() => work(100), { name: 'py', iterations: 600, warmup: 10 });
    expect(r.name).toBe('py');
    expect(r.iterations).toBeLessThanOrEqual(600);
    expect(r.mean_time).toBeCloseTo(r.result.stats.mean / 1e9, 15);
    expect(r.meanTime).toBe(r.mean_time);
    expect(r.median_time).toBe(r.medianTime);
    expect(r.min_time).toBeLessThanOrEqual(r.median_time);
    expect(r.max_time).toBeGreaterThanOrEqual(r.median_time);
    expect(r.std_dev).toBe(r.stdDev);
    expect(r.ops_per_sec).toBe(r.opsPerSec);
    expect(pb.results.get('py')).toBe(r);
    const positional = await pb.run(() => work(100), 'positional', 300, 5);
    expect(positional.name).toBe('positional');
    expect(positional.iterations).toBeLessThanOrEqual(300);
    await expect(pb.run(() => 1, { name: 'bad', iterations: 0 })).rejects.toThrow(/iterations = 0/);
  });
});
