import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import {
  backtest,
  generateOhlcv,
  type BacktestOptions,
  type StrategySpec,
} from '@peaktrade/backtest';
import { afterEach, describe, expect, it } from 'vitest';
import { makeColumns, task, until } from '../test/helpers.js';
import {
  AbortError,
  InvalidOptionError,
  NotCloneableError,
  SharedColumns,
  SharedDataMutatedError,
  StrategyFailedError,
  WorkerPool,
  localBackend,
  parallelBacktest,
  taskRef,
  type ParallelBackend,
} from './index.js';

/** `@peaktrade/backtest`'s own `backtest(data, strategy, opts)`, referenced for workers. */
const BACKTEST = taskRef<typeof backtest>(
  pathToFileURL(createRequire(import.meta.url).resolve('@peaktrade/backtest')),
  'backtest',
);

const pools: WorkerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close({ force: true })));
});

function strategies(): StrategySpec[] {
  const out: StrategySpec[] = [];
  for (let fast = 2; fast <= 12; fast += 2)
    for (const slow of [20, 35, 50]) out.push({ kind: 'sma-cross', fast, slow });
  out.push({ kind: 'ema-cross', fast: 5, slow: 30, direction: 'both' });
  out.push({ kind: 'rsi-reversion', period: 14, lower: 30, upper: 70 });
  out.push({ kind: 'bollinger-breakout', period: 20, k: 2, direction: 'both' });
  return out;
}

