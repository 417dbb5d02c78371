import { startPrivateRedis, type TestRedis } from '@peaktrade/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisTier, type RedisTierOptions } from '../index.js';

/** What {@link usePrivateRedis} gives a test file. */
export interface PrivateRedis {
  /** The server's URL (valid inside tests). */
  url(): string;
  /** A plain client on the server, for setup and inspection (valid inside tests). */
  admin(): Redis;
  /** A tier on the server (`url` filled in, `commandTimeoutMs` 5 s unless given), closed after the file. */
  tier(options: RedisTierOptions): RedisTier;
  /** Close these tiers after the file too. */
  track(...tiers: RedisTier[]): void;
  /**
   * How many times the server ran `command` (or, with `failed_calls`, answered it with an error such
   * as NOSCRIPT) since the last CONFIG RESETSTAT, from INFO commandstats.
   */
  calls(command: string, field?: 'calls' | 'failed_calls'): Promise<number>;
}

/**
 * A redis-server of the test file's own, started before its tests and stopped after them with every
 * tier made through it: for tests that read server-wide state (INFO, CONFIG, every key of a
 * database) or need server flags, which a shared Redis cannot offer.
 */
export function usePrivateRedis(args: readonly string[] = []): PrivateRedis {
  let server: TestRedis | undefined;
  let admin: Redis | undefined;
  const opened: RedisTier[] = [];
  beforeAll(async () => {
    server = await startPrivateRedis(args.length > 0 ? { args: [...args] } : {});
    admin = new Redis(server.url);
  }, 30_000);
  afterAll(async () => {
    await Promise.all(opened.map((t) => t.close()));
    admin?.disconnect();
    await server?.stop();
  });
  return {
    url: () => server!.url,
    admin: () => admin!,
    tier(options) {
      const tier = new RedisTier({ url: server!.url, commandTimeoutMs: 5_000, ...options });
      opened.push(tier);
      return tier;
    },
    track: (...tiers) => void opened.push(...tiers),
    async calls(command, field = 'calls') {
      const info = await admin!.info('commandstats');
      const line = new RegExp(`^cmdstat_${command}:(.*)$`, 'm').exec(info)?.[1] ?? '';
      return Number(new RegExp(`(?:^|,)${field}=(\\d+)`).exec(line)?.[1] ?? 0);
    },
  };
}
