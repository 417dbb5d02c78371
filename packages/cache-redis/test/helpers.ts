import { randomBytes } from 'node:crypto';
import { deleteKeys, requireRedis, type TestRedis } from '@peaktrade/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

/** A unique key prefix per test file run, so parallel test files never collide. */
export function testPrefix(label: string): string {
  return `pt-test:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Delete every key under a prefix. */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  await deleteKeys(url, `${prefix}*`);
}

/** Resolve after `ms` milliseconds. */
export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `check` every 10 ms until it returns true or `timeoutMs` passes; resolves whether it did. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await check()) return true;
    await delay(10);
  }
  return check();
}

/** What {@link useRedis} gives a test file once its `beforeAll` has run. */
export interface RedisFixture {
  /** The test Redis (from `requireRedis`). */
  readonly redis: TestRedis | undefined;
  /** A plain ioredis connection to it, for reading what the tiers wrote. */
  readonly admin: Redis;
}

/**
 * Registers this file's `beforeAll`/`afterAll`: the test Redis plus an admin connection, and at
 * the end closes `tiers` (pushed to by the tests), deletes every key under `prefix` and stops
 * a private server if one was started.
 */
export function useRedis(
  prefix: string,
  tiers: readonly { close(): Promise<void> }[] = [],
): RedisFixture {
  const fixture: { redis: TestRedis | undefined; admin: Redis } = {
    redis: undefined,
    admin: undefined as unknown as Redis,
  };
  beforeAll(async () => {
    fixture.redis = await requireRedis();
    if (fixture.redis) fixture.admin = new Redis(fixture.redis.url);
  });
  afterAll(async () => {
    const redis = fixture.redis;
    if (!redis) return;
    await Promise.all(tiers.map((t) => t.close()));
    await dropPrefix(redis.url, prefix);
    await fixture.admin.quit();
    await redis.stop();
  });
  return fixture;
}
