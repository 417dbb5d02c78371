import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { RedisOptionError } from './errors.js';

/** A client RedisTier can use: standalone/Sentinel (`Redis`) or `Cluster`. */
export type RedisClient = Redis | Cluster;

/**
 * Build an ioredis client from a URL, with the fault-handling settings the tier relies on:
 * a command timeout, no offline queue (calls fail at once while Redis is down instead of
 * piling up). Standalone clients batch explicitly (MGET, pipelines); Cluster clients use
 * auto-pipelining so per-key commands to one node share a round trip.
 *
 * - `redis://[user:pass@]host:port[/db]` and `rediss://...`: standalone (TLS for rediss).
 * - `redis-sentinel://host:port[,host:port...]/masterName[?password=...]`: Sentinel.
 * - `redis-cluster://host:port[,host:port...]`: Cluster.
 *
 * @throws {RedisOptionError} for an unsupported or malformed URL.
 */
export function createClient(
  url: string,
  commandTimeoutMs: number,
  extra: RedisOptions = {},
): RedisClient {
  const base: RedisOptions = {
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Reconnect quickly but never give up: the breaker decides when to try L2 again.
    retryStrategy: (times) => Math.min(50 * times, 1000),
    ...extra,
  };
  if (typeof url !== 'string') throw new RedisOptionError('url', hidePassword(url), 'a string');
  const scheme = url.split('://')[0];
  if (scheme === 'redis' || scheme === 'rediss') return new Redis(checkStandaloneUrl(url), base);
  const parsed = parseHostList(url);
  if (scheme === 'redis-sentinel') {
    const name = parsed.path;
    if (!name)
      throw new RedisOptionError(
        'url',
        hidePassword(url),
        'redis-sentinel://host:port[,host:port]/masterName',
      );
    return new Redis({
      ...base,
      sentinels: parsed.hosts,
      name,
      ...(parsed.password ? { password: parsed.password } : {}),
    });
  }
  if (scheme === 'redis-cluster') {
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      redisOptions: { ...base, ...(parsed.password ? { password: parsed.password } : {}) },
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    };
    return new Cluster(parsed.hosts, clusterOptions);
  }
  throw new RedisOptionError(
    'url',
    hidePassword(url),
    'a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL',
  );
}

/**
 * Check a redis:// or rediss:// URL before ioredis reads it: ioredis throws a bare TypeError for
 * one it cannot parse, and takes any database index, even `abc` (SELECT NaN, whose failure it
 * leaves as an unhandled rejection) or `-1`.
 */
function checkStandaloneUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new RedisOptionError(
      'url',
      hidePassword(url),
      'a valid URL, redis[s]://[user:pass@]host[:port][/db] with a port from 1 to 65535',
      { cause },
    );
  }
  if (!parsed.hostname || parsed.port === '0')
    throw new RedisOptionError('url', hidePassword(url), 'a host and a port from 1 to 65535');
  // ioredis takes the database from the path, or else from a `db` query parameter.
  const db = parsed.pathname.length > 1 ? parsed.pathname.slice(1) : parsed.searchParams.get('db');
  if (db !== null && db !== '' && !/^\d+$/.test(db))
    throw new RedisOptionError(
      'url',
      hidePassword(url),
      'a database index that is an integer >= 0 (…/<db>)',
    );
  return url;
}

function parseHostList(url: string): {
  hosts: { host: string; port: number }[];
  path: string;
  password: string | undefined;
} {
  const rest = url.slice(url.indexOf('://') + 3);
  // The query ends the authority too (`redis-cluster://h:1?password=…` has no path).
  const q = rest.indexOf('?');
  const query = q === -1 ? '' : rest.slice(q + 1);
  const [authority = '', ...pathParts] = (q === -1 ? rest : rest.slice(0, q)).split('/');
  const path = pathParts.join('/');
  const password = new URLSearchParams(query).get('password') ?? undefined;
  const hosts = authority
    .split(',')
    .filter(Boolean)
    .map((hostPort) => {
      const at = hostPort.lastIndexOf(':');
      const host = at === -1 ? hostPort : hostPort.slice(0, at);
      const port = at === -1 ? 6379 : Number(hostPort.slice(at + 1));
      if (!host || !Number.isInteger(port) || port < 1 || port > 65535)
        throw new RedisOptionError('url', hidePassword(url), 'host:port pairs separated by commas');
      return { host, port };
    });
  if (hosts.length === 0)
    throw new RedisOptionError('url', hidePassword(url), 'at least one host:port');
  return { hosts, path: decodeURIComponent(path), password };
}

/**
 * A URL for an error message: the password of its user info and of a `password` query parameter
 * replaced by `***`, so a rejected URL never puts a secret into logs.
 */
export function hidePassword(url: unknown): unknown {
  if (typeof url !== 'string') return url;
  return url
    .replace(/^([^:/]+:\/\/[^:@/]*):[^@/]*@/, '$1:***@')
    .replace(/([?&]password=)[^&#]*/gi, '$1***');
}
