import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** A unique key prefix per test file run, so parallel test files never collide. */
export function testPrefix(label: string): string {
  return `pt-test:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Delete every key under a prefix. */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const admin = new Redis(url);
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.unlink(...keys);
  } while (cursor !== '0');
  await admin.quit();
}

/** Resolve after `ms` milliseconds. */
export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `check` every 10 ms until it returns true or `timeoutMs` passes; resolves whether it did. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await check()) return true;
    await delay(10);
  }
  return check();
}
