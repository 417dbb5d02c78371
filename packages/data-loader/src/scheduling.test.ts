import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DataLoader,
  HttpStatusError,
  KeyedRateLimiter,
  LoadAbortedError,
  LoaderOptionError,
  LoadFailedError,
  LoadTimeoutError,
  createLimiter,
  parseRetryAfter,
  resolveRetryPolicy,
  withRetry,
  type OhlcvColumns,
  type Source,
} from './index.js';

afterEach(() => {
  vi.useRealTimers();
});

const empty = (): OhlcvColumns => ({
  time: new Float64Array(0),
  open: new Float64Array(0),
  high: new Float64Array(0),
  low: new Float64Array(0),
  close: new Float64Array(0),
  volume: new Float64Array(0),
});

describe('createLimiter', () => {
  it('holds its concurrency limit exactly under 10k tasks, in FIFO order', async () => {
    const limit = createLimiter(7);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 10_000 }, (_, i) =>
        limit(async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(i);
          await Promise.resolve();
          running--;
        }),
      ),
    );
    expect(peak).toBe(7);
    expect(limit.peak).toBe(7);
    expect(order).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(limit.active).toBe(0);
    expect(limit.pending).toBe(0);
  });

  it('turns a synchronous throw into a rejection and frees the slot', async () => {
    const limit = createLimiter(1);
    await expect(
      limit(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(limit(() => 5)).resolves.toBe(5);
  });

  it('drops a queued task whose signal aborts', async () => {
    const limit = createLimiter(1);
    let release!: () => void;
    const first = limit(() => new Promise<void>((r) => (release = r)));
    const controller = new AbortController();
    const ran = vi.fn();
    const second = limit(ran, controller.signal);
    expect(limit.pending).toBe(1);
    controller.abort();
    await expect(second).rejects.toBeInstanceOf(LoadAbortedError);
    expect(limit.pending).toBe(0);
    release();
    await first;
    expect(ran).not.toHaveBeenCalled();
  });

  it('refuses a concurrency that is not a positive integer', () => {
    expect(() => createLimiter(0)).toThrow(LoaderOptionError);
    expect(() => createLimiter(1.5)).toThrow(/concurrency = 1.5/);
  });
});

