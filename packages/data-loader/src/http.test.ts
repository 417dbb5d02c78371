import { LruCache, MultiLevelCache } from '@peaktrade/cache-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { barsFor, startFaultServer, type FaultServer } from '../test/fault-server.js';
import {
  DataLoader,
  DataValidationError,
  HttpStatusError,
  LoadAbortedError,
  LoadFailedError,
  LoadTimeoutError,
  RetryCallbackError,
  httpSource,
  isTransient,
  resolveRetryPolicy,
  withRetry,
  type OhlcvColumns,
  type Sleep,
} from './index.js';

let server: FaultServer;
beforeAll(async () => {
  server = await startFaultServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.clear();
  server.arrivals.length = 0;
  server.inFlight.peak = 0;
  server.okDelayMs = 0;
});

/** Sleep that records requested delays and waits only 1 ms, so retry schedules are checked without waiting them out. */
function recordingSleep(): { sleep: Sleep; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: (ms) => {
      delays.push(ms);
      return new Promise((r) => setTimeout(r, 1));
    },
  };
}

const source = () => httpSource({ url: (s) => `${server.url}/bars/${s}` });
/** The same URLs as a template: such a source has a name of its own, so it can be cached. */
const templated = () => httpSource({ url: `${server.url}/bars/{symbol}` });

function expectBars(cols: OhlcvColumns | undefined, symbol: string): void {
  const want = barsFor(symbol);
  expect(cols?.close).toEqual(want.close);
  expect(cols?.time).toEqual(want.time);
}

/** Runs `body`, then checks that no promise rejection went unhandled meanwhile (or within 20 ms after). */
async function withoutUnhandledRejections(body: () => Promise<void>): Promise<void> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await body();
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}

