import { loadConfig, type PerformanceConfig } from '@peaktrade/config';
import { MultiLevelCache, type TierConfig } from './multi-level.js';
import type { CacheTier } from './tier.js';

let defaultCache: MultiLevelCache | undefined;
let cachingEnabled = true;
let configured = false;
let version = 0;

/**
 * Build a MultiLevelCache from `[performance.cache]` of `@peaktrade/config`: an L1 of
 * `l1_size` entries (and `l1_max_bytes` bytes when > 0) with `l1_ttl` seconds as the default
 * TTL, `ttl_jitter` jitter, and the L2 timeout `l2_timeout_ms` as the default tier timeout.
 * No tiers: the Redis and disk packages register theirs with {@link registerDefaultTier}.
 */
export function cacheFromConfig(config: PerformanceConfig, name = 'default'): MultiLevelCache {
  const c = config.performance.cache;
  const ttlMs = c.l1_ttl * 1000;
  return new MultiLevelCache({
    name,
    l1: {
      max: c.l1_size,
      ...(c.l1_max_bytes > 0 ? { maxBytes: c.l1_max_bytes } : {}),
      ttlMs,
      jitter: c.ttl_jitter,
    },
    ttlMs,
    jitter: c.ttl_jitter,
    tierTimeoutMs: c.l2_timeout_ms,
  });
}

/**
 * The process-wide default cache used by `cached()` when no `cache` option is given. Built on
 * first use from `loadConfig()` (see {@link cacheFromConfig}); `performance.enable_caching =
 * false` makes `cached()` functions without an explicit cache call straight through.
 */
export function getDefaultCache(): MultiLevelCache {
  if (defaultCache === undefined) configureDefaultCache(loadConfig());
  return defaultCache!;
}

/** Whether `performance.enable_caching` allows the default cache (loads the config on first use). */
export function isDefaultCachingEnabled(): boolean {
  if (!configured) getDefaultCache();
  return cachingEnabled;
}

/**
 * Replace the default cache with one built from `config` (or with `cache` when given). Functions
 * made by `cached()` switch to it on their next call.
 */
export function configureDefaultCache(
  config: PerformanceConfig,
  cache?: MultiLevelCache,
): MultiLevelCache {
  defaultCache = cache ?? cacheFromConfig(config);
  cachingEnabled = config.performance.enable_caching;
  configured = true;
  version++;
  return defaultCache;
}

/** Use `cache` as the default cache (caching enabled). Pass undefined to rebuild from config on next use. */
export function setDefaultCache(cache: MultiLevelCache | undefined): void {
  defaultCache = cache;
  cachingEnabled = true;
  configured = cache !== undefined;
  version++;
}

/**
 * Add a tier (e.g. the Redis or disk tier) to the default cache, after the tiers registered
 * before it. Builds the default cache from config first if needed.
 */
export function registerDefaultTier(tier: CacheTier | TierConfig): void {
  getDefaultCache().addTier(tier);
}

/** @internal Bumped whenever the default cache is replaced. */
export function defaultCacheVersion(): number {
  return version;
}