describe('retry schedule (fake timers)', () => {
  it('waits full-jitter exponential delays between attempts', async () => {
    vi.useFakeTimers();
    const policy = resolveRetryPolicy({
      retries: 3,
      baseDelayMs: 100,
      maxDelayMs: 250,
      random: () => 0.5,
    });
    let attempts = 0;
    const run = withRetry('x', policy, () => {
      attempts++;
      return Promise.reject(new HttpStatusError('http://x', 503, undefined));
    });
    const settled = run.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(49);
    expect(attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(1); // 0.5 * 100
    expect(attempts).toBe(2);
    await vi.advanceTimersByTimeAsync(100); // 0.5 * 200
    expect(attempts).toBe(3);
    await vi.advanceTimersByTimeAsync(124);
    expect(attempts).toBe(3);
    await vi.advanceTimersByTimeAsync(1); // 0.5 * min(250, 400)
    expect(attempts).toBe(4);
    const error = (await settled) as LoadFailedError;
    expect(error).toBeInstanceOf(LoadFailedError);
    expect(error.attempts).toBe(4);
  });

  it('times out each attempt with the configured timeout', async () => {
    vi.useFakeTimers();
    const calls: AbortSignal[] = [];
    const hanging: Source = {
      name: 'hang',
      load: (_s, { signal }) => {
        calls.push(signal);
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason as Error)),
        );
      },
    };
    const loader = new DataLoader({
      timeoutMs: 500,
      retry: { retries: 1, baseDelayMs: 10, random: () => 1 },
    });
    const settled = loader.load('S', hanging).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(499);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls[0]!.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(500);
    const error = (await settled) as LoadFailedError;
    expect(error.cause).toBeInstanceOf(LoadTimeoutError);
    expect((error.cause as LoadTimeoutError).timeoutMs).toBe(500);
  });

  it('does not retry errors that are not transient', async () => {
    let attempts = 0;
    const policy = resolveRetryPolicy({ retries: 5 });
    await expect(
      withRetry('x', policy, () => {
        attempts++;
        return Promise.reject(new HttpStatusError('u', 400, undefined));
      }),
    ).rejects.toBeInstanceOf(LoadFailedError);
    expect(attempts).toBe(1);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
    ).toBe(10_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('reads only real Retry-After forms: garbage gives undefined, not a zero or huge delay', () => {
    const now = Date.parse('Sun, 06 Nov 1994 08:49:30 GMT');
    // The three HTTP-date forms, in the future and in the past.
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Sun Nov  6 08:49:37 1994', now)).toBe(7000);
    expect(parseRetryAfter('Sat, 05 Nov 1994 08:49:37 GMT', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    // Date.parse reads each of these as some date in 2001 (a zero delay); Number() reads the
    // others as -5 s (zero), 16 s and 1000 s (long enough to fail the load).
    for (const garbage of [
      'soon 12',
      'retry in 5',
      '5,6',
      '1 2',
      '-5',
      '0x10',
      '1e3',
      'Infinity',
      '',
    ])
      expect(parseRetryAfter(garbage, now), garbage).toBeUndefined();
  });

  it('names bad retry options', () => {
    expect(() => resolveRetryPolicy({ retries: -1 })).toThrow(/retries = -1/);
    expect(() => resolveRetryPolicy({ baseDelayMs: 100, maxDelayMs: 10 })).toThrow(/maxDelayMs/);
    expect(() => new DataLoader({ timeoutMs: 0 })).toThrow(/timeoutMs = 0/);
  });
});

describe('attempts and shared loads', () => {
  it('times out an attempt whose source ignores its signal, and frees the slot', async () => {
    vi.useFakeTimers();
    const deaf: Source = { name: 'deaf', load: () => new Promise<OhlcvColumns>(() => {}) };
    const loader = new DataLoader({ concurrency: 1, timeoutMs: 500, retry: { retries: 0 } });
    const settled = loader.load('S', deaf).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(500);
    const error = (await settled) as LoadFailedError;
    expect(error).toBeInstanceOf(LoadFailedError);
    expect(error.cause).toBeInstanceOf(LoadTimeoutError);
    expect(loader.active).toBe(0);
  });

  /** A source answering after `ms`, or rejecting with the abort reason; counts its calls. */
  function slowSource(ms: number, batch = false) {
    const calls: string[][] = [];
    const signals: AbortSignal[] = [];
    const wait = (signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        signals.push(signal);
        const timer = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason as Error);
        });
      });
    const source: Source = {
      name: batch ? 'slow-batch' : 'slow',
      load: async (symbol, { signal }) => {
        calls.push([symbol]);
        await wait(signal);
        return empty();
      },
      ...(batch
        ? {
            loadBatch: async (symbols: readonly string[], { signal }: { signal: AbortSignal }) => {
              calls.push([...symbols]);
              await wait(signal);
              return new Map(symbols.map((s) => [s, empty()]));
            },
          }
        : {}),
    };
    return { source, calls, signals };
  }

  it('a shared load survives its first caller aborting while another caller still waits', async () => {
    const { source, calls } = slowSource(50);
    const loader = new DataLoader();
    const first = new AbortController();
    const a = loader.load('X', source, { signal: first.signal });
    const b = loader.load('X', source);
    setTimeout(() => first.abort(new Error('first gave up')), 5);
    await expect(a).rejects.toBeInstanceOf(LoadAbortedError);
    await expect(b).resolves.toEqual(empty());
    expect(calls).toEqual([['X']]);
  });

  it('a caller joining a shared load is released by its own signal, and the load goes on', async () => {
    const { source, calls } = slowSource(200);
    const loader = new DataLoader();
    const second = new AbortController();
    const a = loader.load('X', source);
    const b = loader.load('X', source, { signal: second.signal });
    const asked = performance.now();
    setTimeout(() => second.abort(), 5);
    await expect(b).rejects.toBeInstanceOf(LoadAbortedError);
    expect(performance.now() - asked).toBeLessThan(150);
    await expect(a).resolves.toEqual(empty());
    expect(calls).toEqual([['X']]);
  });

  it('aborts the shared load once every caller has aborted, and a later load starts afresh', async () => {
    const { source, calls, signals } = slowSource(100);
    const loader = new DataLoader();
    const one = new AbortController();
    const two = new AbortController();
    const a = loader.load('X', source, { signal: one.signal });
    const b = loader.load('X', source, { signal: two.signal });
    await new Promise((r) => setTimeout(r, 5));
    one.abort();
    await expect(a).rejects.toBeInstanceOf(LoadAbortedError);
    expect(signals[0]!.aborted).toBe(false); // `two` still waits
    two.abort();
    expect(signals[0]!.aborted).toBe(true);
    await expect(b).rejects.toBeInstanceOf(LoadAbortedError);
    await expect(loader.load('X', source)).resolves.toEqual(empty());
    expect(calls).toEqual([['X'], ['X']]);
    expect(loader.active).toBe(0);
  });

  it("one caller's abort does not fail the other symbols of its batch", async () => {
    const { source, calls } = slowSource(50, true);
    const loader = new DataLoader();
    const controller = new AbortController();
    const a = loader.load('A', source, { signal: controller.signal });
    const b = loader.load('B', source);
    setTimeout(() => controller.abort(), 5);
    await expect(a).rejects.toBeInstanceOf(LoadAbortedError);
    await expect(b).resolves.toEqual(empty());
    expect(calls).toEqual([['A', 'B']]);
  });

  it('a throwing onProgress does not end loadMany while its loads still run', async () => {
    const { source } = slowSource(30);
    let running = 0;
    const counted: Source = {
      name: 'counted',
      load: async (symbol, ctx) => {
        running++;
        try {
          return await source.load(symbol, ctx);
        } finally {
          running--;
        }
      },
    };
    const loader = new DataLoader();
    const seen: string[] = [];
    const error = await loader
      .loadMany(['A', 'B', 'C'], counted, {
        onProgress: ({ symbol }) => {
          seen.push(symbol);
          throw new Error('progress bar gone');
        },
      })
      .catch((e: unknown) => e);
    expect(running).toBe(0);
    expect(seen.sort()).toEqual(['A', 'B', 'C']);
    expect((error as Error).message).toBe('progress bar gone');
  });
});

