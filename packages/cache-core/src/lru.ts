import { CachedClock } from './clock.js';
import { CacheOptionError } from './errors.js';
import { estimateSize } from './size.js';

/** Why an entry left an {@link LruCache}, as passed to `onEvict`. */
export type EvictionReason =
  /** Pushed out by the `max` or `maxBytes` bound. */
  | 'evict'
  /** Its TTL passed (noticed on access, `purgeStale()` or when its slot was reused). */
  | 'expire'
  /** Removed by `delete()`. */
  | 'delete'
  /** Replaced by a `set()` of the same key (or refused as too large by one). */
  | 'set'
  /** Removed by `clear()`. */
  | 'clear';

/** Options of {@link LruCache}. Validated once, at construction. */
export interface LruCacheOptions<K = unknown, V = unknown> {
  /**
   * Maximum number of entries (integer ≥ 1). Storage for this many entries is allocated up
   * front. Optional when `maxBytes` is given (the storage then grows by doubling).
   */
  readonly max?: number;
  /** Maximum total size in bytes (integer ≥ 1), measured with `sizeOf`. */
  readonly maxBytes?: number;
  /**
   * Size of one entry in bytes (a finite number ≥ 0). Defaults to {@link estimateSize} when
   * `maxBytes` or `maxEntryBytes` is set. Called once per `set`, never on reads.
   */
  readonly sizeOf?: (value: V, key: K) => number;
  /** Entries larger than this many bytes are refused by `set` (which then returns false). */
  readonly maxEntryBytes?: number;
  /** Default time to live in milliseconds; 0 (the default) or Infinity: no expiry. */
  readonly ttlMs?: number;
  /**
   * ± fraction applied to every TTL (0 ≤ jitter < 1, default 0): a TTL of 1000 ms with jitter
   * 0.1 becomes a uniform value in [900, 1100] ms, so keys written together do not expire together.
   */
  readonly jitter?: number;
  /**
   * Called after an entry left the cache, with the reason. Not called for `set` of the same
   * value object on the same key. Exceptions thrown by it propagate to the caller of the
   * method that removed the entry.
   */
  readonly onEvict?: (value: V, key: K, reason: EvictionReason) => void;
  /** How long one clock reading is reused, in milliseconds (default 1). */
  readonly clockResolutionMs?: number;
  /** A clock to share with other caches (default: a private one). */
  readonly clock?: CachedClock;
}

/** Per-call options of {@link LruCache.set}. */
export interface LruSetOptions {
  /** TTL of this entry in milliseconds (jitter applies); 0 or Infinity: no expiry. Default: the cache's `ttlMs`. */
  readonly ttlMs?: number;
  /** Size of this entry in bytes; skips `sizeOf`. */
  readonly sizeBytes?: number;
}

/** Counters of an {@link LruCache}, as returned by `stats()`. */
export interface LruStats {
  /** `get` calls that found a live entry. */
  readonly hits: number;
  /** `get` calls that found nothing or an expired entry. */
  readonly misses: number;
  /** Entries pushed out by the `max`/`maxBytes` bounds. */
  readonly evictions: number;
  /** Entries removed because their TTL passed. */
  readonly expirations: number;
  /** `set` calls refused because the entry exceeded `maxEntryBytes` (or `maxBytes`). */
  readonly refused: number;
  /** Entries stored now (expired entries not yet noticed included). */
  readonly size: number;
  /** Total bytes stored now (0 when no byte bound is configured). */
  readonly bytes: number;
}

/** End-of-list marker. A small integer (smi): a non-smi sentinel would make V8 box it into head/tail fields. */
const NONE = -1;
/** Largest capacity: link indices are Int32. */
const MAX_CAPACITY = 0x7ffffffe;
const INITIAL_GROWABLE_CAPACITY = 16;

/**
 * A synchronous least-recently-used cache with per-entry TTL (± jitter), an entry-count bound,
 * a byte bound, and eviction callbacks.
 *
 * Layout: a `Map` from key to slot index; keys and values in preallocated arrays; the recency
 * list as two `Uint32Array`s (prev/next); expiry times in a `Float64Array` (epoch ms, 0 = none);
 * free slots in a `Uint32Array` stack. A `get` hit is one Map lookup, one expiry comparison
 * against a cached clock and a few typed-array writes: it allocates nothing.
 *
 * Expired entries are removed lazily (on access, on `purgeStale()`, or when evicted).
 * Safe to share between any number of async callers: every method runs to completion.
 */
