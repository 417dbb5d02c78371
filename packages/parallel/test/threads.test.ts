import { readdirSync } from 'node:fs';
// Counts OS threads through /proc (Linux): a worker thread that outlives its pool would show up here.
import { expect, it } from 'vitest';
import { makeColumns, task, until } from './helpers.js';
import { AbortError, mapCpu, parallelBacktest } from '../src/index.js';

const osThreads = (): number => readdirSync('/proc/self/task').length;

it.runIf(process.platform === 'linux')(
  'mapCpu with its own pool leaves no worker thread behind after an abort',
  async () => {
    // Warm the module graph so the counts compare like with like.
    await mapCpu([1], task('double'), { maxWorkers: 1 });
    const before = osThreads();
    const ac = new AbortController();
    let during = 0;
    const run = mapCpu(
      Array.from({ length: 100 }, (_, i) => i),
      task('spinItem'),
      {
        maxWorkers: 2,
        chunkSize: 1,
        context: { ms: 20 },
        signal: ac.signal,
        onProgress: (done) => {
          if (done === 2) {
            during = osThreads();
            ac.abort();
          }
        },
      },
    );
    await expect(run).rejects.toBeInstanceOf(AbortError);
    expect(during).toBeGreaterThan(before);
    // The pool has terminated its workers when the run rejects; the kernel removes an exited
    // thread's /proc entry a moment later, which can take a while on a loaded machine.
    await until(() => osThreads() <= before, 2000).catch(() => undefined);
    expect(osThreads()).toBe(before);
  },
);

it.runIf(process.platform === 'linux')(
  'parallelBacktest with its own pool leaves no worker thread behind after an abort',
  async () => {
    await parallelBacktest([{ id: 0, level: 0 }], makeColumns(10), task('meanAbove'), {
      maxWorkers: 1,
    });
    const before = osThreads();
    const ac = new AbortController();
    let during = 0;
    const strategies = Array.from({ length: 200 }, (_, id) => ({ id, level: id }));
    const run = parallelBacktest(strategies, makeColumns(200_000), task('meanAbove'), {
      maxWorkers: 2,
      chunkSize: 1,
      signal: ac.signal,
      onProgress: (done) => {
        if (done === 4) {
          during = osThreads();
          ac.abort();
        }
      },
    });
    await expect(run).rejects.toBeInstanceOf(AbortError);
    expect(during).toBeGreaterThan(before);
    // The pool has terminated its workers when the run rejects; the kernel removes an exited
    // thread's /proc entry a moment later, which can take a while on a loaded machine.
    await until(() => osThreads() <= before, 2000).catch(() => undefined);
    expect(osThreads()).toBe(before);
  },
);
