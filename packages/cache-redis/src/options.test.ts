import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { testPrefix, useRedis } from '../test/helpers.js';
import { CircuitBreaker, RedisOptionError, RedisTier, type RedisTierOptions } from './index.js';

const prefix = testPrefix('options');
const fx = useRedis(prefix);

/** The option a constructor call refuses, or undefined when it builds (the tier is closed again). */
function refused(options: RedisTierOptions): string | undefined {
  try {
    void new RedisTier({ bus: false, ...options }).close();
    return undefined;
  } catch (error) {
    if (!(error instanceof RedisOptionError)) throw error;
    return error.option;
  }
}

describe('timer and lease options', () => {
  it('refuses timers beyond 2^31 - 1 ms, which Node would fire after 1 ms', () => {
    expect(refused({ commandTimeoutMs: 2 ** 31 })).toBe('commandTimeoutMs');
    expect(refused({ singleFlight: { pollMs: 2 ** 31 } })).toBe('singleFlight.pollMs');
    expect(refused({ commandTimeoutMs: 2 ** 31 - 1, singleFlight: { pollMs: 2 ** 31 - 1 } })).toBe(
      undefined,
    );
  });

  it('refuses a lease Redis cannot take, and non-number durations', () => {
    expect(refused({ singleFlight: { leaseMs: 1e300 } })).toBe('singleFlight.leaseMs');
    expect(refused({ singleFlight: { waitMs: Infinity } })).toBe('singleFlight.waitMs');
    expect(refused({ commandTimeoutMs: '50' as never })).toBe('commandTimeoutMs');
    expect(() => new RedisTier({ commandTimeoutMs: Number.NaN, bus: false })).toThrow(
      'Invalid option commandTimeoutMs = NaN:',
    );
  });

  it('refuses a breaker cool-down that would never let a probe through, and non-number windows', () => {
    expect(() => new CircuitBreaker({ cooldownMs: Infinity })).toThrow(
      'Invalid option breaker.cooldownMs = Infinity:',
    );
    // A string used to pass `> 0` and then concatenate: openedAt + '100' - now.
    expect(() => new CircuitBreaker({ cooldownMs: '100' as never })).toThrow(/cooldownMs/);
    expect(() => new CircuitBreaker({ windowMs: '1000' as never })).toThrow(/windowMs/);
  });

  it('refuses a ready() timeout that is not a usable timer, naming it', async () => {
    const tier = new RedisTier({ url: fx.redis!.url, keyPrefix: prefix, bus: false });
    try {
      for (const timeoutMs of [-1, Number.NaN, 2 ** 31, '5000' as never]) {
        await expect(tier.ready(timeoutMs)).rejects.toThrow(/Invalid option timeoutMs/);
      }
      // 0 asks whether it is ready now.
      await tier.ready(5_000);
      expect(await tier.ready(0)).toBe(tier);
    } finally {
      await tier.close();
    }
  });
});

describe('url', () => {
  it('refuses a URL ioredis cannot parse, or a database index that is not an integer, by name', () => {
    for (const url of [
      'redis://127.0.0.1:99999',
      'redis://127.0.0.1:0',
      'redis://127.0.0.1:abc',
      'redis://:6379',
      // ioredis sends SELECT NaN for this and leaves the refusal as an unhandled rejection.
      'redis://127.0.0.1:6379/abc',
      'redis://127.0.0.1:6379/-1',
      'redis://127.0.0.1:6379?db=x',
      6379 as never,
    ]) {
      expect(refused({ url }), String(url)).toBe('url');
    }
    expect(refused({ url: 'redis://127.0.0.1:6379/3' })).toBe(undefined);
    expect(refused({ url: 'redis://127.0.0.1?db=3' })).toBe(undefined);
  });

  it('refuses a database index the server does not have, and writes nothing to database 0', async () => {
    const [, databases] = (await fx.admin.config('GET', 'databases')) as [string, string];
    // One past the last database: ioredis's SELECT fails and it carried on in database 0.
    const url = `redis://${fx.redis!.host}:${fx.redis!.port}/${databases}`;
    const tier = new RedisTier({ url, keyPrefix: prefix, namespace: 'db', commandTimeoutMs: 1000 });
    try {
      const ready = tier.ready(5_000);
      await expect(ready).rejects.toBeInstanceOf(RedisOptionError);
      await expect(ready).rejects.toThrow(/option url = .*SELECT failed: .*DB index/);
      await expect(tier.set('k', 'v')).rejects.toThrow();
      expect(await fx.admin.exists(tier.keyOf('k'))).toBe(0);
      expect(tier.stats().errors).toBeGreaterThan(0);
    } finally {
      await tier.close();
    }
  });
});

