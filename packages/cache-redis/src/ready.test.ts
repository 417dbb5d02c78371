import { startPrivateRedis, type TestRedis } from '@peaktrade/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delay, eventually } from '../test/helpers.js';
import { RedisCommandError, RedisTier, type RedisTierEvents } from './index.js';

// A private redis-server: these tests change its ACL users and client limit, which must not
// disturb anyone sharing the Redis at REDIS_URL.
let server: TestRedis | undefined;
let admin: Redis;

beforeAll(async () => {
  server = await startPrivateRedis();
  admin = new Redis(server.url);
  // A user that may run every command but SUBSCRIBE: its bus connection connects, then fails.
  await admin.acl('SETUSER', 'nosub', 'on', '>nosub-pw', '~*', '&*', '+@all', '-subscribe');
}, 30_000);

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

// Each test has its own vitest timeout, far below the ready() timeouts it passes: a ready() that
// never settles fails the test instead of stalling the suite, and one that settles only at its
// deadline fails the assertion on why it rejected.
describe('ready() when the invalidation bus fails', () => {
  it('rejects with the subscribe error when the bus cannot subscribe, instead of hanging', async () => {
    const tier = new RedisTier({
      url: `redis://nosub:nosub-pw@127.0.0.1:${server!.port}`,
      keyPrefix: 'ready:',
      commandTimeoutMs: 1000,
    });
    const degraded: RedisTierEvents['degraded'][0][] = [];
    tier.on('degraded', (event) => degraded.push(event));
    try {
      const ready = tier.ready(60_000);
      await expect(ready).rejects.toBeInstanceOf(RedisCommandError);
      await expect(ready).rejects.toThrow(/subscribe ready:__bus failed: NOPERM/);
      // Counted and emitted, and stats() no longer says "connecting".
      expect(tier.stats()).toMatchObject({ bus: 'disconnected' });
      expect(tier.stats().errors).toBeGreaterThanOrEqual(1);
      expect(degraded.map((d) => d.op)).toContain('subscribe');
      // Asked again after the failure, it rejects at once with the same reason.
      await expect(tier.ready(60_000)).rejects.toThrow(/NOPERM/);
      // Commands still work: only the bus is down.
      await tier.set('k', 'v', { ttlMs: 10_000 });
      expect(await tier.get('k')).toBe('v');
    } finally {
      await tier.close();
    }
  }, 10_000);

  it('rejects at once when the bus connection is closed for good before it subscribes', async () => {
    // A client that never reconnects; the tier's bus connection is a duplicate of it.
    const client = new Redis(server!.url, { retryStrategy: () => null });
    let tier: RedisTier | undefined;
    try {
      await new Promise<void>((resolve) => client.once('ready', () => resolve()));
      // No room for one more connection: the server refuses the bus connection and closes it.
      const list = (await admin.client('LIST')) as string;
      await admin.config('SET', 'maxclients', String(list.trim().split('\n').length));
      tier = new RedisTier({ client, keyPrefix: 'ready-end:' });
      const ready = tier.ready(60_000);
      await expect(ready).rejects.toThrow(/closed before it subscribed/);
    } finally {
      await admin.config('SET', 'maxclients', '10000');
      await tier?.close();
      client.disconnect();
    }
  }, 10_000);

  it('rejects a pending ready() when the tier is closed, instead of waiting out its timeout', async () => {
    // Nothing listens on port 1: the connection keeps retrying.
    const tier = new RedisTier({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 20 });
    const ready = tier.ready(60_000);
    await tier.close();
    await expect(ready).rejects.toThrow(/the tier is closed/);
  }, 10_000);
});

describe('the bus after a failed subscribe', () => {
  /** Ids of the server's connections logged in as `user`. */
  async function connectionsOf(user: string): Promise<string[]> {
    const list = (await admin.client('LIST')) as string;
    return list
      .trim()
      .split('\n')
      .filter((line) => line.includes(` user=${user} `))
      .map((line) => /\bid=(\d+)/.exec(line)![1]!)
      .sort();
  }

  it('retries the subscribe while the tier is open, and invalidations arrive once SUBSCRIBE is allowed, without a reconnect', async () => {
    await admin.acl('SETUSER', 'latesub', 'on', '>latesub-pw', '~*', '&*', '+@all', '-subscribe');
    const tier = new RedisTier({
      url: `redis://latesub:latesub-pw@127.0.0.1:${server!.port}`,
      keyPrefix: 'retry:',
      commandTimeoutMs: 1000,
    });
    const writer = new RedisTier({ url: server!.url, keyPrefix: 'retry:', commandTimeoutMs: 1000 });
    const degraded: string[] = [];
    const busEvents: string[] = [];
    const invalidated: (readonly string[] | 'all')[] = [];
    tier.on('degraded', (event) => degraded.push(event.op));
    tier.on('bus', (event) => busEvents.push(event));
    tier.onInvalidate((keys) => invalidated.push(keys));
    try {
      await expect(tier.ready(5_000)).rejects.toThrow(/NOPERM/);
      await writer.ready(5_000);
      const connections = await connectionsOf('latesub');
      expect(connections).toHaveLength(2);
      // Still denied: it keeps trying (each attempt counted and emitted), and hears nothing.
      expect(
        await eventually(() => degraded.filter((op) => op === 'subscribe').length >= 3, 5_000),
      ).toBe(true);
      await writer.set('before', 1);
      expect(tier.stats().bus).toBe('disconnected');
      expect(invalidated).toEqual([]);

      await admin.acl('SETUSER', 'latesub', '+subscribe');
      expect(await eventually(() => tier.stats().bus === 'connected', 8_000)).toBe(true);
      expect(busEvents).toEqual(['connected']);
      // Whatever L1 read while the bus was deaf may be stale: one full flush.
      expect(invalidated).toEqual(['all']);
      await expect(tier.ready(1_000)).resolves.toBe(tier);
      await writer.set('after', 2);
      expect(await eventually(() => invalidated.some((k) => k !== 'all' && k[0] === 'after'))).toBe(
        true,
      );
      // The same two connections: the subscribe was retried on the open connection.
      expect(await connectionsOf('latesub')).toEqual(connections);
    } finally {
      await Promise.all([tier.close(), writer.close()]);
    }
  }, 20_000);

  it('stops retrying when the tier is closed', async () => {
    const tier = new RedisTier({
      url: `redis://nosub:nosub-pw@127.0.0.1:${server!.port}`,
      keyPrefix: 'retry-close:',
      commandTimeoutMs: 1000,
    });
    let attempts = 0;
    tier.on('degraded', (event) => {
      if (event.op === 'subscribe') attempts++;
    });
    await expect(tier.ready(5_000)).rejects.toThrow(/NOPERM/);
    expect(await eventually(() => attempts >= 2, 5_000)).toBe(true);
    await tier.close();
    const after = attempts;
    await delay(1_500);
    expect(attempts).toBe(after);
    expect(await connectionsOf('nosub')).toEqual([]);
  }, 15_000);
});
