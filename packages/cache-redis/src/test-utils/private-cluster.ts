import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { startPrivateRedis, type TestRedis } from '@peaktrade/test-redis';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisTier, type RedisTierOptions } from '../index.js';

const run = promisify(execFile);

/** Whether a binary runs with `--version`. */
function has(binary: string): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Why the cluster tests skip, or undefined when they run. They need the redis-server and redis-cli
 * binaries (Debian's redis-server package), which are system packages, not npm dependencies. Under
 * CI (`CI=true`) they never skip: a missing binary fails the file instead.
 */
export const clusterSkipReason: string | undefined =
  process.env.CI !== 'true' && !(has('redis-server') && has('redis-cli'))
    ? 'no redis-server and redis-cli binaries to start a local Redis Cluster (apt-get install -y redis-server)'
    : undefined;
if (clusterSkipReason !== undefined)
  console.warn(`[cache-redis] Redis Cluster tests skipped: ${clusterSkipReason}`);

/** What {@link usePrivateCluster} gives a test file. */
export interface PrivateCluster {
  /** host:port of each master (valid inside tests). */
  nodes(): { host: string; port: number }[];
  /** A new ioredis Cluster client on the cluster, disconnected after the file. */
  client(options?: ClusterOptions): Cluster;
  /** A tier on a new Cluster client (`commandTimeout` 5 s), both closed after the file. */
  tier(options?: RedisTierOptions): RedisTier;
}

/**
 * A Redis Cluster of the test file's own: three redis-server masters (`--cluster-enabled yes`, no
 * replicas) joined with `redis-cli --cluster create`, started before the file's tests and stopped
 * after them with every client and tier made through it. Does nothing when
 * {@link clusterSkipReason} is set.
 */
export function usePrivateCluster(): PrivateCluster {
  const servers: TestRedis[] = [];
  const clients: Cluster[] = [];
  const tiers: RedisTier[] = [];
  beforeAll(async () => {
    if (clusterSkipReason !== undefined) return;
    for (let i = 0; i < 3; i++)
      servers.push(
        // The config file lands in the server's own temporary --dir.
        await startPrivateRedis({
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
        }),
      );
    await run('redis-cli', [
      '--cluster',
      'create',
      ...servers.map((s) => `127.0.0.1:${s.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    // `create` returns once slots are assigned; every node must agree before clients connect.
    for (const server of servers) {
      const admin = new Redis(server.url);
      try {
        for (let i = 0; ; i++) {
          const info = await admin.cluster('INFO');
          if (info.includes('cluster_state:ok')) break;
          if (i === 200) throw new Error(`cluster node ${server.url} not ok: ${info}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        admin.disconnect();
      }
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(tiers.map((t) => t.close()));
    for (const client of clients) client.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  });
  const nodes = () => servers.map((s) => ({ host: s.host, port: s.port }));
  const client = (options: ClusterOptions = {}) => {
    const cluster = new Cluster(nodes(), {
      redisOptions: { commandTimeout: 5_000 },
      ...options,
    });
    clients.push(cluster);
    return cluster;
  };
  return {
    nodes,
    client,
    tier(options = {}) {
      const tier = new RedisTier({ client: client(), ...options });
      tiers.push(tier);
      return tier;
    },
  };
}
