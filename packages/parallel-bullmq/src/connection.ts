import { Redis, type RedisOptions } from 'ioredis';
import { RedisUnavailableError } from './errors.js';

/** A Redis connection: a URL, ioredis options, or a client (not closed by this package). */
export type ConnectionInput = string | RedisOptions | Redis;

/**
 * Open a client BullMQ can use (`maxRetriesPerRequest: null` is BullMQ's requirement for
 * blocking commands) and make sure Redis answers within `timeoutMs`.
 * @throws {RedisUnavailableError} naming the target when it does not.
 */
export async function connect(
  input: ConnectionInput,
  timeoutMs = 5_000,
): Promise<{ redis: Redis; owned: boolean; target: string }> {
  if (input instanceof Redis)
    return { redis: input, owned: false, target: describe(input.options) };
  const options: RedisOptions = {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    enableReadyCheck: true,
  };
  const redis =
    typeof input === 'string' ? new Redis(input, options) : new Redis({ ...input, ...options });
  const target = typeof input === 'string' ? input : describe(input);
  redis.on('error', () => {});
  try {
    await withTimeout(redis.connect(), timeoutMs, `no answer within ${timeoutMs} ms`);
    await withTimeout(redis.ping(), timeoutMs, `no PONG within ${timeoutMs} ms`);
  } catch (cause) {
    redis.disconnect();
    throw new RedisUnavailableError(target, { cause });
  }
  return { redis, owned: true, target };
}

function describe(o: RedisOptions): string {
  return `redis://${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
