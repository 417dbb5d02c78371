import { randomBytes } from 'node:crypto';
import { deleteKeys } from '@peaktrade/test-redis';

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