describe('parallelBacktest', () => {
  it('equals a serial run of @peaktrade/backtest, in strategy order', async () => {
    const data = generateOhlcv({ bars: 5_000, seed: 42 });
    const specs = strategies();
    const opts: BacktestOptions = { feeBps: 2, equity: true, trades: true };
    const serial = specs.map((s) => backtest(data, s, opts));
    const parallel = await parallelBacktest(specs, data, BACKTEST, {
      maxWorkers: 2,
      backtestOptions: opts,
    });
    expect(parallel.map((o) => o.index)).toEqual(specs.map((_, i) => i));
    expect(parallel.map((o) => o.strategy)).toEqual(specs);
    expect(parallel.every((o) => o.ok)).toBe(true);
    expect(parallel.map((o) => (o.ok ? o.value : undefined))).toEqual(serial);
  });

  it('gives the same results for every chunk size and worker count', async () => {
    const shared = SharedColumns.from(generateOhlcv({ bars: 2_000, seed: 7 }));
    const specs = strategies();
    const serial = specs.map((s) => backtest(shared.columns, s));
    const pool = new WorkerPool({ maxWorkers: 2 });
    pools.push(pool);
    for (const chunkSize of [1, 3, 100]) {
      const out = await parallelBacktest(specs, shared, BACKTEST, {
        chunkSize,
        backend: localBackend({ pool }),
      });
      expect(out.map((o) => (o.ok ? o.value.metrics : o.error))).toEqual(
        serial.map((r) => r.metrics),
      );
    }
    shared.release();
  });

  it("isolates one strategy's error and returns the others", async () => {
    const data = generateOhlcv({ bars: 1_000, seed: 1 });
    const specs: StrategySpec[] = [
      { kind: 'sma-cross', fast: 5, slow: 20 },
      { kind: 'sma-cross', fast: 30, slow: 10 }, // invalid: fast > slow
      { kind: 'ema-cross', fast: 3, slow: 9 },
    ];
    const out = await parallelBacktest(specs, data, BACKTEST, { maxWorkers: 2, chunkSize: 3 });
    expect(out.map((o) => o.ok)).toEqual([true, false, true]);
    const bad = out[1];
    if (bad === undefined || bad.ok) throw new Error('expected a failure');
    expect(bad.error.message).toMatch(/fast|slow/);
    expect(bad.strategy).toEqual(specs[1]);
    expect(out[0]?.ok && out[0].value).toEqual(backtest(data, specs[0] as StrategySpec));
    expect(out[2]?.ok && out[2].value).toEqual(backtest(data, specs[2] as StrategySpec));
  });

  it('with failFast rejects with StrategyFailedError for the failing strategy and stops the batch', async () => {
    const data = makeColumns(200);
    const specs = Array.from({ length: 200 }, (_, id) => ({ id, level: id, fail: id === 3 }));
    let progressed = 0;
    const error = await parallelBacktest(specs, data, task('meanAbove'), {
      maxWorkers: 2,
      chunkSize: 1,
      failFast: true,
      onProgress: (done) => (progressed = done),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StrategyFailedError);
    expect((error as StrategyFailedError).index).toBe(3);
    expect((error as Error).message).toContain('strategy 3 failed');
    expect(progressed).toBeLessThan(200);
  });

  it('aborts mid-run, stops the work and leaves no worker behind', async () => {
    const pool = new WorkerPool({ maxWorkers: 2 });
    pools.push(pool);
    const data = generateOhlcv({ bars: 20_000, seed: 3 });
    const specs: StrategySpec[] = Array.from({ length: 400 }, (_, i) => ({
      kind: 'sma-cross',
      fast: 2 + (i % 20),
      slow: 40 + i,
    }));
    const ac = new AbortController();
    let done = 0;
    const run = parallelBacktest(specs, data, BACKTEST, {
      chunkSize: 4,
      signal: ac.signal,
      backend: localBackend({ pool }),
      onProgress: (d) => {
        done = d;
        if (d >= 16) ac.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(AbortError);
    const atAbort = done;
    expect(atAbort).toBeLessThan(400);
    await until(() => pool.metrics().running === 0);
    expect(done).toBe(atAbort);
    await pool.close();
    expect(pool.threadCount).toBe(0);
  });

  it('leaves shared data unchanged and detects a task that writes to it', async () => {
    const shared = SharedColumns.from(generateOhlcv({ bars: 3_000, seed: 9 }));
    const before = shared.checksum();
    await parallelBacktest(strategies(), shared, BACKTEST, { maxWorkers: 2 });
    expect(shared.checksum()).toBe(before);
    const writer = task('mutateData');
    await expect(
      parallelBacktest([{}], shared, writer as never, { maxWorkers: 1 }),
    ).rejects.toBeInstanceOf(SharedDataMutatedError);
    shared.release();
  });

  it('rejects a strategy or backtestOptions that cannot be cloned, naming the strategy (workers and inline)', async () => {
    for (const inline of [false, true]) {
      const pool = new WorkerPool({ maxWorkers: 1, inline });
      pools.push(pool);
      const before = await pool.run(task('whoAmI'), undefined);
      const specs = Array.from({ length: 6 }, (_, id) => ({
        id,
        level: 0,
        ...(id === 2 ? { onFill: () => id } : {}),
      }));
      const error = await parallelBacktest(specs, makeColumns(20), task('meanAbove'), {
        chunkSize: 3,
        backend: localBackend({ pool }),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotCloneableError);
      expect(error).toMatchObject({ direction: 'input', index: 2, part: 'strategy #2' });
      expect((error as Error).message).toContain('#meanAbove to a worker thread: strategy #2');
      const options = await parallelBacktest(
        [{ id: 0, level: 0 }],
        makeColumns(20),
        task('meanAbove'),
        {
          backtestOptions: { scale: Symbol('x') },
          backend: localBackend({ pool }),
        },
      ).catch((e: unknown) => e);
      expect(options).toMatchObject({ direction: 'input', part: 'backtestOptions' });
      expect(await pool.run(task('whoAmI'), undefined)).toBe(before);
      expect(pool.metrics()).toMatchObject({ crashed: 0, idleCrashes: 0 });
    }
  });

  it('rejects a strategy or backtestOptions whose getter throws while it is cloned, naming the strategy, with the getter error as cause (workers and inline)', async () => {
    for (const inline of [false, true]) {
      const pool = new WorkerPool({ maxWorkers: 1, inline });
      pools.push(pool);
      const crashes: Error[] = [];
      pool.on('workerCrash', (error) => crashes.push(error));
      const before = await pool.run(task('whoAmI'), undefined);
      const boom = new Error('boom');
      const throwing = {
        enumerable: true,
        get: () => {
          throw boom;
        },
      };
      // 3 strategies per chunk cross as they are; 10 uniform ones cross as columns.
      for (const chunkSize of [3, 10]) {
        const specs = Array.from({ length: 10 }, (_, id) => ({ id, level: 0 }));
        Object.defineProperty(specs[7]!, 'level', throwing);
        const error = await parallelBacktest(specs, makeColumns(20), task('meanAbove'), {
          chunkSize,
          backend: localBackend({ pool }),
        }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(NotCloneableError);
        expect(error).toMatchObject({ direction: 'input', index: 7, part: 'strategy #7' });
        expect((error as Error).cause).toBe(boom);
        expect((error as Error).message).toContain(
          '#meanAbove to a worker thread: reading strategy #7 threw while it was being structured-cloned (Error: boom)',
        );
      }
      const options = await parallelBacktest(
        [{ id: 0, level: 0 }],
        makeColumns(20),
        task('meanAbove'),
        {
          backtestOptions: Object.defineProperty({}, 'scale', throwing),
          backend: localBackend({ pool }),
        },
      ).catch((e: unknown) => e);
      expect(options).toBeInstanceOf(NotCloneableError);
      expect(options).toMatchObject({ direction: 'input', part: 'backtestOptions' });
      expect((options as Error).cause).toBe(boom);
      expect(await pool.run(task('whoAmI'), undefined)).toBe(before);
      expect(pool.metrics()).toMatchObject({ crashed: 0, idleCrashes: 0 });
      expect(crashes).toEqual([]);
    }
  });

  it('gives a strategy whose result cannot be cloned back an error outcome and returns the others (workers and inline)', async () => {
    for (const inline of [false, true]) {
      const pool = new WorkerPool({ maxWorkers: 1, inline });
      pools.push(pool);
      const before = await pool.run(task('whoAmI'), undefined);
      const specs = Array.from({ length: 10 }, (_, id) => ({ id, bad: id === 4 || id === 7 }));
      const out = await parallelBacktest(specs, makeColumns(20), task('resultWithFunction'), {
        chunkSize: 10,
        backend: localBackend({ pool }),
      });
      expect(out.map((o) => o.ok)).toEqual(specs.map((s) => !s.bad));
      expect(out[0]).toMatchObject({ ok: true, value: { id: 0 } });
      const bad = out[4];
      if (bad === undefined || bad.ok) throw new Error('expected a failure');
      expect(bad.error).toBeInstanceOf(NotCloneableError);
      expect(bad.error).toMatchObject({
        direction: 'result',
        index: 4,
        part: 'the result of strategy #4',
      });
      expect(out[7]).toMatchObject({ ok: false, error: { index: 7 } });
      const failFast = await parallelBacktest(specs, makeColumns(20), task('resultWithFunction'), {
        chunkSize: 10,
        failFast: true,
        backend: localBackend({ pool }),
      }).catch((e: unknown) => e);
      expect(failFast).toBeInstanceOf(StrategyFailedError);
      expect((failFast as StrategyFailedError).index).toBe(4);
      expect((failFast as Error).cause).toBeInstanceOf(NotCloneableError);
      expect(await pool.run(task('whoAmI'), undefined)).toBe(before);
      expect(pool.metrics()).toMatchObject({ crashed: 0, idleCrashes: 0 });
    }
  });

  it('runs through a pluggable backend and checks its answer', async () => {
    const seen: string[] = [];
    const inThread: ParallelBackend = {
      name: 'in-thread',
      run(request) {
        seen.push(
          `${request.backtestFn.export}:${request.strategies.length}:${String(request.failFast)}`,
        );
        return Promise.resolve(request.strategies.map((s) => ({ ok: true as const, value: s })));
      },
    };
    const out = await parallelBacktest([1, 2], makeColumns(4), task('meanAbove'), {
      backend: inThread,
    });
    expect(out.map((o) => o.ok && o.value)).toEqual([1, 2]);
    expect(seen).toEqual(['meanAbove:2:false']);
    const short: ParallelBackend = { name: 'short', run: () => Promise.resolve([]) };
    await expect(
      parallelBacktest([1], makeColumns(4), task('meanAbove'), { backend: short }),
    ).rejects.toThrow(/1 outcomes \(got 0\)/);
  });

  it('rejects bad arguments naming them', async () => {
    const data = makeColumns(4);
    await expect(parallelBacktest('x' as never, data, task('meanAbove'))).rejects.toThrow(
      /strategies/,
    );
    await expect(
      parallelBacktest([], { close: new Float64Array(1) } as never, task('meanAbove')),
    ).rejects.toThrow(/data\.time/);
    await expect(parallelBacktest([], data, backtest as never)).rejects.toThrow(
      /backtestFn.*functions cannot cross threads/,
    );
    await expect(parallelBacktest([], data, task('meanAbove'), { maxWorkers: 0 })).rejects.toThrow(
      InvalidOptionError,
    );
    await expect(
      parallelBacktest([], data, task('meanAbove'), { failFast: 'yes' as never }),
    ).rejects.toThrow(/failFast/);
  });
});