describe('KeyedRateLimiter (real clock)', () => {
  it('keeps the event loop running while it waits with a sleep that does not wait', async () => {
    // `async () => {}` is what a test passes as `retry.sleep` to make retries instant; the limiter
    // waits with the same function. It must still hold the rate, without spinning on microtasks.
    const limiter = new KeyedRateLimiter({ ratePerSec: 20, burst: 1 }, { sleep: async () => {} });
    await limiter.acquire('h');
    const due = performance.now() + 50;
    let timerFiredFirst: boolean | undefined;
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        timerFiredFirst ??= true;
        resolve();
      }, 5),
    );
    await limiter.acquire('h');
    const startedAt = performance.now();
    timerFiredFirst ??= false;
    await timer;
    expect(timerFiredFirst).toBe(true);
    // (the token was due 50 ms after the first; a millisecond of slack for rounding)
    expect(startedAt).toBeGreaterThanOrEqual(due - 1);
  });

  it('stops such a wait with LoadAbortedError when the signal aborts', async () => {
    const limiter = new KeyedRateLimiter({ ratePerSec: 1, burst: 1 }, { sleep: async () => {} });
    await limiter.acquire('h');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 5);
    await expect(limiter.acquire('h', controller.signal)).rejects.toBeInstanceOf(LoadAbortedError);
  });
});

