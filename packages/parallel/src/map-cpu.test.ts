import { afterEach, describe, expect, it } from 'vitest';
import { makeColumns, task, until } from '../test/helpers.js';
import {
  AbortError,
  InvalidOptionError,
  NotCloneableError,
  SharedColumns,
  TaskFailedError,
  WorkerPool,
  mapCpu,
} from './index.js';

const pools: WorkerPool[] = [];
function pool(maxWorkers = 2, inline = false): WorkerPool {
  const p = new WorkerPool({ maxWorkers, inline });
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close({ force: true })));
});

describe('mapCpu', () => {
  it('returns results in input order when chunks finish out of order', async () => {
    const items = Array.from({ length: 300 }, (_, i) => i);
    // slowDouble awaits a timer per item, so chunks on the two workers interleave.
    const out = await mapCpu(items, task<(x: number) => Promise<number>>('slowDouble'), {
      pool: pool(),
      chunkSize: 7,
    });
    expect(out).toEqual(items.map((x) => x * 2));
  });

  it('batches tiny items automatically: far fewer dispatches than items', async () => {
    const p = pool();
    const items = Array.from({ length: 20_000 }, (_, i) => i);
    let largest = 0;
    let last = 0;
    const sizes: number[] = [];
    const out = await mapCpu(items, task<(x: number) => number>('double'), {
      pool: p,
      // Chunks finish one at a time, so each progress step is one chunk's size.
      onProgress: (done) => {
        largest = Math.max(largest, done - last);
        sizes.push(done - last);
        last = done;
      },
    });
    expect(out[19_999]).toBe(39_998);
    expect(out).toHaveLength(20_000);
    // Probe chunks are 4 items; later chunks are sized from measured run times, capped at
    // n / (workers × 4) = 2500. The first timings include each worker's module import and any
    // preemption, which shrink the next few chunks until the estimate recovers: 20–40 dispatches
    // on a loaded 2-vCPU VM. Per-item or stuck-at-probe-size dispatch would be 20,000 or 5,000. A
    // 2500-item chunk runs in well under the 10 ms target, so the size still reaches the cap.
    expect(largest).toBe(2500);
    expect(p.metrics().completed).toBeLessThan(100);
    // Guided tail: no chunk cut from the timings takes more than 1 / (2 × workers) of the items
    // left (ceil(left / 4) with 2 workers), so from 4 or fewer left every chunk is a single item;
    // the cut before that leaves at least 3 (from 5 left, 2 go), so at least 3 single-item chunks.
    // Cut at the full size instead, the last chunks would be 2500 items or the remainder.
    expect(p.maxWorkers).toBe(2);
    expect(sizes.filter((n) => n === 1).length).toBeGreaterThanOrEqual(3);
  });

  it('dispatches ceil(n / chunkSize) chunks with a fixed chunkSize', async () => {
    const p = pool();
    await mapCpu(
      Array.from({ length: 1000 }, (_, i) => i),
      task('double'),
      { pool: p, chunkSize: 64 },
    );
    expect(p.metrics().completed).toBe(Math.ceil(1000 / 64));
  });

  it('reports progress per chunk, increasing to the total', async () => {
    const seen: number[] = [];
    await mapCpu(
      Array.from({ length: 100 }, (_, i) => i),
      task('double'),
      {
        pool: pool(),
        chunkSize: 10,
        onProgress: (done, total) => {
          expect(total).toBe(100);
          seen.push(done);
        },
      },
    );
    expect(seen).toHaveLength(10);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(seen.at(-1)).toBe(100);
  });

  it('rejects with TaskFailedError naming the failing item', async () => {
    const error = await mapCpu(
      Array.from({ length: 50 }, (_, i) => i),
      task('failOn'),
      { pool: pool(), chunkSize: 5 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).index).toBe(13);
    expect((error as Error).message).toContain('item #13');
  });

  it('rejects, without hanging, when an item of a later chunk cannot be read', async () => {
    // Item 150 is read only when its chunk is built, after the first chunks came back: a getter
    // that throws there must end the run with NotCloneableError naming the item, with the
    // getter's error as cause (and cancel the rest), not strand it. Once a getter in the item
    // (read for the columns, then by structured clone), once an index getter on the array.
    const p = pool();
    const boom = new Error('item 150 cannot be read');
    const getter = {
      enumerable: true,
      get: () => {
        throw boom;
      },
    };
    const inItem: { x: number }[] = Array.from({ length: 200 }, (_, i) => ({ x: i }));
    Object.defineProperty(inItem[150]!, 'x', getter);
    const atIndex: { x: number }[] = Array.from({ length: 200 }, (_, i) => ({ x: i }));
    Object.defineProperty(atIndex, 150, getter);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const items of [inItem, atIndex]) {
        const run = mapCpu(items, task<(x: { x: number }) => number>('double'), {
          pool: p,
          chunkSize: 8,
        });
        const outcome = await Promise.race([
          run.then(
            () => 'resolved',
            (error: unknown) => error,
          ),
          new Promise((resolve) => setTimeout(() => resolve('still pending after 5 s'), 5000)),
        ]);
        expect(outcome).toBeInstanceOf(NotCloneableError);
        expect(outcome).toMatchObject({ direction: 'input', index: 150, part: 'item #150' });
        expect((outcome as Error).cause).toBe(boom);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      expect(p.metrics()).toMatchObject({ crashed: 0, idleCrashes: 0 });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('rejects with the error of an onProgress callback that throws', async () => {
    const p = pool();
    const stop = new Error('progress callback failed');
    let calls = 0;
    const run = mapCpu(
      Array.from({ length: 100 }, (_, i) => i),
      task<(x: number) => number>('double'),
      {
        pool: p,
        chunkSize: 10,
        onProgress: () => {
          if (++calls === 3) throw stop;
        },
      },
    );
    await expect(run).rejects.toBe(stop);
    expect(calls).toBe(3);
  });

  it('aborts mid-run: stops queued and running chunks and leaves no worker behind', async () => {
    const p = pool();
    const ac = new AbortController();
    let done = 0;
    const run = mapCpu(
      Array.from({ length: 400 }, (_, i) => i),
      task('spinItem'),
      {
        pool: p,
        chunkSize: 2,
        context: { ms: 10 },
        signal: ac.signal,
        onProgress: (d) => {
          done = d;
          if (d >= 8) ac.abort(new Error('enough'));
        },
      },
    );
    await expect(run).rejects.toBeInstanceOf(AbortError);
    const atAbort = done;
    expect(atAbort).toBeLessThan(400);
    // Running chunks were terminated with their workers; queued ones were dropped.
    await until(() => p.metrics().running === 0 && p.metrics().queued === 0);
    expect(p.metrics().cancelled).toBeGreaterThan(0);
    expect(done).toBe(atAbort);
    await p.close();
    expect(p.threadCount).toBe(0);
  });

  it('uses and closes a pool of its own when none is given', async () => {
    const out = await mapCpu([1, 2, 3], task<(x: number) => number>('double'), { maxWorkers: 1 });
    expect(out).toEqual([2, 4, 6]);
    const ac = new AbortController();
    ac.abort();
    await expect(
      mapCpu([1], task('double'), { maxWorkers: 1, signal: ac.signal }),
    ).rejects.toBeInstanceOf(AbortError);
  });

  it('hands shared columns to the task and leaves them unchanged', async () => {
    const shared = SharedColumns.from(makeColumns(1000));
    const before = shared.checksum();
    const sums = await mapCpu([0, 1, 2, 3], task('sumCloseItem'), {
      pool: pool(),
      shared,
      chunkSize: 1,
    });
    expect(sums).toEqual([500_000, 500_000, 500_000, 500_000]);
    expect(shared.checksum()).toBe(before);
    shared.release();
  });

  it('rejects an item that cannot be cloned with NotCloneableError naming the task and the item', async () => {
    for (const inline of [false, true]) {
      const p = pool(1, inline);
      const before = await p.run(task('whoAmI'), undefined);
      const items: unknown[] = Array.from({ length: 20 }, (_, i) => (i === 11 ? () => i : i));
      const error = await mapCpu(items, task('double'), { pool: p, chunkSize: 4 }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NotCloneableError);
      const e = error as NotCloneableError;
      expect(e).toMatchObject({ direction: 'input', index: 11, part: 'item #11' });
      expect(e.message).toMatch(
        /^Cannot send the input of .*tasks\.mjs#double to a worker thread: item #11/,
      );
      expect((e.cause as Error).name).toBe('DataCloneError');
      const context = await mapCpu([1, 2], task('double'), {
        pool: p,
        context: { weight: () => 2 },
      }).catch((e: unknown) => e);
      expect(context).toMatchObject({ direction: 'input', index: undefined, part: 'context' });
      expect(await mapCpu([1, 2, 3], task('double'), { pool: p })).toEqual([2, 4, 6]);
      expect(await p.run(task('whoAmI'), undefined)).toBe(before);
      expect(p.metrics()).toMatchObject({ crashed: 0, idleCrashes: 0 });
    }
  });

  it('rejects an item or context whose getter throws while it is cloned with NotCloneableError (cause: the getter error); the worker is kept (workers and inline)', async () => {
    const messages: string[] = [];
    for (const inline of [false, true]) {
      const p = pool(1, inline);
      const crashes: Error[] = [];
      p.on('workerCrash', (error) => crashes.push(error));
      const before = await p.run(task('whoAmI'), undefined);
      const boom = new Error('boom');
      const throwing = {
        enumerable: true,
        get: () => {
          throw boom;
        },
      };
      // 3 items cross as they are; 12 uniform objects cross as columns (read on this thread).
      for (const n of [3, 12]) {
        const items = Array.from({ length: n }, (_, i) => ({ i }));
        Object.defineProperty(items[n - 1]!, 'i', throwing);
        const error = await mapCpu(items, task('echo'), { pool: p, chunkSize: n }).catch(
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(NotCloneableError);
        expect(error).toMatchObject({ direction: 'input', index: n - 1, part: `item #${n - 1}` });
        expect((error as Error).cause).toBe(boom);
        expect((error as Error).message).toMatch(
          /^Cannot send the input of .*tasks\.mjs#echo to a worker thread: reading item #\d+ threw while it was being structured-cloned \(Error: boom\)/,
        );
        messages.push((error as Error).message);
      }
      const context = await mapCpu([1, 2], task('double'), {
        pool: p,
        context: Object.defineProperty({}, 'weight', throwing),
      }).catch((e: unknown) => e);
      expect(context).toBeInstanceOf(NotCloneableError);
      expect(context).toMatchObject({ direction: 'input', index: undefined, part: 'context' });
      expect((context as Error).cause).toBe(boom);
      expect(await mapCpu([1, 2, 3], task('double'), { pool: p })).toEqual([2, 4, 6]);
      expect(await p.run(task('whoAmI'), undefined)).toBe(before);
      expect(p.metrics()).toMatchObject({ crashed: 0, idleCrashes: 0 });
      expect(crashes).toEqual([]);
    }
    expect(messages.slice(2)).toEqual(messages.slice(0, 2));
  });

  it('rejects a result that cannot be cloned back with NotCloneableError naming the item; the worker survives', async () => {
    for (const inline of [false, true]) {
      const p = pool(1, inline);
      const before = await p.run(task('whoAmI'), undefined);
      const items = Array.from({ length: 10 }, (_, i) => i);
      const error = await mapCpu(items, task('functionResultAt5'), {
        pool: p,
        chunkSize: 10,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotCloneableError);
      const e = error as NotCloneableError;
      expect(e).toMatchObject({ direction: 'result', index: 5, part: 'the result of item #5' });
      expect(e.message).toMatch(/^Cannot send the result of .*#functionResultAt5 back/);
      expect(await mapCpu(items, task('double'), { pool: p })).toEqual(items.map((x) => x * 2));
      expect(await p.run(task('whoAmI'), undefined)).toBe(before);
      expect(p.metrics()).toMatchObject({ crashed: 0, idleCrashes: 0 });
    }
  });

  it("gives the same results inline as on workers, and never hands the task the caller's items", async () => {
    // 12 items cross as columns, 3 as they are: both forms must be copies.
    for (const n of [3, 12]) {
      const results: unknown[] = [];
      for (const inline of [false, true]) {
        const items = Array.from({ length: n }, (_, i) => ({ i, tags: [String(i)] }));
        const out = await mapCpu(items, task('mutateItem'), { pool: pool(2, inline) });
        expect(items.every((item) => !('touched' in item))).toBe(true);
        expect(out.every((o, i) => o !== items[i])).toBe(true);
        results.push(out);
      }
      expect(results[1]).toStrictEqual(results[0]);
      // An object reachable from an item and from the context arrives as one object either way,
      // as one structured clone of the whole message gives it.
      const shared = { weight: 2 };
      const withRef = Array.from({ length: n }, (_, i) => ({ i, ref: shared }));
      for (const inline of [false, true]) {
        const same = await mapCpu(withRef, task('refIsContext'), {
          pool: pool(1, inline),
          context: shared,
        });
        expect(same).toEqual(withRef.map(() => true));
      }
    }
  });

  it('rejects bad options naming them', async () => {
    await expect(mapCpu([1], task('double'), { chunkSize: 0 })).rejects.toThrow(InvalidOptionError);
    await expect(mapCpu([1], task('double'), { targetChunkMs: -1 })).rejects.toThrow(
      /targetChunkMs/,
    );
    await expect(mapCpu('abc' as never, task('double'))).rejects.toThrow(/items/);
    await expect(mapCpu([1], ((x: number) => x) as never)).rejects.toThrow(
      /functions cannot cross threads/,
    );
  });
});
