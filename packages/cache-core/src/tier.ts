/**
 * The shape every cache tier shares (see shared DESIGN.md). L1 is an in-process
 * LruCache of live values; L2 (Redis) and L3 (SQLite) store `@peaktrade/serialize` bytes.
 * MultiLevelCache orders tiers fastest first, reads through them and backfills.
 */

/** What a tier stores: live JS values, or serialized bytes it encodes/decodes itself. */
export type TierStorage = 'values' | 'bytes';

/** Options of a tier write. */
export interface TierSetOptions {
  /** Time to live in milliseconds. Undefined: the tier's default; 0 or Infinity: no expiry. */
  readonly ttlMs?: number;
  /** Tags to attach, for deleteByTag/expireByTag. */
  readonly tags?: readonly string[];
}

/** One entry of a setMany call. */
export interface TierEntry<V = unknown> {
  readonly key: string;
  readonly value: V;
  readonly ttlMs?: number;
  readonly tags?: readonly string[];
}

/**
 * A cache tier. Every method is async and may reject; MultiLevelCache wraps each call in
 * the tier's timeout, counts failures, and never lets a tier error reach its caller.
 * `get` resolves `undefined` on a miss. Values are live JS values at this interface:
 * byte tiers serialize internally, and `storage` says what they keep.
 */
export interface CacheTier<V = unknown> {
  /** Short name used in stats and events, e.g. `l2-redis`. */
  readonly name: string;
  readonly storage: TierStorage;
  /**
   * Optional: the level this tier serves for `cacheLevel` (`'redis'`, `'disk'`, or any name).
   * When absent MultiLevelCache infers it from `name` (contains "redis" → redis; "disk",
   * "sqlite" or "file" → disk; else the name itself).
   */
  readonly level?: string;
  get(key: string): Promise<V | undefined>;
  set(key: string, value: V, options?: TierSetOptions): Promise<void>;
  delete(key: string): Promise<boolean>;
  clear(): Promise<void>;
  getMany?(keys: readonly string[]): Promise<(V | undefined)[]>;
  setMany?(entries: readonly TierEntry<V>[]): Promise<void>;
  /** Remove every key carrying the tag; resolves the number removed (when known). */
  deleteByTag?(tag: string): Promise<number>;
  /** Mark every key carrying the tag as stale (served only under grace); resolves the number affected. */
  expireByTag?(tag: string): Promise<number>;
  /**
   * For shared tiers (Redis): subscribe to invalidations made by OTHER processes.
   * The listener gets the affected full keys, or `'all'` when the local copy can no longer be
   * trusted (e.g. after the bus reconnects) and L1 must be flushed. MultiLevelCache subscribes
   * when built and drops those keys from its L1. Returns an unsubscribe function.
   */
  onInvalidate?(listener: (keys: readonly string[] | 'all') => void): () => void;
  /** Release connections and files. */
  close?(): Promise<void>;
}