describe('KeyedRateLimiter (fake clock)', () => {
  it('lets a burst through, then spaces requests at the rate, per key', async () => {
    let now = 0;
    const waits: number[] = [];
    const limiter = new KeyedRateLimiter(
      { ratePerSec: 5, burst: 2 },
      {
        now: () => now,
        sleep: (ms) => {
          waits.push(ms);
          const wake = now + ms;
          return Promise.resolve().then(() => {
            now = Math.max(now, wake);
          });
        },
      },
    );
    // Five at once: two from the burst, the rest reserved 200 ms apart, in arrival order.
    await Promise.all(Array.from({ length: 5 }, () => limiter.acquire('host-a')));
    expect(waits.map(Math.round)).toEqual([200, 400, 600]);
    await limiter.acquire('host-b');
    expect(waits).toHaveLength(3);
    now = 10_000; // long quiet period refills only up to the burst
    waits.length = 0;
    for (let i = 0; i < 3; i++) await limiter.acquire('host-a');
    expect(waits.map(Math.round)).toEqual([200]);
  });

  it('sleeps again when a timer wakes before the reserved time, so no request starts early', async () => {
    let now = 0;
    const waits: number[] = [];
    const limiter = new KeyedRateLimiter(
      { ratePerSec: 10, burst: 1 },
      {
        now: () => now,
        sleep: (ms) => {
          waits.push(ms);
          now += ms > 1 ? ms - 0.9 : ms; // a timer that fires 0.9 ms early
          return Promise.resolve();
        },
      },
    );
    await limiter.acquire('h');
    await limiter.acquire('h');
    expect(now).toBeGreaterThanOrEqual(100);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeCloseTo(100, 9);
    expect(waits[1]).toBeCloseTo(0.9, 9);
  });

  /**
   * A limiter of 10 tokens a second (one per 100 ms), burst 1, on a fake clock: sleeps wake when
   * `advanceTo` reaches their time, or fail when `fail(n)` rejects the n-th one (0-based).
   */
  function fakeClockLimiter() {
    let now = 0;
    const sleeps: { wake: number; resolve: () => void; reject: (error: Error) => void }[] = [];
    const asleep = new Set<(typeof sleeps)[number]>();
    const limiter = new KeyedRateLimiter(
      { ratePerSec: 10, burst: 1 },
      {
        now: () => now,
        sleep: (ms) =>
          new Promise<void>((resolve, reject) => {
            const sleep = { wake: now + ms, resolve, reject };
            sleeps.push(sleep);
            asleep.add(sleep);
          }),
      },
    );
    const settle = async () => {
      for (let i = 0; i < 10; i++) await Promise.resolve();
    };
    /** When each caller was let through (fake ms), or that its wait failed. */
    const started = new Map<string, number | 'failed'>();
    return {
      started,
      async acquire(name: string) {
        limiter.acquire('h').then(
          () => void started.set(name, now),
          () => void started.set(name, 'failed'),
        );
        await settle();
      },
      async fail(n: number) {
        const sleep = sleeps[n]!;
        asleep.delete(sleep);
        sleep.reject(new Error('sleep is broken'));
        await settle();
      },
      async advanceTo(to: number) {
        for (;;) {
          const next = Math.min(...[...asleep].map((s) => s.wake));
          if (!(next <= to)) break;
          now = next;
          for (const sleep of [...asleep])
            if (sleep.wake <= now) {
              asleep.delete(sleep);
              sleep.resolve();
            }
          await settle();
        }
        now = to;
      },
    };
  }

  it('a caller whose sleep fails in mid-queue leaves its turn unused: the callers behind it never start together with a newcomer', async () => {
    const clock = fakeClockLimiter();
    await clock.acquire('X'); // the burst token, at 0
    await clock.acquire('A'); // reserved for 100
    await clock.acquire('B'); // reserved for 200
    await clock.fail(0); // A's sleep fails
    await clock.advanceTo(100);
    await clock.acquire('C');
    await clock.advanceTo(400);
    // Giving A's token back would have let C take B's turn: B and C both at 200, over the burst.
    expect(Object.fromEntries(clock.started)).toEqual({ X: 0, A: 'failed', B: 200, C: 300 });
  });

  it('gives the tokens of failed callers back once no caller behind them still waits, in whatever order they fail', async () => {
    // The last in the queue fails: its token comes back at once.
    const last = fakeClockLimiter();
    for (const name of ['X', 'A', 'B']) await last.acquire(name);
    await last.fail(1); // B's
    await last.advanceTo(100);
    await last.acquire('C');
    await last.advanceTo(400);
    expect(Object.fromEntries(last.started)).toEqual({ X: 0, A: 100, B: 'failed', C: 200 });

    // Every waiter fails, first to last (as when the signals of a whole loadMany abort) or last
    // to first: the bucket is as if they had never come, so no token is lost.
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ]) {
      const all = fakeClockLimiter();
      for (const name of ['X', 'A', 'B', 'C']) await all.acquire(name);
      for (const n of order) await all.fail(n);
      await all.advanceTo(50);
      await all.acquire('D'); // half a token has come since X took the last one
      await all.advanceTo(400);
      expect(Object.fromEntries(all.started), order.join()).toEqual({
        X: 0,
        A: 'failed',
        B: 'failed',
        C: 'failed',
        D: 100,
      });
    }
  });

  it('refuses a non-positive rate', () => {
    expect(() => new KeyedRateLimiter({ ratePerSec: 0 })).toThrow(/ratePerSec = 0/);
  });
});

describe('batching', () => {
  it('hands symbols requested in one tick to loadBatch in one call, de-duplicated', async () => {
    const batches: string[][] = [];
    const source: Source = {
      name: 'batched',
      load: () => Promise.reject(new Error('not used')),
      loadBatch: (symbols) => {
        batches.push([...symbols]);
        return Promise.resolve(
          new Map(symbols.map((s) => [s, s === 'BAD' ? new Error('unknown symbol') : empty()])),
        );
      },
    };
    const loader = new DataLoader({ maxBatchSize: 3 });
    const results = await Promise.allSettled(
      ['A', 'B', 'A', 'C', 'D', 'BAD'].map((s) => loader.load(s, source)),
    );
    expect(batches).toEqual([
      ['A', 'B', 'C'],
      ['D', 'BAD'],
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
    ]);
  });
});
