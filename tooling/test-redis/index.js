// Test helper shared by the Redis-backed packages (cache-redis, parallel-bullmq).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function pingRedis(host, port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(String(d).startsWith('+PONG')));
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function hasRedisServer() {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function startPrivateRedis(options = {}) {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'pt-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...(options.args ?? []),
    ],
    { stdio: 'ignore' },
  );
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  for (let i = 0; i < 100 && !exited; i++) {
    if (await pingRedis('127.0.0.1', port, 200)) {
      return {
        url: `redis://127.0.0.1:${port}`,
        host: '127.0.0.1',
        port,
        private: true,
        pid: child.pid,
        stop: () =>
          new Promise((resolve) => {
            if (exited) {
              rmSync(dir, { recursive: true, force: true });
              resolve();
              return;
            }
            child.once('exit', () => {
              rmSync(dir, { recursive: true, force: true });
              resolve();
            });
            child.kill('SIGKILL');
          }),
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on 127.0.0.1:${port}`);
}

export async function findOrStartRedis() {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await pingRedis(host, port)) {
    return { url: url.href, host, port, private: false, stop: () => Promise.resolve() };
  }
  if (hasRedisServer()) return startPrivateRedis();
  return undefined;
}

export async function requireRedis() {
  const redis = await findOrStartRedis();
  if (redis) return redis;
  const why = `no Redis answers at ${process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'} and no redis-server binary is installed`;
  if (process.env.CI) throw new Error(`Redis is required in CI: ${why}`);
  console.warn(`\n*** SKIPPING Redis tests: ${why} ***\n`);
  return undefined;
}

export async function deleteKeys(url, ...patterns) {
  // ioredis is a dependency of every package that uses this helper; load it lazily.
  const { Redis } = await import('ioredis');
  const admin = new Redis(url);
  let removed = 0;
  try {
    for (const pattern of patterns) {
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) removed += await admin.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    await admin.quit().catch(() => admin.disconnect());
  }
  return removed;
}