describe('HTTP loading under faults', () => {
  it('reuses receive buffers without ever aliasing returned columns', async () => {
    server.script('POOL1', ['ok-columnar']);
    server.script('POOL2', ['ok-columnar']);
    const loader = new DataLoader();
    const first = await loader.load('POOL1', source());
    await loader.load('POOL2', source());
    expectBars(first, 'POOL1');
  });

  it('loads the same bars through the fetch transport', async () => {
    const viaFetch = httpSource({ url: (s) => `${server.url}/bars/${s}`, fetch });
    server.script('F500', ['500', 'ok-csv']);
    const loader = new DataLoader({ retry: { sleep: recordingSleep().sleep } });
    expectBars(await loader.load('F500', viaFetch), 'F500');
    expect(server.requests.get('F500')).toBe(2);
  });

  it('loads JSON, CSV and columnar bodies into identical columns', async () => {
    server.script('J', ['ok']);
    server.script('C', ['ok-csv']);
    server.script('B', ['ok-columnar']);
    const loader = new DataLoader();
    const { data, failures } = await loader.loadMany(['J', 'C', 'B'], source());
    expect(failures.size).toBe(0);
    for (const s of ['J', 'C', 'B']) expectBars(data.get(s), s);
  });

  it('never exceeds the concurrency limit, and reaches it', async () => {
    server.okDelayMs = 15;
    const loader = new DataLoader({ concurrency: 4 });
    const symbols = Array.from({ length: 40 }, (_, i) => `S${i}`);
    const { data } = await loader.loadMany(symbols, source());
    expect(data.size).toBe(40);
    expect(server.inFlight.peak).toBe(4);
  });

  it('loadMany concurrency narrows the loader limit', async () => {
    server.okDelayMs = 15;
    const loader = new DataLoader({ concurrency: 8 });
    await loader.loadMany(
      Array.from({ length: 20 }, (_, i) => `N${i}`),
      source(),
      { concurrency: 2 },
    );
    expect(server.inFlight.peak).toBe(2);
  });

  it('retries a 500 and succeeds', async () => {
    server.script('R500', ['500', '500', 'ok']);
    const { sleep, delays } = recordingSleep();
    const loader = new DataLoader({
      retry: { retries: 3, baseDelayMs: 100, random: () => 0.5, sleep },
    });
    expectBars(await loader.load('R500', source()), 'R500');
    expect(server.requests.get('R500')).toBe(3);
    // Full jitter: random * min(max, base * 2^(n-1)) with random fixed at 0.5.
    expect(delays).toEqual([50, 100]);
  });

  it('honours Retry-After on 429', async () => {
    server.script('R429', [{ status: 429, retryAfter: '2' }, 'ok']);
    const { sleep, delays } = recordingSleep();
    const loader = new DataLoader({ retry: { sleep } });
    expectBars(await loader.load('R429', source()), 'R429');
    expect(delays).toEqual([2000]);
  });

  it('backs off as usual when Retry-After is garbage, instead of retrying at once or failing', async () => {
    // Date.parse reads "soon 12" as a date in 2001 (a zero delay); Number reads "1e3" as 1000 s,
    // over maxRetryAfterMs, which failed the load.
    server.script('GARBAGE', [
      { status: 429, retryAfter: 'soon 12' },
      { status: 429, retryAfter: '1e3' },
      'ok',
    ]);
    const { sleep, delays } = recordingSleep();
    const loader = new DataLoader({ retry: { baseDelayMs: 100, random: () => 0.5, sleep } });
    expectBars(await loader.load('GARBAGE', source()), 'GARBAGE');
    expect(delays).toEqual([50, 100]);
  });

  it('fails a symbol whose Retry-After is longer than allowed, without waiting', async () => {
    server.script('LONG', [{ status: 429, retryAfter: '3600' }]);
    const { sleep, delays } = recordingSleep();
    const loader = new DataLoader({ retry: { sleep, maxRetryAfterMs: 60_000 } });
    const error = await loader.load('LONG', source()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadFailedError);
    expect((error as LoadFailedError).cause).toBeInstanceOf(HttpStatusError);
    expect(delays).toEqual([]);
  });

  it('times out a slow response, retries, and reports the timeout when every attempt is slow', async () => {
    server.script('SLOW', [{ slowMs: 2000 }, { slowMs: 2000 }]);
    const { sleep } = recordingSleep();
    const loader = new DataLoader({ timeoutMs: 100, retry: { retries: 1, sleep } });
    const error = await loader.load('SLOW', source()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadFailedError);
    expect((error as LoadFailedError).attempts).toBe(2);
    expect((error as LoadFailedError).cause).toBeInstanceOf(LoadTimeoutError);
    expect(server.requests.get('SLOW')).toBe(2);
  });

  it('retries after a connection reset and after a truncated body', async () => {
    server.script('RST', ['reset', 'ok']);
    server.script('TRUNC', ['truncated', 'ok']);
    const { sleep } = recordingSleep();
    const loader = new DataLoader({ retry: { sleep } });
    const { data, failures } = await loader.loadMany(['RST', 'TRUNC'], source());
    expect([...failures.keys()]).toEqual([]);
    expectBars(data.get('RST'), 'RST');
    expectBars(data.get('TRUNC'), 'TRUNC');
    expect(server.requests.get('RST')).toBe(2);
    expect(server.requests.get('TRUNC')).toBe(2);
  });

  it('reports malformed JSON and CSV per symbol, without retrying, and keeps the good symbols', async () => {
    server.script('BADJSON', ['malformed-json']);
    server.script('BADCSV', ['malformed-csv']);
    server.script('UNSORTED', ['unsorted']);
    server.script('GONE', ['404']);
    const loader = new DataLoader({ retry: { sleep: recordingSleep().sleep } });
    const { data, failures } = await loader.loadMany(
      ['GOOD', 'BADJSON', 'BADCSV', 'UNSORTED', 'GONE'],
      source(),
    );
    expect([...data.keys()]).toEqual(['GOOD']);
    expect([...failures.keys()].sort()).toEqual(['BADCSV', 'BADJSON', 'GONE', 'UNSORTED']);
    const json = failures.get('BADJSON')!.cause as DataValidationError;
    expect(json).toBeInstanceOf(DataValidationError);
    expect(json.message).toMatch(/BADJSON.*malformed JSON/);
    const csv = failures.get('BADCSV')!.cause as DataValidationError;
    expect(csv).toMatchObject({ symbol: 'BADCSV', row: 1, field: 'high' });
    expect(csv.message).toContain('"oops"');
    const unsorted = failures.get('UNSORTED')!.cause as DataValidationError;
    expect(unsorted).toMatchObject({ row: 1, field: 'time' });
    expect(unsorted.reason).toContain('unsorted time');
    expect((failures.get('GONE')!.cause as HttpStatusError).status).toBe(404);
    for (const s of ['BADJSON', 'BADCSV', 'UNSORTED', 'GONE'])
      expect(server.requests.get(s)).toBe(1);
  });

  it('reports a time that is not epoch ms or ISO-8601 per symbol, naming row and field, without retrying', async () => {
    server.script('BADTJ', ['bad-time-json']);
    server.script('BADTC', ['bad-time-csv']);
    const loader = new DataLoader({ retry: { sleep: recordingSleep().sleep } });
    const { data, failures } = await loader.loadMany(['BADTJ', 'BADTC', 'FINE'], source());
    expectBars(data.get('FINE'), 'FINE');
    for (const [symbol, time] of [
      ['BADTJ', 'foo 12'],
      ['BADTC', '01/03/2024'],
    ] as const) {
      const cause = failures.get(symbol)!.cause as DataValidationError;
      expect(cause).toBeInstanceOf(DataValidationError);
      expect(cause).toMatchObject({ symbol, row: 1, field: 'time' });
      expect(cause.message).toContain(`invalid time "${time}"`);
      expect(server.requests.get(symbol)).toBe(1);
    }
  });

  it('a throwing onRetry fails only the load it was called for: RetryCallbackError caused by the throw, no retry, nothing cached, no unhandled rejection', async () => {
    await withoutUnhandledRejections(async () => {
      const boom = new Error('onRetry is broken');
      const calls: string[] = [];
      const cache = new LruCache<string, OhlcvColumns>({ max: 100 });
      const loader = new DataLoader({
        cache,
        retry: {
          sleep: recordingSleep().sleep,
          onRetry: (_attempt, _delay, error) => {
            const url = (error as HttpStatusError).url;
            calls.push(url);
            if (url.endsWith('/CBFAIL')) throw boom;
          },
        },
      });
      server.script('CBFAIL', ['500', 'ok']);
      server.script('CBRETRY', ['500', 'ok']);
      const { data, failures } = await loader.loadMany(['CBFAIL', 'CBRETRY', 'CBOK'], templated());
      const error = failures.get('CBFAIL') as RetryCallbackError;
      expect(error).toBeInstanceOf(RetryCallbackError);
      expect(error).toBeInstanceOf(LoadFailedError);
      expect(error.code).toBe('E_LOADER_RETRY_CALLBACK');
      expect(error.cause).toBe(boom);
      expect((error.attemptError as HttpStatusError).status).toBe(500);
      expect(error).toMatchObject({ symbol: 'CBFAIL', attempts: 1 });
      expect(error.message).toContain('onRetry threw (onRetry is broken)');
      // The callback stopped the load: no second request, and nothing cached for it.
      expect(server.requests.get('CBFAIL')).toBe(1);
      expectBars(data.get('CBRETRY'), 'CBRETRY');
      expectBars(data.get('CBOK'), 'CBOK');
      expect(server.requests.get('CBRETRY')).toBe(2);
      expect(calls).toHaveLength(2);
      expect(loader.stats.retries).toBe(1);
      expect(cache.size).toBe(2);
      // A direct load rejects the same way, and a later load starts afresh.
      server.script('CBFAIL', ['500', 'ok']);
      await expect(loader.load('CBFAIL', templated())).rejects.toMatchObject({
        code: 'E_LOADER_RETRY_CALLBACK',
        cause: boom,
      });
      expectBars(await loader.load('CBFAIL', templated()), 'CBFAIL');
    });
  });

  it('a throwing isRetryable, or a sleep that throws or rejects, fails only that load: RetryCallbackError caused by it, no retry, nothing cached, no unhandled rejection', async () => {
    await withoutUnhandledRejections(async () => {
      const judgeBroke = new Error('isRetryable is broken');
      const sleepThrew = new Error('sleep threw');
      const sleepRejected = new Error('sleep rejected');
      // onRetry runs right before the sleep, in the same tick: it tells the sleep whose wait it is.
      let retrying = '';
      const cache = new LruCache<string, OhlcvColumns>({ max: 100 });
      const loader = new DataLoader({
        cache,
        retry: {
          isRetryable: (error) => {
            if ((error as HttpStatusError).url.endsWith('/IRFAIL')) throw judgeBroke;
            return isTransient(error);
          },
          onRetry: (_attempt, _delay, error) => {
            retrying = (error as HttpStatusError).url;
          },
          sleep: (ms) => {
            if (retrying.endsWith('/SLTHROW')) throw sleepThrew;
            if (retrying.endsWith('/SLREJECT')) return Promise.reject(sleepRejected);
            return new Promise((r) => setTimeout(r, Math.min(ms, 1)));
          },
        },
      });
      const failing = [
        ['IRFAIL', judgeBroke, 'isRetryable', 'isRetryable threw (isRetryable is broken)'],
        ['SLTHROW', sleepThrew, 'sleep', 'sleep failed (sleep threw)'],
        ['SLREJECT', sleepRejected, 'sleep', 'sleep failed (sleep rejected)'],
      ] as const;
      for (const [symbol] of failing) server.script(symbol, ['500', 'ok']);
      server.script('RETRIED', ['500', 'ok']);
      const { data, failures } = await loader.loadMany(
        [...failing.map(([symbol]) => symbol), 'RETRIED', 'PLAIN'],
        templated(),
      );
      for (const [symbol, cause, callback, message] of failing) {
        const error = failures.get(symbol) as RetryCallbackError;
        expect(error, symbol).toBeInstanceOf(RetryCallbackError);
        expect(error, symbol).toBeInstanceOf(LoadFailedError);
        expect(error, symbol).toMatchObject({
          code: 'E_LOADER_RETRY_CALLBACK',
          callback,
          symbol,
          attempts: 1,
        });
        expect(error.cause, symbol).toBe(cause);
        expect((error.attemptError as HttpStatusError).status, symbol).toBe(500);
        expect(error.message, symbol).toContain(message);
        // No second request, and nothing cached.
        expect(server.requests.get(symbol), symbol).toBe(1);
      }
      expectBars(data.get('RETRIED'), 'RETRIED');
      expectBars(data.get('PLAIN'), 'PLAIN');
      expect(server.requests.get('RETRIED')).toBe(2);
      expect(cache.size).toBe(2);
      // Only the retry that was made counts: a failed wait made none.
      expect(loader.stats.retries).toBe(1);
      // A direct load rejects the same way.
      server.script('SLREJECT', ['500', 'ok']);
      await expect(loader.load('SLREJECT', templated())).rejects.toMatchObject({
        code: 'E_LOADER_RETRY_CALLBACK',
        callback: 'sleep',
        cause: sleepRejected,
      });
    });
  });

  it('a sleep that fails while a load waits for a rate-limit token fails only that load: RetryCallbackError naming sleep and the rate limit, no request, nothing cached, and later loads still run at the full concurrency', async () => {
    await withoutUnhandledRejections(async () => {
      const sleepBroke = new Error('sleep is broken');
      const cache = new LruCache<string, OhlcvColumns>({ max: 100 });
      // One token a second, and a rate-limit key per symbol group: only a load that shares its
      // group with an earlier one, or retries, waits for a token. Those waits fail at once;
      // backoff waits (0 ms, as random is 0) pass.
      const loader = new DataLoader({
        cache,
        concurrency: 2,
        rateLimit: { ratePerSec: 1, burst: 1 },
        retry: {
          random: () => 0,
          sleep: (ms) => (ms > 0 ? Promise.reject(sleepBroke) : Promise.resolve()),
        },
      });
      const source = { ...templated(), rateKey: (symbol: string) => symbol.split('-')[0]! };
      server.script('RLR-1', ['500', 'ok']);
      const { data, failures } = await loader.loadMany(
        ['RLA-1', 'RLA-2', 'RLR-1', 'RLB-1', 'RLC-1'],
        source,
      );
      expect([...failures.keys()].sort()).toEqual(['RLA-2', 'RLR-1']);
      for (const symbol of ['RLA-1', 'RLB-1', 'RLC-1']) expectBars(data.get(symbol), symbol);

      // Waiting for its first token: no attempt made, so no request either.
      const first = failures.get('RLA-2') as RetryCallbackError;
      expect(first).toBeInstanceOf(RetryCallbackError);
      expect(first).toBeInstanceOf(LoadFailedError);
      expect(first).toMatchObject({
        code: 'E_LOADER_RETRY_CALLBACK',
        callback: 'sleep',
        during: 'rateLimit',
        rateLimitKey: 'RLA',
        symbol: 'RLA-2',
        attempts: 0,
        attemptError: undefined,
      });
      expect(first.cause).toBe(sleepBroke);
      expect(first.message).toBe(
        'Loading RLA-2 failed after 0 attempts: sleep failed (sleep is broken) waiting for a ' +
          'rate-limit token for "RLA" before attempt 1',
      );
      expect(server.requests.get('RLA-2')).toBeUndefined();

      // Waiting for the token of its retry: the 500 was the last attempt's error, and the retry
      // was neither made nor counted.
      const retry = failures.get('RLR-1') as RetryCallbackError;
      expect(retry).toBeInstanceOf(RetryCallbackError);
      expect(retry).toMatchObject({
        callback: 'sleep',
        during: 'rateLimit',
        rateLimitKey: 'RLR',
        attempts: 1,
      });
      expect(retry.cause).toBe(sleepBroke);
      expect((retry.attemptError as HttpStatusError).status).toBe(500);
      expect(retry.message).toContain(
        'waiting for a rate-limit token for "RLR" before attempt 2 (attempt 1 failed: GET ',
      );
      expect(server.requests.get('RLR-1')).toBe(1);
      expect(loader.stats).toMatchObject({ retries: 0, loaded: 3, failed: 2 });
      expect(cache.size).toBe(3);

      // No concurrency slot was kept by a failed wait: later loads run two at a time again.
      expect(loader.active).toBe(0);
      server.okDelayMs = 20;
      server.inFlight.peak = 0;
      const later = await loader.loadMany(
        Array.from({ length: 8 }, (_, i) => `RLN${i}-1`),
        source,
      );
      expect(later.failures.size).toBe(0);
      expect(later.data.size).toBe(8);
      expect(server.inFlight.peak).toBe(2);
      expect(loader.active).toBe(0);
    });
  });

  it('a sleep that rejects because the signal aborted during a rate-limit wait is an abort, not a callback failure', async () => {
    const controller = new AbortController();
    const policy = resolveRetryPolicy({});
    let attempts = 0;
    const waited: string[] = [];
    const running = withRetry(
      'RLABORT',
      policy,
      () => {
        attempts++;
        return Promise.resolve('loaded');
      },
      controller.signal,
      {
        key: () => 'api.example.com',
        // Rejects with the signal's own reason, as node:timers/promises does.
        acquire: (key, signal) => {
          waited.push(key);
          setTimeout(() => controller.abort(new Error('caller gave up')), 5);
          return new Promise((_resolve, reject) =>
            signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
          );
        },
      },
    );
    const error = await running.catch((e: unknown) => e);
    expect(waited).toEqual(['api.example.com']);
    expect(attempts).toBe(0);
    expect(error).toBeInstanceOf(LoadAbortedError);
    expect(error).not.toBeInstanceOf(RetryCallbackError);
  });

  it('a sleep that rejects because the signal aborted is an abort, not a callback failure', async () => {
    const controller = new AbortController();
    const policy = resolveRetryPolicy({
      // Rejects with the signal's own reason, as node:timers/promises does.
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) =>
          signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true }),
        ),
    });
    const running = withRetry(
      'ABORTED',
      policy,
      () => {
        setTimeout(() => controller.abort(new Error('caller gave up')), 5);
        return Promise.reject(new HttpStatusError(`${server.url}/bars/ABORTED`, 503, undefined));
      },
      controller.signal,
    );
    const error = await running.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadAbortedError);
    expect(error).not.toBeInstanceOf(RetryCallbackError);
  });

  it('caches successes only: a failed load is not cached, and a later success is', async () => {
    const cache = new LruCache<string, OhlcvColumns>({ max: 100 });
    server.script('FLAKY', ['malformed-json', 'ok']);
    const loader = new DataLoader({ cache });
    await expect(loader.load('FLAKY', templated())).rejects.toBeInstanceOf(LoadFailedError);
    expect(cache.size).toBe(0);
    expectBars(await loader.load('FLAKY', templated()), 'FLAKY');
    expect(cache.size).toBe(1);
    expectBars(await loader.load('FLAKY', templated()), 'FLAKY');
    expect(server.requests.get('FLAKY')).toBe(2);
    expect(loader.stats.cacheHits).toBe(1);
  });

  it('keeps a load that succeeded when the cache write fails, with no unhandled rejection', async () => {
    // A MultiLevelCache closed while a load is in flight rejects the write.
    await withoutUnhandledRejections(async () => {
      const cache = new MultiLevelCache();
      server.okDelayMs = 30;
      const loader = new DataLoader({ cache });
      const loading = loader.load('CLOSED', templated());
      await new Promise((r) => setTimeout(r, 5));
      await cache.close();
      expectBars(await loading, 'CLOSED');
    });
  });

  it('de-duplicates concurrent loads of one symbol from one source into one request', async () => {
    server.okDelayMs = 10;
    const loader = new DataLoader();
    const shared = source();
    const results = await Promise.all(Array.from({ length: 25 }, () => loader.load('DUP', shared)));
    expect(server.requests.get('DUP')).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(loader.stats.deduplicated).toBe(24);
  });

  it('does not retry a non-idempotent source unless asked', async () => {
    const post = { ...source(), idempotent: false };
    server.script('NI', ['500', 'ok']);
    const loader = new DataLoader({ retry: { sleep: recordingSleep().sleep } });
    await expect(loader.load('NI', post)).rejects.toBeInstanceOf(LoadFailedError);
    expect(server.requests.get('NI')).toBe(1);
    server.script('NI2', ['500', 'ok']);
    const retrying = new DataLoader({
      retryNonIdempotent: true,
      retry: { sleep: recordingSleep().sleep },
    });
    expectBars(await retrying.load('NI2', post), 'NI2');
    expect(server.requests.get('NI2')).toBe(2);
  });

  it('keeps a per-host rate limit: by any time t, at most burst + rate·t requests have started', async () => {
    // Checked where the limiter acts, at the moment each request is sent: the server's arrival times
    // add the network's and the scheduler's jitter, which can bunch requests up on a loaded machine.
    // The limiter reserves a start time for each request (the burst at once, then 1/rate apart)
    // and never starts one before it. Its timers can fire late together after a stall, so starts
    // are checked against that schedule, counted from before the first request was asked for,
    // rather than counted per 100 ms window.
    const inner = source();
    const starts: number[] = [];
    const timed = {
      ...inner,
      load: (symbol: string, ctx: { signal: AbortSignal }) => {
        starts.push(performance.now());
        return inner.load(symbol, ctx);
      },
    };
    const loader = new DataLoader({ concurrency: 16, rateLimit: { ratePerSec: 50, burst: 2 } });
    const asked = performance.now();
    const { data } = await loader.loadMany(
      Array.from({ length: 15 }, (_, i) => `RL${i}`),
      timed,
    );
    expect(data.size).toBe(15);
    expect(starts).toHaveLength(15);
    expect(server.arrivals).toHaveLength(15);
    // The k-th start (0-based) is due no sooner than (k + 1 - burst) / rate after `asked`.
    const sorted = [...starts].sort((x, y) => x - y);
    const early = sorted
      .map((t, k) => ({ k, at: t - asked, due: (Math.max(0, k + 1 - 2) / 50) * 1000 }))
      .filter(({ at, due }) => at < due - 0.5);
    expect(early).toEqual([]);
    // So the 15th cannot start sooner than (15 - 2) / 50 s after the loads were asked for.
    expect(sorted[14]! - asked).toBeGreaterThanOrEqual(((15 - 2) / 50) * 1000 - 0.5);
  });

  it('aborts: loadMany rejects, queued loads never start, running requests are cancelled', async () => {
    // Responses take 2 s, so both requests are still running when the abort comes.
    server.okDelayMs = 2000;
    const abortedBefore = server.aborted;
    const loader = new DataLoader({ concurrency: 2 });
    const controller = new AbortController();
    const run = loader.loadMany(
      Array.from({ length: 10 }, (_, i) => `AB${i}`),
      source(),
      { signal: controller.signal },
    );
    const startedNow = () => [...server.requests.keys()].filter((k) => k.startsWith('AB')).length;
    // Abort once both running requests have reached the server, however long that takes.
    const arrived = performance.now() + 10_000;
    while (startedNow() < 2 && performance.now() < arrived)
      await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error('user cancelled'));
    await expect(run).rejects.toBeInstanceOf(LoadAbortedError);
    expect(startedNow()).toBe(2);
    // The server sees both connections go away before their responses were written (a response
    // that completes is never counted in `aborted`).
    const deadline = performance.now() + 4000;
    while (server.aborted - abortedBefore < 2 && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    expect(server.aborted - abortedBefore).toBe(2);
    expect(server.inFlight.now).toBe(0);
    expect(startedNow()).toBe(2);
  });
});