describe('url together with client', () => {
  it('refuses a url given with a client, instead of ignoring it, and hides its password', async () => {
    // The client points at the test Redis; the url at a database the client is not in.
    const client = new Redis(fx.redis!.url, { lazyConnect: true });
    try {
      let error: unknown;
      try {
        void new RedisTier({ client, url: 'redis://user:s3cret@127.0.0.1:6379/5', bus: false });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(RedisOptionError);
      expect((error as RedisOptionError).option).toBe('url');
      expect((error as Error).message).toMatch(/Invalid option url = .*: expected .*client/);
      expect((error as Error).message).not.toContain('s3cret');
      // Either one alone is fine; an explicit `url: undefined` counts as none.
      const tier = new RedisTier({
        client,
        url: undefined as never,
        keyPrefix: prefix,
        bus: false,
      });
      await tier.close();
    } finally {
      client.disconnect();
    }
  });
});

describe('commandTimeoutMs together with client', () => {
  it('refuses commandTimeoutMs given with a client, naming both options, instead of ignoring it', () => {
    // ioredis times a client's commands out after its own commandTimeout; this one has none.
    const client = new Redis(fx.redis!.url, { lazyConnect: true });
    try {
      let error: unknown;
      try {
        void new RedisTier({ client, commandTimeoutMs: 100, bus: false });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(RedisOptionError);
      expect((error as RedisOptionError).option).toBe('commandTimeoutMs');
      expect((error as Error).message).toMatch(
        /^Invalid option commandTimeoutMs = 100: expected no commandTimeoutMs when a client is given: set ioredis’s commandTimeout on that client/,
      );
      // Refused whatever its value, before the value itself is checked.
      expect(refused({ client, commandTimeoutMs: 50 })).toBe('commandTimeoutMs');
      expect(refused({ client, commandTimeoutMs: Number.NaN })).toBe('commandTimeoutMs');
      // The client alone is fine, and so is an explicit `commandTimeoutMs: undefined`.
      expect(refused({ client, keyPrefix: prefix })).toBe(undefined);
      expect(refused({ client, keyPrefix: prefix, commandTimeoutMs: undefined as never })).toBe(
        undefined,
      );
      // The user's client keeps its own settings.
      expect(client.options.commandTimeout).toBe(undefined);
    } finally {
      client.disconnect();
    }
  });
});

describe('rejected urls in error messages', () => {
  it('never show the password, from user info or a password query parameter', () => {
    const urls = [
      'redis://user:s3cret@127.0.0.1:0', // port 0
      'redis://:s3cret@127.0.0.1:6379/abc', // database index that is not a number
      'redis://user:s3cret@[bad', // not a URL at all
      'redis-sentinel://127.0.0.1:26379?password=s3cret', // no master name
      'redis-cluster://?password=s3cret', // no hosts
      'memcached://user:s3cret@127.0.0.1', // unknown scheme
    ];
    for (const url of urls) {
      let error: unknown;
      try {
        void new RedisTier({ url, bus: false }).close();
      } catch (caught) {
        error = caught;
      }
      expect(error, url).toBeInstanceOf(RedisOptionError);
      expect((error as RedisOptionError).option).toBe('url');
      expect((error as Error).message, url).not.toContain('s3cret');
      expect((error as Error).message, url).toContain('***');
    }
  });
});
