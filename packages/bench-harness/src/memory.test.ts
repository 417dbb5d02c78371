import { describe, expect, it } from 'vitest';
import { BenchFunctionError } from './errors.js';
import { measureMemory } from './memory.js';

describe('measureMemory()', () => {
  it('counts what the call retains', async () => {
    const m = await measureMemory(() => Array.from({ length: 100_000 }, (_, i) => ({ i })));
    // 100k small objects plus the array: at least 16 bytes each.
    expect(m.retainedHeapBytes).toBeGreaterThan(100_000 * 16);
    expect(m.peakHeapBytes).toBeGreaterThanOrEqual(m.retainedHeapBytes);
    expect(m.peakRssBytes).toBeGreaterThan(0);
    expect(['expose-gc', 'runtime-flag']).toContain(m.gcSource);
  });

  it('sees a peak well above what survives for garbage-heavy work', async () => {
    const m = await measureMemory(() => {
      let keep = 0;
      for (let r = 0; r < 20; r++) {
        const tmp = Array.from({ length: 50_000 }, (_, i) => ({ i, s: `v${i}` }));
        keep += tmp.length;
      }
      return keep;
    });
    expect(m.peakHeapBytes).toBeGreaterThan(1_000_000);
    expect(m.retainedHeapBytes).toBeLessThan(m.peakHeapBytes / 4);
  });

  it('awaits async functions and wraps errors', async () => {
    const m = await measureMemory(async () => {
      await Promise.resolve();
      return new Array(50_000).fill(0).map((_, i) => [i]);
    });
    expect(m.retainedHeapBytes).toBeGreaterThan(50_000 * 16);
    await expect(
      measureMemory(() => {
        throw new Error('no');
      }),
    ).rejects.toBeInstanceOf(BenchFunctionError);
  });

  it('counts ArrayBuffer memory once', async () => {
    const bytes = 16 * 2 ** 20;
    const m = await measureMemory(() => new Float64Array(bytes / 8).fill(1));
    expect(m.externalBytes).toBeGreaterThan(bytes * 0.95);
    expect(m.externalBytes).toBeLessThan(bytes * 1.1);
  });
});
