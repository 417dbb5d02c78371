import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./fixtures/cache-child.mjs', import.meta.url));

/** A cache process driven over IPC. */
export interface CacheChild {
  call<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
  readonly process: ChildProcess;
}

/** Start a child process holding an L1 + RedisTier MultiLevelCache. */
export async function startCacheChild(settings: {
  url: string;
  prefix: string;
  timeoutMs?: number;
}): Promise<CacheChild> {
  const child = fork(script, [JSON.stringify(settings)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`cache child exited with ${code} before it was ready`)),
    );
    child.on(
      'message',
      (msg: { ready?: true; id?: number; ok?: boolean; value?: unknown; error?: string }) => {
        if (msg.ready) {
          resolve();
          return;
        }
        const p = pending.get(msg.id!);
        pending.delete(msg.id!);
        if (msg.ok) p?.resolve(msg.value);
        else p?.reject(new Error(msg.error));
      },
    );
  });
  return {
    process: child,
    call: <T>(cmd: string, args: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve, reject });
        child.send({ id, cmd, ...args });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ cmd: 'exit' });
      }),
  };
}
