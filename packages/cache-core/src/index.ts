export { LruCache } from './lru.js';
export type { LruCacheOptions, LruSetOptions, LruStats, EvictionReason } from './lru.js';
export { CachedClock } from './clock.js';
export { estimateSize } from './size.js';
export { MultiLevelCache, CACHE_LEVELS } from './multi-level.js';
export type {
  MultiLevelCacheOptions,
  MultiLevelCacheStats,
  TierConfig,
  WriteOptions,
  GetOrSetOptions,
  ReadOptions,
  Loader,
  CacheLevel,
  CacheLevelName,
} from './multi-level.js';
export { isCacheEnvelope, expireEnvelope, envelopeRetainUntil } from './envelope.js';
export type { CacheEnvelope } from './envelope.js';
export { cached } from './cached.js';
export type { CachedOptions, CachedFunction } from './cached.js';
export { encodeKey, callKey, DEFAULT_MAX_KEY_LENGTH } from './keys.js';
export {
  getDefaultCache,
  setDefaultCache,
  configureDefaultCache,
  registerDefaultTier,
  cacheFromConfig,
  isDefaultCachingEnabled,
} from './default-cache.js';
export { TIER_CHANNEL, EVENT_CHANNEL, STATS_CHANNEL, LATENCY_BUCKETS_US } from './stats.js';
export type { TierEvent, CacheEvent, TierStats } from './stats.js';
export type { CacheTier, TierStorage, TierSetOptions, TierEntry } from './tier.js';
export {
  PeakTradeError,
  CacheOptionError,
  CacheKeyError,
  CacheLevelUnavailableError,
  TierTimeoutError,
  CacheClosedError,
  errors,
} from './errors.js';
