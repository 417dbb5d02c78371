import { channel } from 'node:diagnostics_channel';

/** diagnostics_channel name of per-tier operation events ({@link TierEvent}). Published only when subscribed. */
export const TIER_CHANNEL = 'peaktrade:cache-core:tier';
/** diagnostics_channel name of cache events ({@link CacheEvent}): refresh failures, stale served, tier errors. */
export const EVENT_CHANNEL = 'peaktrade:cache-core:event';
/** diagnostics_channel name of stats snapshots published by `MultiLevelCache.publishStats()`. */
export const STATS_CHANNEL = 'peaktrade:cache-core:stats';

/** @internal */
export const tierChannel = channel(TIER_CHANNEL);
/** @internal */
export const eventChannel = channel(EVENT_CHANNEL);
/** @internal */
export const statsChannel = channel(STATS_CHANNEL);

/** One tier operation, as published on {@link TIER_CHANNEL}. */
export interface TierEvent {
  /** Name of the MultiLevelCache. */
  readonly cache: string;
  /** Tier name. */
  readonly tier: string;
  /** Operation, e.g. `get`, `set`, `getMany`, `delete`. */
  readonly op: string;
  /** Outcome of the call. */
  readonly outcome: 'hit' | 'miss' | 'ok' | 'error' | 'timeout';
  /** Wall time of the call in milliseconds (the timeout for `timeout`). */
  readonly durationMs: number;
  /** The full key (first key for batch operations). */
  readonly key: string | undefined;
  /** The error, for `error` and `timeout`. */
  readonly error?: unknown;
}

/** A notable cache event, as published on {@link EVENT_CHANNEL}. */
export interface CacheEvent {
  readonly cache: string;
  readonly type:
    | 'refresh-error'
    | 'stale-served'
    | 'stale-if-error'
    | 'tier-error'
    | 'tier-timeout'
    | 'tier-unsupported';
  readonly key: string | undefined;
  readonly tier?: string;
  readonly error?: unknown;
}

/** Upper bounds (µs) of the latency histogram buckets; the last bucket is open-ended. */
export const LATENCY_BUCKETS_US: readonly number[] = Object.freeze([
  50,
  100,
  250,
  500,
  1_000,
  2_500,
  5_000,
  10_000,
  25_000,
  50_000,
  100_000,
  250_000,
  1_000_000,
  Infinity,
]);

/** Stats of one tier of a MultiLevelCache. Counters since construction. */
export interface TierStats {
  readonly name: string;
  /** Level the tier serves for `cacheLevel` (`redis`, `disk`, or the tier name). */
  readonly level: string;
  /** Per-call timeout in milliseconds. */
  readonly timeoutMs: number;
  /** Reads that found a value (per key). */
  readonly hits: number;
  /** Reads that found nothing (per key). */
  readonly misses: number;
  /** Calls that threw or rejected. */
  readonly errors: number;
  /** Calls that did not answer within `timeoutMs` (not included in `errors`). */
  readonly timeouts: number;
  /** Successful writes and deletes. */
  readonly writes: number;
  /** Call latency histogram: `counts[i]` calls took at most `boundsUs[i]` µs (and more than the previous bound). */
  readonly latency: { readonly boundsUs: readonly number[]; readonly counts: readonly number[] };
}

/** @internal Mutable counters of one tier. */
export class TierStatsRecorder {
  hits = 0;
  misses = 0;
  errors = 0;
  timeouts = 0;
  writes = 0;
  readonly counts = new Float64Array(LATENCY_BUCKETS_US.length);

  record(durationMs: number): void {
    const us = durationMs * 1000;
    let b = 0;
    while (us > LATENCY_BUCKETS_US[b]!) b++;
    this.counts[b] = this.counts[b]! + 1;
  }

  snapshot(name: string, level: string, timeoutMs: number): TierStats {
    return {
      name,
      level,
      timeoutMs,
      hits: this.hits,
      misses: this.misses,
      errors: this.errors,
      timeouts: this.timeouts,
      writes: this.writes,
      latency: { boundsUs: LATENCY_BUCKETS_US, counts: Array.from(this.counts) },
    };
  }
}