export class LruCache<K, V> {
  readonly #max: number;
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  readonly #sizeOf: ((value: V, key: K) => number) | undefined;
  readonly #ttlMs: number;
  readonly #jitter: number;
  readonly #onEvict: ((value: V, key: K, reason: EvictionReason) => void) | undefined;
  readonly #clock: CachedClock;

  #capacity: number;
  #map = new Map<K, number>();
  #keys: (K | undefined)[];
  #values: (V | undefined)[];
  #next: Int32Array;
  #prev: Int32Array;
  #expires: Float64Array;
  #sizes: Float64Array | undefined;
  #free: Uint32Array;
  #freeTop = 0;
  /** Slots never used so far are [#fresh, #capacity). */
  #fresh = 0;
  #head = NONE; // least recently used
  #tail = NONE; // most recently used
  #bytes = 0;
  #ttlCount = 0;

  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #expirations = 0;
  #refused = 0;

  /**
   * @throws {CacheOptionError} when neither `max` nor `maxBytes` is given, or an option is out of range.
   */
  constructor(options: LruCacheOptions<K, V>) {
    const {
      max,
      maxBytes,
      maxEntryBytes,
      sizeOf,
      ttlMs = 0,
      jitter = 0,
      onEvict,
      clockResolutionMs,
      clock,
    } = options;
    if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > MAX_CAPACITY)) {
      throw new CacheOptionError('max', max, 'must be an integer ≥ 1 and < 2^31 - 1');
    }
    if (maxBytes !== undefined && (!Number.isFinite(maxBytes) || maxBytes < 1)) {
      throw new CacheOptionError('maxBytes', maxBytes, 'must be a finite number ≥ 1');
    }
    if (maxEntryBytes !== undefined && (!Number.isFinite(maxEntryBytes) || maxEntryBytes < 1)) {
      throw new CacheOptionError('maxEntryBytes', maxEntryBytes, 'must be a finite number ≥ 1');
    }
    if (max === undefined && maxBytes === undefined) {
      throw new CacheOptionError(
        'max',
        max,
        'give max (entries) and/or maxBytes: an LruCache must be bounded',
      );
    }
    if (sizeOf !== undefined && typeof sizeOf !== 'function') {
      throw new CacheOptionError('sizeOf', sizeOf, 'must be a function (value, key) => bytes');
    }
    if (onEvict !== undefined && typeof onEvict !== 'function') {
      throw new CacheOptionError(
        'onEvict',
        onEvict,
        'must be a function (value, key, reason) => void',
      );
    }
    this.#ttlMs = checkTtl('ttlMs', ttlMs);
    if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) {
      throw new CacheOptionError(
        'jitter',
        jitter,
        'must be a fraction in [0, 1), e.g. 0.1 for ±10%',
      );
    }
    if (
      clockResolutionMs !== undefined &&
      (!Number.isFinite(clockResolutionMs) || clockResolutionMs < 1)
    ) {
      throw new CacheOptionError(
        'clockResolutionMs',
        clockResolutionMs,
        'must be a finite number ≥ 1',
      );
    }
    this.#max = max ?? Infinity;
    this.#maxBytes = maxBytes ?? Infinity;
    this.#maxEntryBytes = Math.min(maxEntryBytes ?? Infinity, this.#maxBytes);
    const bytesBounded = maxBytes !== undefined || maxEntryBytes !== undefined;
    this.#sizeOf = sizeOf ?? (bytesBounded ? estimateSize : undefined);
    this.#jitter = jitter;
    this.#onEvict = onEvict;
    this.#clock = clock ?? new CachedClock(clockResolutionMs);
    const capacity = max ?? INITIAL_GROWABLE_CAPACITY;
    this.#capacity = capacity;
    this.#keys = new Array<K | undefined>(capacity).fill(undefined);
    this.#values = new Array<V | undefined>(capacity).fill(undefined);
    this.#next = new Int32Array(capacity);
    this.#prev = new Int32Array(capacity);
    this.#expires = new Float64Array(capacity);
    this.#sizes = this.#sizeOf === undefined ? undefined : new Float64Array(capacity);
    this.#free = new Uint32Array(capacity);
  }

  /** Maximum number of entries (Infinity when only `maxBytes` bounds the cache). */
  get max(): number {
    return this.#max;
  }

  /** Maximum total bytes (Infinity when unbounded by bytes). */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Default TTL in milliseconds (0: none). */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Number of entries stored (expired entries not yet noticed included). */
  get size(): number {
    return this.#map.size;
  }

  /** Total size in bytes of the stored entries (0 when no byte bound or `sizeOf` is configured). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The clock this cache reads (epoch ms, cached for `clockResolutionMs`). */
  get clock(): CachedClock {
    return this.#clock;
  }

  /**
   * The value of a live entry, marking it most recently used; undefined on a miss or when it
   * expired (the expired entry is removed). Counts a hit or a miss. Never allocates.
   */
  get(key: K): V | undefined {
    const i = this.#map.get(key);
    if (i === undefined) {
      this.#misses++;
      return undefined;
    }
    const exp = this.#expires[i]!;
    if (exp !== 0) {
      // Read the cached clock's field inline: calling now() could box the double it returns.
      const clock = this.#clock;
      let now = clock.value;
      if (now === 0) {
        clock.refresh();
        now = clock.value;
      } else clock.read = true;
      if (exp <= now) {
        this.#misses++;
        this.#remove(i, 'expire');
        return undefined;
      }
    }
    this.#hits++;
    if (i !== this.#tail) this.#moveToTail(i);
    return this.#values[i];
  }

  /** Like `get` without touching recency or counters. Expired entries read as undefined (and stay). */
  peek(key: K): V | undefined {
    const i = this.#map.get(key);
    if (i === undefined) return undefined;
    const exp = this.#expires[i]!;
    if (exp !== 0) {
      const clock = this.#clock;
      let now = clock.value;
      if (now === 0) {
        clock.refresh();
        now = clock.value;
      } else clock.read = true;
      if (exp <= now) return undefined;
    }
    return this.#values[i];
  }

  /** Whether a live entry exists, without touching recency or counters. */
  has(key: K): boolean {
    const i = this.#map.get(key);
    if (i === undefined) return false;
    const exp = this.#expires[i]!;
    if (exp === 0) return true;
    const clock = this.#clock;
    let now = clock.value;
    if (now === 0) {
      clock.refresh();
      now = clock.value;
    } else clock.read = true;
    return exp > now;
  }

  /**
   * Remaining TTL of a live entry in milliseconds: Infinity when it has none, undefined when
   * there is no live entry.
   */
  remainingTtl(key: K): number | undefined {
    const i = this.#map.get(key);
    if (i === undefined) return undefined;
    const exp = this.#expires[i]!;
    if (exp === 0) return Infinity;
    const left = exp - this.#clock.now();
    return left > 0 ? left : undefined;
  }

  /**
   * Store a value as the most recently used entry, evicting least recently used entries until
   * the `max` and `maxBytes` bounds hold.
   *
   * @returns false when the entry was refused because it is larger than `maxEntryBytes` or
   *   `maxBytes` (an existing entry under the key is then removed, reason `'set'`).
   * @throws {CacheOptionError} for a negative or non-numeric `ttlMs`/`sizeBytes`, or when `sizeOf` returns one.
   */
  set(key: K, value: V, options?: LruSetOptions): boolean {
    let ttl = this.#ttlMs;
    let size = 0;
    if (options !== undefined) {
      if (options.ttlMs !== undefined) ttl = checkTtl('ttlMs', options.ttlMs);
      if (options.sizeBytes !== undefined) size = checkSize('sizeBytes', options.sizeBytes);
      else if (this.#sizeOf !== undefined) size = checkSize('sizeOf()', this.#sizeOf(value, key));
    } else if (this.#sizeOf !== undefined) {
      size = checkSize('sizeOf()', this.#sizeOf(value, key));
    }
    if (size > this.#maxEntryBytes) {
      this.#refused++;
      const old = this.#map.get(key);
      if (old !== undefined) this.#remove(old, 'set');
      return false;
    }
    let expires = 0;
    if (ttl !== 0 && ttl !== Infinity) {
      if (this.#jitter !== 0) ttl *= 1 + this.#jitter * (2 * Math.random() - 1);
      expires = this.#clock.now() + ttl;
    }

    let i = this.#map.get(key);
    if (i !== undefined) {
      const oldValue = this.#values[i] as V;
      this.#values[i] = value;
      this.#setExpiry(i, expires);
      if (this.#sizes !== undefined) {
        this.#bytes += size - this.#sizes[i]!;
        this.#sizes[i] = size;
      }
      if (i !== this.#tail) this.#moveToTail(i);
      if (this.#bytes > this.#maxBytes) this.#evictForBytes(i);
      if (oldValue !== value && this.#onEvict !== undefined) this.#onEvict(oldValue, key, 'set');
      return true;
    }

    if (this.#map.size >= this.#max) {
      this.#evictHead();
    }
    i = this.#allocSlot();
    this.#keys[i] = key;
    this.#values[i] = value;
    this.#setExpiry(i, expires);
    if (this.#sizes !== undefined) {
      this.#sizes[i] = size;
      this.#bytes += size;
    }
    this.#map.set(key, i);
    // link at tail
    if (this.#tail === NONE) {
      this.#head = i;
      this.#prev[i] = NONE;
    } else {
      this.#next[this.#tail] = i;
      this.#prev[i] = this.#tail;
    }
    this.#next[i] = NONE;
    this.#tail = i;
    if (this.#bytes > this.#maxBytes) this.#evictForBytes(i);
    return true;
  }

  /** Remove an entry. @returns whether a (live or expired) entry was removed. */
  delete(key: K): boolean {
    const i = this.#map.get(key);
    if (i === undefined) return false;
    this.#remove(i, 'delete');
    return true;
  }

  /** Remove every entry (calling `onEvict` with `'clear'` for each). Counters are kept. */
  clear(): void {
    const onEvict = this.#onEvict;
    if (onEvict !== undefined && this.#map.size > 0) {
      const pairs: [K, V][] = [];
      for (let i = this.#tail; i !== NONE; i = this.#prev[i]!)
        pairs.push([this.#keys[i] as K, this.#values[i] as V]);
      this.#reset();
      for (const [k, v] of pairs) onEvict(v, k, 'clear');
      return;
    }
    this.#reset();
  }

  /** Remove every expired entry now. @returns how many were removed. */
  purgeStale(): number {
    if (this.#ttlCount === 0) return 0;
    const now = this.#clock.now();
    let removed = 0;
    let i = this.#head;
    while (i !== NONE) {
      const next = this.#next[i]!;
      const exp = this.#expires[i]!;
      if (exp !== 0 && exp <= now) {
        this.#remove(i, 'expire');
        removed++;
      }
      i = next;
    }
    return removed;
  }

  /**
   * Live entries as `[key, value]` pairs, most recently used first. Does not touch recency.
   * The keys are those present when iteration starts: the loop body may `get`, `set` or `delete`
   * (entries removed meanwhile are skipped, replaced ones give their current value).
   */
  *entries(): Generator<[K, V], void, undefined> {
    // Snapshot the order first: following the links while the caller's loop runs would revisit
    // entries forever, since a get/set moves an entry to the tail we started from.
    const order: K[] = [];
    for (let i = this.#tail; i !== NONE; i = this.#prev[i]!) order.push(this.#keys[i] as K);
    for (const key of order) {
      const i = this.#map.get(key);
      if (i === undefined) continue;
      const exp = this.#expires[i]!;
      if (exp === 0 || exp > this.#clock.now()) yield [key, this.#values[i] as V];
    }
  }

  /** Live keys, most recently used first. */
  *keys(): Generator<K, void, undefined> {
    for (const [k] of this.entries()) yield k;
  }

  /** Live values, most recently used first. */
  *values(): Generator<V, void, undefined> {
    for (const [, v] of this.entries()) yield v;
  }

  /** Same as `entries()`. */
  [Symbol.iterator](): Generator<[K, V], void, undefined> {
    return this.entries();
  }

  /** A snapshot of the counters. */
  stats(): LruStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      expirations: this.#expirations,
      refused: this.#refused,
      size: this.#map.size,
      bytes: this.#bytes,
    };
  }

  /** Set every counter back to zero. */
  resetStats(): void {
    this.#hits = 0;
    this.#misses = 0;
    this.#evictions = 0;
    this.#expirations = 0;
    this.#refused = 0;
  }

  #setExpiry(i: number, expires: number): void {
    const before = this.#expires[i]!;
    if (before !== 0) this.#ttlCount--;
    if (expires !== 0) this.#ttlCount++;
    this.#expires[i] = expires;
  }

  #moveToTail(i: number): void {
    const next = this.#next;
    const prev = this.#prev;
    const n = next[i]!;
    if (i === this.#head) {
      this.#head = n;
    } else {
      const p = prev[i]!;
      next[p] = n;
    }
    prev[n] = prev[i]!;
    const t = this.#tail;
    next[t] = i;
    prev[i] = t;
    next[i] = NONE;
    this.#tail = i;
  }

  #unlink(i: number): void {
    const p = this.#prev[i]!;
    const n = this.#next[i]!;
    if (p === NONE) this.#head = n;
    else this.#next[p] = n;
    if (n === NONE) this.#tail = p;
    else this.#prev[n] = p;
  }

  #allocSlot(): number {
    if (this.#freeTop > 0) return this.#free[--this.#freeTop]!;
    if (this.#fresh < this.#capacity) return this.#fresh++;
    this.#grow();
    return this.#fresh++;
  }

  #grow(): void {
    const cap = Math.min(this.#capacity * 2, MAX_CAPACITY);
    const growI32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    const grow32 = (a: Uint32Array): Uint32Array => {
      const b = new Uint32Array(cap);
      b.set(a);
      return b;
    };
    const grow64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.#next = growI32(this.#next);
    this.#prev = growI32(this.#prev);
    this.#free = grow32(this.#free);
    this.#expires = grow64(this.#expires);
    if (this.#sizes !== undefined) this.#sizes = grow64(this.#sizes);
    for (let i = this.#capacity; i < cap; i++) {
      this.#keys.push(undefined);
      this.#values.push(undefined);
    }
    this.#capacity = cap;
  }

  /** Evict the least recently used entry (an expired one counts as an expiry). */
  #evictHead(): void {
    const h = this.#head;
    if (h === NONE) return;
    const exp = this.#expires[h]!;
    this.#remove(h, exp !== 0 && exp <= this.#clock.now() ? 'expire' : 'evict');
  }

  /** Evict from the LRU end until the byte bound holds; never evicts `keep` (just written, and it fits). */
  #evictForBytes(keep: number): void {
    while (this.#bytes > this.#maxBytes) {
      const h = this.#head;
      if (h === NONE || h === keep) break;
      this.#evictHead();
    }
  }

  #remove(i: number, reason: EvictionReason): void {
    const key = this.#keys[i] as K;
    const value = this.#values[i] as V;
    this.#map.delete(key);
    this.#unlink(i);
    this.#keys[i] = undefined;
    this.#values[i] = undefined;
    this.#setExpiry(i, 0);
    if (this.#sizes !== undefined) {
      this.#bytes -= this.#sizes[i]!;
      this.#sizes[i] = 0;
    }
    this.#free[this.#freeTop++] = i;
    if (reason === 'evict') this.#evictions++;
    else if (reason === 'expire') this.#expirations++;
    if (this.#onEvict !== undefined) this.#onEvict(value, key, reason);
  }

  #reset(): void {
    this.#map.clear();
    this.#keys.fill(undefined);
    this.#values.fill(undefined);
    this.#expires.fill(0);
    this.#sizes?.fill(0);
    this.#freeTop = 0;
    this.#fresh = 0;
    this.#head = NONE;
    this.#tail = NONE;
    this.#bytes = 0;
    this.#ttlCount = 0;
  }
}

function checkTtl(name: string, ttl: number): number {
  if (typeof ttl !== 'number' || Number.isNaN(ttl) || ttl < 0) {
    throw new CacheOptionError(
      name,
      ttl,
      'must be a number of milliseconds ≥ 0 (0 or Infinity: no expiry)',
    );
  }
  return ttl;
}

function checkSize(name: string, size: number): number {
  if (typeof size !== 'number' || !Number.isFinite(size) || size < 0) {
    throw new CacheOptionError(name, size, 'must be a finite number of bytes ≥ 0');
  }
  return size;
}
