import { describe, expect, it } from 'vitest';
import { AbortError, InvalidOptionError, RingQueue, createLimit, mapIo } from './index.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('mapIo', () => {
  it('returns results in input order whatever the completion order', async () => {
    const items = Array.from({ length: 200 }, (_, i) => i);
    const out = await mapIo(
      items,
      async (x) => {
        // Later items finish first within each window.
        for (let k = 0; k < (200 - x) % 5; k++) await tick();
        return x * 3;
      },
      { concurrency: 7 },
    );
    expect(out).toEqual(items.map((x) => x * 3));
  });

  it('holds its concurrency limit exactly under 10k tasks', async () => {
    const concurrency = 13;
    const total = 10_000;
    let started = 0;
    let done = 0; // completions as mapIo counts them (onProgress)
    let peak = 0;
    const wrong: string[] = [];
    const items = Array.from({ length: total }, (_, i) => i);
    const out = await mapIo(
      items,
      async (x) => {
        started++;
        const inFlight = started - done;
        peak = Math.max(peak, inFlight);
        // Exactly: the window fills to the limit and every later start refills a freed slot.
        if (inFlight !== Math.min(concurrency, started))
          wrong.push(`start ${started}: ${inFlight} in flight`);
        if (x % 3 === 0) await tick();
        else await Promise.resolve();
        return x;
      },
      { concurrency, onProgress: (d) => (done = d) },
    );
    expect(out).toEqual(items);
    expect(wrong).toEqual([]);
    expect(peak).toBe(concurrency);
    expect(started).toBe(total);
  });

  it('rejects with the first error and starts nothing after it', async () => {
    let started = 0;
    const err = await mapIo(
      Array.from({ length: 100 }, (_, i) => i),
      async (x) => {
        started++;
        await tick();
        if (x === 10) throw new TypeError('item 10');
        return x;
      },
      { concurrency: 4 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    const atFailure = started;
    await tick();
    await tick();
    expect(started).toBe(atFailure);
    expect(started).toBeLessThan(100);
  });

  it('aborts: rejects with AbortError, passes the signal to fn and starts no more calls', async () => {
    const ac = new AbortController();
    let started = 0;
    let sawSignal = false;
    const run = mapIo(
      Array.from({ length: 1000 }, (_, i) => i),
      async (x, _i, signal) => {
        started++;
        sawSignal = signal === ac.signal;
        if (x === 20) ac.abort(new Error('stop'));
        await tick();
        return x;
      },
      { concurrency: 5, signal: ac.signal },
    );
    await expect(run).rejects.toBeInstanceOf(AbortError);
    const atAbort = started;
    await tick();
    await tick();
    expect(started).toBe(atAbort);
    expect(started).toBeLessThan(30);
    expect(sawSignal).toBe(true);
  });

  it('reports progress once per item up to the total', async () => {
    const seen: number[] = [];
    await mapIo([1, 2, 3, 4, 5], (x) => x, {
      concurrency: 2,
      onProgress: (done, total) => seen.push(done * 10 + total),
    });
    expect(seen).toEqual([15, 25, 35, 45, 55]);
  });

  it('rejects with the error onProgress throws instead of hanging', async () => {
    const boom = new Error('progress boom');
    let calls = 0;
    const run = mapIo([1, 2, 3, 4], (x) => Promise.resolve(x), {
      concurrency: 2,
      onProgress: () => {
        calls++;
        throw boom;
      },
    });
    await expect(run).rejects.toBe(boom);
    expect(calls).toBe(1);
  });

  it('rejects a bad concurrency naming the option', () => {
    expect(() => mapIo([1], (x) => x, { concurrency: 0 })).toThrow(InvalidOptionError);
    expect(() => mapIo([1], (x) => x, { concurrency: 2.5 })).toThrow(
      /concurrency: got 2\.5; expected an integer ≥ 1/,
    );
  });
});

describe('createLimit', () => {
  it('runs at most `concurrency` calls at once with 10k queued, in FIFO order', async () => {
    const limit = createLimit(8);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const calls = Array.from({ length: 10_000 }, (_, i) =>
      limit(async (x: number) => {
        active++;
        peak = Math.max(peak, active);
        order.push(x);
        await tick();
        active--;
        return x + 1;
      }, i),
    );
    expect(limit.activeCount).toBe(8);
    expect(limit.pendingCount).toBe(10_000 - 8);
    const out = await Promise.all(calls);
    expect(out[9_999]).toBe(10_000);
    expect(peak).toBe(8);
    expect(order).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(limit.activeCount + limit.pendingCount).toBe(0);
  });

  it('frees the slot when a call throws, and clearQueue rejects waiting calls', async () => {
    const limit = createLimit(1);
    const bad = limit(() => {
      throw new Error('sync throw');
    });
    await expect(bad).rejects.toThrow('sync throw');
    const gate = limit(() => new Promise<number>((r) => setTimeout(() => r(1), 5)));
    const waiting = [limit(() => 2), limit(() => 3)];
    limit.clearQueue();
    await expect(Promise.all(waiting)).rejects.toBeInstanceOf(AbortError);
    expect(await gate).toBe(1);
    expect(await limit(() => 4)).toBe(4);
  });
  it('subscribes to a returned thenable once, and keeps activeCount ≥ 0 for a thenable that settles twice', async () => {
    const limit = createLimit(1);
    let thenCalls = 0;
    // A lazy thenable (query builders work this way): every then() call runs it again.
    const lazy = {
      then(onFulfilled: (v: number) => void): void {
        thenCalls++;
        onFulfilled(5);
      },
    };
    expect(await limit(() => lazy as unknown as PromiseLike<number>)).toBe(5);
    await tick();
    expect(thenCalls).toBe(1);
    // A non-compliant thenable calling both callbacks must not free two slots.
    const both = {
      then(onFulfilled: (v: number) => void, onRejected: (e: Error) => void): void {
        onFulfilled(1);
        onRejected(new Error('second settle'));
      },
    };
    expect(await limit(() => both as unknown as PromiseLike<number>)).toBe(1);
    await tick();
    expect(limit.activeCount).toBe(0);
  });
});

describe('RingQueue', () => {
  it('is FIFO across growth and wrap-around, and drops references on shift', () => {
    const q = new RingQueue<number>(2);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < round; i++) q.push(next++);
      for (let i = 0; i < round / 2; i++) expect(q.shift()).toBe(expected++);
    }
    while (q.size > 0) expect(q.shift()).toBe(expected++);
    expect(expected).toBe(next);
    expect(q.shift()).toBeUndefined();
    expect(q.capacity).toBeLessThanOrEqual(1024);
  });
});
