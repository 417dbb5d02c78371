import { CachedClock } from './clock.js';
import {
  CacheClosedError,
  CacheKeyError,
  CacheLevelUnavailableError,
  CacheOptionError,
  TierTimeoutError,
} from './errors.js';
import {
  type CacheEnvelope,
  envelopeRetainUntil,
  expireEnvelope,
  isCacheEnvelope,
} from './envelope.js';
import { isWellFormed } from './keys.js';
import { LruCache, type LruCacheOptions } from './lru.js';
import {
  type CacheEvent,
  eventChannel,
  type TierEvent,
  tierChannel,
  type TierStats,
  TierStatsRecorder,
  statsChannel,
} from './stats.js';
import type { LruStats } from './lru.js';
import type { CacheTier } from './tier.js';

/** The named cache levels `cacheLevel` accepts. */
export const CACHE_LEVELS = ['memory', 'redis', 'disk', 'all'] as const;
/** A named cache level: `memory` (L1 only), `redis` / `disk` (tiers of that level only), `all`. */
export type CacheLevelName = (typeof CACHE_LEVELS)[number];
/**
 * Where an operation reads and writes: a named level, or an explicit list of level names
 * (`'memory'`, `'redis'`, `'disk'`, or a tier's own `level`/`name`) and tier objects. Order in the
 * list does not matter: tiers are always visited fastest first (L1, then construction order).
 */
export type CacheLevel = CacheLevelName | readonly (string | CacheTier)[];

/** A tier plus how MultiLevelCache treats it. */
export interface TierConfig {
  readonly tier: CacheTier;
  /** Per-call timeout in milliseconds (default: the cache's `tierTimeoutMs`). */
  readonly timeoutMs?: number;
  /**
   * The level this tier serves for `cacheLevel` (default: `tier.level`, else `redis` when the
   * name contains "redis", `disk` when it contains "disk", "sqlite" or "file", else the tier name).
   */
  readonly level?: string;
}

/** Options of {@link MultiLevelCache}. Validated once, at construction. */
export interface MultiLevelCacheOptions {
  /** Name used in stats and diagnostics events (default `cache`). */
  readonly name?: string;
  /**
   * The L1: an {@link LruCache} of envelopes (see {@link CacheEnvelope}), or options to build
   * one (default `{ max: 1000 }`), or `false` for no L1. The L1's own `ttlMs` (if any) caps how
   * long an entry stays in memory; the logical TTL comes from the operation.
   */
  readonly l1?: LruCache<string, CacheEnvelope> | LruCacheOptions<string, CacheEnvelope> | false;
  /** Slower tiers, fastest first: CacheTier objects or {@link TierConfig}s. */
  readonly tiers?: readonly (CacheTier | TierConfig)[];
  /** Default logical TTL of an entry in milliseconds (default 300 000); 0 or Infinity: no expiry. */
  readonly ttlMs?: number;
  /** Default grace window in ms after expiry: the stale value is served while one refresh runs (default 0). */
  readonly graceMs?: number;
  /** Default stale-if-error window in ms after expiry: a failed load returns the stale value (default 0). */
  readonly staleIfErrorMs?: number;
  /** Default TTL in ms of a negative entry (loader resolved undefined); 0 (default): do not cache misses. */
  readonly negativeTtlMs?: number;
  /** ± fraction of jitter on logical TTLs, in [0, 1) (default 0). */
  readonly jitter?: number;
  /** Default per-call timeout of a tier in milliseconds (default 100). */
  readonly tierTimeoutMs?: number;
  /** Default `cacheLevel` of operations (default `all`). */
  readonly cacheLevel?: CacheLevel;
  /**
   * Publish `stats()` on the {@link STATS_CHANNEL} diagnostics channel every this many
   * milliseconds (an unref'd timer, only while someone subscribes); 0 (default): only on
   * `publishStats()`.
   */
  readonly statsIntervalMs?: number;
}

/** Options of a write (`set`, and the write made by `getOrSet`). */
export interface WriteOptions {
  /** Logical TTL in ms (default: the cache's `ttlMs`); 0 or Infinity: no expiry. */
  readonly ttlMs?: number;
  /** Grace window in ms after expiry (default: the cache's `graceMs`). */
  readonly graceMs?: number;
  /** Stale-if-error window in ms after expiry (default: the cache's `staleIfErrorMs`). */
  readonly staleIfErrorMs?: number;
  /** Tags for `deleteByTag` / `expireByTag`. */
  readonly tags?: readonly string[];
  /** Which levels to use (default: the cache's `cacheLevel`). */
  readonly cacheLevel?: CacheLevel;
}

/** Options of `getOrSet`. Pass the same object on every call: it is resolved once and remembered. */
export interface GetOrSetOptions extends WriteOptions {
  /** TTL in ms of a negative entry when the loader resolves undefined (default: the cache's `negativeTtlMs`). */
  readonly negativeTtlMs?: number;
}

/** Options of reads (`get`, `getMany`) and `delete`. */
export interface ReadOptions {
  readonly cacheLevel?: CacheLevel;
}

/** A loader for `getOrSet`: resolves the value, or undefined for "nothing" (negative-cached when enabled). */
export type Loader<V> = () => V | PromiseLike<V>;

/** Stats of a {@link MultiLevelCache}. Counters since construction. */
export interface MultiLevelCacheStats {
  readonly name: string;
  /** L1 counters (undefined without an L1). */
  readonly l1: LruStats | undefined;
  /** One entry per tier, fastest first. */
  readonly tiers: readonly TierStats[];
  /** Loader calls (foreground and background). */
  readonly loads: number;
  /** Loader calls that threw or rejected. */
  readonly loadErrors: number;
  /** Calls that joined an in-flight read or load instead of starting one. */
  readonly coalesced: number;
  /** Stale values served under grace. */
  readonly staleServed: number;
  /** Stale values served because the loader failed. */
  readonly staleIfErrorServed: number;
  /** Background refreshes started under grace. */
  readonly refreshes: number;
  /** Background refreshes whose loader failed (the stale value stayed). */
  readonly refreshErrors: number;
  /** Negative entries written. */
  readonly negativeWrites: number;
}

interface TierState {
  readonly tier: CacheTier;
  readonly name: string;
  readonly level: string;
  readonly timeoutMs: number;
  readonly stats: TierStatsRecorder;
  readonly unsubscribe: (() => void) | undefined;
}

/** A resolved set of operation options. @internal */
export interface Plan {
  readonly version: number;
  readonly l1: boolean;
  readonly tiers: readonly TierState[];
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly staleIfErrorMs: number;
  readonly negativeTtlMs: number;
  readonly tags: readonly string[] | undefined;
}

interface Flight {
  /** Whether this flight calls a loader (a read-only flight only reads tiers). */
  readonly loads: boolean;
  /** A set/delete/clear/invalidation of the key happened meanwhile: the result goes to the waiters but is not written. */
  superseded: boolean;
  /** The tags the flight's own writes carry (its plan's), to supersede it on their invalidation. */
  readonly tags: readonly string[] | undefined;
  /**
   * Tags invalidated (deleteByTag/expireByTag) while this flight ran: an envelope it read that
   * carries one predates the invalidation and must not be stored.
   */
  dropped?: Set<string>;
  /** The write-behind of the loaded value to the tiers; the flight stays joinable until it settles. */
  writing?: Promise<void>;
  env: Promise<CacheEnvelope | undefined>;
  value: Promise<unknown>;
}

const FAILED: unique symbol = Symbol('tier-failed');
const TIMEOUT: unique symbol = Symbol('tier-timeout');
const NAMESPACE_INIT: unique symbol = Symbol('namespace');
const DEFAULT_L1_MAX = 1000;

function noop(): void {}

/** The state shared by a MultiLevelCache and its namespaces. @internal */
class Engine {
  readonly name: string;
  readonly l1: LruCache<string, CacheEnvelope> | undefined;
  /** The L1's clock (a private one without L1). Hot paths read its `value` field inline. */
  readonly clock: CachedClock;
  readonly l1TtlCapMs: number;
  tiers: TierState[] = [];
  version = 0;
  closed = false;
  readonly defaults: {
    readonly ttlMs: number;
    readonly graceMs: number;
    readonly staleIfErrorMs: number;
    readonly negativeTtlMs: number;
    readonly cacheLevel: CacheLevel;
  };
  readonly jitter: number;
  readonly tierTimeoutMs: number;
  readonly inflight = new Map<string, Flight>();
  readonly tagIndex = new Map<string, Set<string>>();
  tagRefs = 0;
  /** Background tier writes (bounded by the tier timeouts). */
  readonly pending = new Set<Promise<unknown>>();
  /** Background refreshes (they run user loaders: unbounded). */
  readonly refreshing = new Set<Promise<unknown>>();
  statsTimer: ReturnType<typeof setInterval> | undefined;
  readonly unsubscribers: (() => void)[] = [];

  loads = 0;
  loadErrors = 0;
  coalesced = 0;
  staleServed = 0;
  staleIfErrorServed = 0;
  refreshes = 0;
  refreshErrors = 0;
  negativeWrites = 0;

  constructor(options: MultiLevelCacheOptions) {
    const o = options;
    this.name = o.name ?? 'cache';
    if (typeof this.name !== 'string' || this.name === '')
      throw new CacheOptionError('name', o.name, 'must be a non-empty string');
    const ttlMs = checkMs('ttlMs', o.ttlMs ?? 300_000, true);
    const graceMs = checkMs('graceMs', o.graceMs ?? 0, false);
    const staleIfErrorMs = checkMs('staleIfErrorMs', o.staleIfErrorMs ?? 0, false);
    const negativeTtlMs = checkMs('negativeTtlMs', o.negativeTtlMs ?? 0, false);
    const jitter = o.jitter ?? 0;
    if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) {
      throw new CacheOptionError(
        'jitter',
        jitter,
        'must be a fraction in [0, 1), e.g. 0.1 for ±10%',
      );
    }
    this.jitter = jitter;
    const tierTimeoutMs = o.tierTimeoutMs ?? 100;
    if (
      typeof tierTimeoutMs !== 'number' ||
      !(tierTimeoutMs > 0) ||
      !Number.isFinite(tierTimeoutMs)
    ) {
      throw new CacheOptionError(
        'tierTimeoutMs',
        tierTimeoutMs,
        'must be a finite number of milliseconds > 0',
      );
    }
    this.tierTimeoutMs = tierTimeoutMs;
    const cacheLevel = o.cacheLevel ?? 'all';
    validateLevel('cacheLevel', cacheLevel);
    this.defaults = { ttlMs, graceMs, staleIfErrorMs, negativeTtlMs, cacheLevel };

    const l1 = o.l1;
    if (l1 === false) {
      this.l1 = undefined;
      this.l1TtlCapMs = 0;
    } else if (l1 instanceof LruCache) {
      this.l1 = l1;
      this.l1TtlCapMs = l1.ttlMs;
    } else if (l1 === undefined || (typeof l1 === 'object' && l1 !== null)) {
      const opts = l1 ?? { max: DEFAULT_L1_MAX };
      this.l1 = new LruCache<string, CacheEnvelope>(opts);
      this.l1TtlCapMs = this.l1.ttlMs;
    } else {
      throw new CacheOptionError('l1', l1, 'must be an LruCache, LruCache options, or false');
    }
    this.clock = this.l1?.clock ?? new CachedClock();
    const statsIntervalMs = checkMs('statsIntervalMs', o.statsIntervalMs ?? 0, false);
    if (statsIntervalMs > 0) {
      const timer = setInterval(() => {
        if (statsChannel.hasSubscribers) statsChannel.publish(this.stats());
      }, statsIntervalMs);
      timer.unref();
      this.statsTimer = timer;
    }
    for (const t of o.tiers ?? []) this.addTier(t, false);
    this.version++;
  }

  addTier(input: CacheTier | TierConfig, bump = true): void {
    const config: TierConfig = isTierConfig(input) ? input : { tier: input };
    const tier = config.tier;
    if (
      typeof tier !== 'object' ||
      tier === null ||
      typeof tier.get !== 'function' ||
      typeof tier.set !== 'function' ||
      typeof tier.delete !== 'function' ||
      typeof tier.clear !== 'function'
    ) {
      throw new CacheOptionError(
        'tiers',
        tier,
        'each tier must implement CacheTier (get, set, delete, clear)',
      );
    }
    const name =
      typeof tier.name === 'string' && tier.name !== ''
        ? tier.name
        : `tier${this.tiers.length + 2}`;
    const timeoutMs = config.timeoutMs ?? this.tierTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new CacheOptionError(
        `tiers[${name}].timeoutMs`,
        timeoutMs,
        'must be a finite number of milliseconds > 0',
      );
    }
    const level = config.level ?? tier.level ?? inferLevel(name);
    let unsubscribe: (() => void) | undefined;
    if (typeof tier.onInvalidate === 'function') {
      unsubscribe = tier.onInvalidate((keys) => this.invalidateL1(keys));
    }
    this.tiers.push({ tier, name, level, timeoutMs, stats: new TierStatsRecorder(), unsubscribe });
    if (bump) this.version++;
  }

  invalidateL1(keys: readonly string[] | 'all'): void {
    // Another process changed these keys: what a flight read or loaded before may be older.
    if (keys === 'all') this.supersedeAll();
    else for (const k of keys) this.supersede(k);
    const l1 = this.l1;
    if (l1 === undefined) return;
    if (keys === 'all') {
      l1.clear();
      this.tagIndex.clear();
      this.tagRefs = 0;
      return;
    }
    for (const k of keys) l1.delete(k);
  }

  makePlan(options: GetOrSetOptions | undefined, prefix: string, nsTag: string | undefined): Plan {
    const d = this.defaults;
    const o = options ?? {};
    const ttlMs = o.ttlMs === undefined ? d.ttlMs : checkMs('ttlMs', o.ttlMs, true);
    const graceMs = o.graceMs === undefined ? d.graceMs : checkMs('graceMs', o.graceMs, false);
    const staleIfErrorMs =
      o.staleIfErrorMs === undefined
        ? d.staleIfErrorMs
        : checkMs('staleIfErrorMs', o.staleIfErrorMs, false);
    const negativeTtlMs =
      o.negativeTtlMs === undefined
        ? d.negativeTtlMs
        : checkMs('negativeTtlMs', o.negativeTtlMs, false);
    let tags: string[] | undefined;
    if (o.tags !== undefined) {
      const given: unknown = o.tags;
      if (!isStringArray(given))
        throw new CacheOptionError('tags', given, 'must be an array of strings');
      tags = prefix === '' ? given.slice() : given.map((t) => prefix + t);
    }
    if (nsTag !== undefined) (tags ??= []).push(nsTag);
    const level = o.cacheLevel ?? d.cacheLevel;
    const { l1, tiers } = this.resolveLevel(level);
    if (tiers.length !== 0 && o.tags !== undefined) {
      for (let i = 0; i < o.tags.length; i++) {
        if (!isWellFormed(o.tags[i]!)) throw loneSurrogate(`tags[${i}]`, o.tags[i]!);
      }
    }
    return {
      version: this.version,
      l1,
      tiers,
      ttlMs,
      graceMs,
      staleIfErrorMs,
      negativeTtlMs,
      tags,
    };
  }

  resolveLevel(level: CacheLevel): { l1: boolean; tiers: TierState[] } {
    validateLevel('cacheLevel', level);
    const configured = (): string[] => [
      ...(this.l1 ? ['memory'] : []),
      ...this.tiers.map((t) => `${t.name} (${t.level})`),
    ];
    if (level === 'all') return { l1: this.l1 !== undefined, tiers: this.tiers.slice() };
    const wanted: (string | CacheTier)[] = typeof level === 'string' ? [level] : [...level];
    let l1 = false;
    const picked = new Set<TierState>();
    for (const w of wanted) {
      if (w === 'memory') {
        if (this.l1 === undefined) throw new CacheLevelUnavailableError('memory', configured());
        l1 = true;
        continue;
      }
      if (w === 'all') {
        l1 = this.l1 !== undefined;
        for (const t of this.tiers) picked.add(t);
        continue;
      }
      const matches = this.tiers.filter((t) =>
        typeof w === 'string' ? t.level === w || t.name === w : t.tier === w,
      );
      if (matches.length === 0) {
        throw new CacheLevelUnavailableError(
          typeof w === 'string' ? w : `tier ${w.name}`,
          configured(),
        );
      }
      for (const t of matches) picked.add(t);
    }
    return { l1, tiers: this.tiers.filter((t) => picked.has(t)) };
  }

  // ---------------------------------------------------------------- reads

  /** For cached(): the L1 entry of `key` (fresh or stale), counting one L1 hit or miss. */
  readL1(key: string, plan: Plan): CacheEnvelope | undefined {
    return plan.l1 ? this.l1!.get(key) : undefined;
  }

  /** Whether an envelope is logically fresh now (cached clock; never allocates). */
  isFresh(env: CacheEnvelope): boolean {
    const e = env.e;
    if (e === 0) return true;
    const clock = this.clock;
    let now = clock.value;
    if (now === 0) {
      clock.refresh();
      now = clock.value;
    } else clock.read = true;
    return e > now;
  }

  /** The rest of getOrSet after `readL1` gave `env` (undefined, or not fresh). */
  getOrSetAfterL1(
    key: string,
    env: CacheEnvelope | undefined,
    loader: Loader<unknown>,
    plan: Plan,
  ): Promise<unknown> {
    if (env !== undefined) return this.#stale(key, env, loader, plan, Date.now());
    return this.#missL1(key, loader, plan);
  }

  getOrSet(key: string, loader: Loader<unknown>, plan: Plan): Promise<unknown> {
    if (plan.l1) {
      const env = this.l1!.get(key);
      if (env !== undefined) {
        const e = env.e;
        if (e === 0) return Promise.resolve(env.v);
        const clock = this.clock;
        let now = clock.value;
        if (now === 0) {
          clock.refresh();
          now = clock.value;
        } else clock.read = true;
        if (e > now) return Promise.resolve(env.v);
        if (plan.tiers.length !== 0 && !isWellFormed(key))
          return Promise.reject(loneSurrogate('key', key));
        return this.#stale(key, env, loader, plan, now);
      }
    }
    // Checked only past the L1 hit, which it would slow down: the tiers are where it collides.
    if (plan.tiers.length !== 0 && !isWellFormed(key))
      return Promise.reject(loneSurrogate('key', key));
    return this.#missL1(key, loader, plan);
  }

  #missL1(key: string, loader: Loader<unknown>, plan: Plan): Promise<unknown> {
    const f = this.inflight.get(key);
    if (f !== undefined) {
      this.coalesced++;
      return f.loads ? f.value : this.#joinRead(f, key, loader, plan);
    }
    return this.#start(key, loader, plan, undefined, false).value;
  }

  /** A set or delete of `key`: flights in progress must not write their (older) result. */
  supersede(key: string): void {
    const f = this.inflight.get(key);
    if (f !== undefined) {
      f.superseded = true;
      this.inflight.delete(key);
    }
  }

  /** A clear: no flight in progress may write its (older) result. */
  supersedeAll(): void {
    for (const f of this.inflight.values()) f.superseded = true;
    this.inflight.clear();
  }

  /**
   * `tag` is being invalidated: a flight that will write it is superseded (its value was loaded
   * before the invalidation), and every other one remembers the tag, since what it reads from a
   * tier may carry it (checked by {@link Engine.mayStore} before storing).
   */
  supersedeTag(tag: string): void {
    for (const [key, f] of this.inflight) {
      if (f.tags !== undefined && f.tags.includes(tag)) {
        f.superseded = true;
        this.inflight.delete(key);
      } else (f.dropped ??= new Set()).add(tag);
    }
  }

  /** Whether `flight` may still store `env`: no set/delete/invalidation of it since it started. */
  mayStore(flight: Flight, env: CacheEnvelope): boolean {
    if (flight.superseded || this.closed) return false;
    const dropped = flight.dropped;
    if (dropped === undefined || env.t === undefined) return true;
    for (const t of env.t) if (dropped.has(t)) return false;
    return true;
  }

  get(key: string, plan: Plan): Promise<unknown> {
    if (this.closed) return Promise.reject(new CacheClosedError());
    if (plan.l1) {
      const env = this.l1!.get(key);
      if (env !== undefined && (env.e === 0 || env.e > this.clock.now()))
        return Promise.resolve(env.v);
    }
    if (plan.tiers.length === 0) return Promise.resolve(undefined);
    if (!isWellFormed(key)) return Promise.reject(loneSurrogate('key', key));
    const f = this.inflight.get(key);
    if (f !== undefined) {
      this.coalesced++;
      // A failed load belongs to the getOrSet caller that owns the loader: a read sees a miss.
      return f.loads ? f.value.then(undefined, () => undefined) : f.value;
    }
    return this.#start(key, undefined, plan, undefined, false).value;
  }

  async getMany(keys: readonly string[], plan: Plan): Promise<unknown[]> {
    if (this.closed) throw new CacheClosedError();
    const out = new Array<unknown>(keys.length).fill(undefined);
    const waits: Promise<void>[] = [];
    const missing: string[] = [];
    const missingAt: number[] = [];
    const seen = new Map<string, number>();
    const dupes: number[] = [];
    const now = Date.now();
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (plan.l1) {
        const env = this.l1!.get(key);
        if (env !== undefined && (env.e === 0 || env.e > now)) {
          out[i] = env.v;
          continue;
        }
      }
      if (plan.tiers.length === 0) continue;
      if (!isWellFormed(key)) throw loneSurrogate(`keys[${i}]`, key);
      const f = this.inflight.get(key);
      if (f !== undefined) {
        this.coalesced++;
        waits.push(
          f.env.then(
            (env) => {
              if (env !== undefined && !isStaleAt(env, Date.now())) out[i] = env.v;
            },
            noop, // a failed load of another caller is a miss here; that caller got the error
          ),
        );
        continue;
      }
      const first = seen.get(key);
      if (first !== undefined) {
        dupes.push(i, first);
        continue;
      }
      seen.set(key, i);
      missing.push(key);
      missingAt.push(i);
    }
    if (missing.length > 0) {
      const flights = missing.map((key) => {
        const flight: Flight = {
          loads: false,
          superseded: false,
          tags: plan.tags,
          env: undefined!,
          value: undefined!,
        };
        this.inflight.set(key, flight);
        return flight;
      });
      const batch = this.#readMany(missing, plan, flights);
      for (let j = 0; j < missing.length; j++) {
        const key = missing[j]!;
        const flight = flights[j]!;
        const env = batch.then((r) => r[j]);
        flight.env = env;
        flight.value = env.then(valueOf);
        void env.finally(() => {
          if (this.inflight.get(key) === flight) this.inflight.delete(key);
        });
      }
      const results = await batch;
      for (let j = 0; j < missing.length; j++) out[missingAt[j]!] = results[j]?.v;
    }
    if (waits.length > 0) await Promise.all(waits);
    for (let d = 0; d < dupes.length; d += 2) out[dupes[d]!] = out[dupes[d + 1]!];
    return out;
  }

  #joinRead(f: Flight, key: string, loader: Loader<unknown>, plan: Plan): Promise<unknown> {
    return f.env.then((env) => (env !== undefined ? env.v : this.getOrSet(key, loader, plan)));
  }

  /** An L1 entry exists but is past its logical expiry. */
  #stale(
    key: string,
    env: CacheEnvelope,
    loader: Loader<unknown>,
    plan: Plan,
    now: number,
  ): Promise<unknown> {
    const f = this.inflight.get(key);
    if (now < env.g) {
      // Grace: answer with the stale value; one background refresh (single-flight).
      this.staleServed++;
      if (f === undefined) {
        this.refreshes++;
        this.#start(key, loader, plan, env, true);
      }
      return Promise.resolve(env.v);
    }
    if (f !== undefined) {
      this.coalesced++;
      return f.loads ? f.value : this.#joinRead(f, key, loader, plan);
    }
    return this.#start(key, loader, plan, env, false).value;
  }

  #start(
    key: string,
    loader: Loader<unknown> | undefined,
    plan: Plan,
    stale: CacheEnvelope | undefined,
    background: boolean,
  ): Flight {
    const flight: Flight = {
      loads: loader !== undefined,
      superseded: false,
      tags: plan.tags,
      env: undefined!,
      value: undefined!,
    };
    this.inflight.set(key, flight);
    const env = Promise.resolve()
      .then(() => this.#load(key, loader, plan, stale, background, flight))
      .finally(() => {
        const done = (): void => {
          if (this.inflight.get(key) === flight) this.inflight.delete(key);
        };
        if (flight.writing === undefined) done();
        else void flight.writing.then(done);
      });
    flight.env = env;
    if (background) {
      flight.value = env.then(valueOf);
      // Failures are counted and published by #load; here they only must not go unhandled.
      const tracked: Promise<void> = flight.value
        .then(noop, noop)
        .finally(() => this.refreshing.delete(tracked));
      this.refreshing.add(tracked);
    } else {
      flight.value = env.then(valueOf);
    }
    return flight;
  }

  async #load(
    key: string,
    loader: Loader<unknown> | undefined,
    plan: Plan,
    stale: CacheEnvelope | undefined,
    background: boolean,
    flight: Flight,
  ): Promise<CacheEnvelope | undefined> {
    let staleEnv = stale;
    let staleAt = -1;
    const tiers = plan.tiers;
    for (let t = 0; t < tiers.length; t++) {
      const ts = tiers[t]!;
      const raw = await this.#tierGet(ts, key);
      if (raw === undefined) continue;
      const now = Date.now();
      const env = this.#toEnvelope(raw, plan, now);
      if (!isStaleAt(env, now)) {
        if (this.mayStore(flight, env)) this.#backfill(key, env, plan, t, now);
        return env;
      }
      if (envelopeRetainUntil(env) > now && (staleEnv === undefined || env.e > staleEnv.e)) {
        staleEnv = env;
        staleAt = t;
      }
      break;
    }
    if (loader === undefined) return undefined;

    let now = Date.now();
    if (!background && staleEnv !== undefined && now < staleEnv.g) {
      // Found a graced value in a slower tier: serve it and refresh in the background.
      this.staleServed++;
      // Unless a set, delete or invalidation came during the tier reads: then this caller still
      // gets what it read, but neither the stale value nor a refresh may replace the newer state.
      if (!this.mayStore(flight, staleEnv)) return staleEnv;
      this.#backfill(key, staleEnv, plan, staleAt === -1 ? 0 : staleAt, now);
      if (this.inflight.get(key) === flight) this.inflight.delete(key);
      this.refreshes++;
      this.#start(key, loader, plan, staleEnv, true);
      return staleEnv;
    }

    let value: unknown;
    this.loads++;
    try {
      value = await loader();
    } catch (error) {
      this.loadErrors++;
      now = Date.now();
      if (background) {
        // Nobody awaits a background refresh: count and publish its failure here.
        this.refreshErrors++;
        this.#event({ cache: this.name, type: 'refresh-error', key, error });
      }
      if (staleEnv !== undefined && now < Math.max(staleEnv.s, staleEnv.g)) {
        // Stale-if-error (callers that joined a failed background refresh get the stale value too).
        if (!background) {
          this.staleIfErrorServed++;
          this.#event({ cache: this.name, type: 'stale-if-error', key, error });
        }
        return staleEnv;
      }
      throw error;
    }
    now = Date.now();
    if (value === undefined) {
      if (plan.negativeTtlMs === 0) return undefined;
      this.negativeWrites++;
      const e = now + plan.negativeTtlMs;
      const neg: CacheEnvelope =
        plan.tags === undefined
          ? { __pt: 1, v: undefined, e, g: e, s: e, n: 1 }
          : { __pt: 1, v: undefined, e, g: e, s: e, n: 1, t: plan.tags };
      if (!this.mayStore(flight, neg)) return { __pt: 1, v: undefined, e, g: 0, s: 0, n: 1 };
      this.#writeBehind(key, neg, plan, now, flight);
      return neg;
    }
    const env = this.makeEnvelope(value, plan, now);
    if (this.mayStore(flight, env)) this.#writeBehind(key, env, plan, now, flight);
    return env;
  }

  async #readMany(
    keys: readonly string[],
    plan: Plan,
    flights: readonly Flight[],
  ): Promise<(CacheEnvelope | undefined)[]> {
    const out = new Array<CacheEnvelope | undefined>(keys.length).fill(undefined);
    let pendingIdx = keys.map((_, i) => i);
    for (let t = 0; t < plan.tiers.length && pendingIdx.length > 0; t++) {
      const ts = plan.tiers[t]!;
      const ks = pendingIdx.map((i) => keys[i]!);
      const raw = await this.#tierGetMany(ts, ks);
      if (raw === undefined) continue;
      const now = Date.now();
      const still: number[] = [];
      for (let j = 0; j < pendingIdx.length; j++) {
        const i = pendingIdx[j]!;
        const r = raw[j];
        if (r === undefined) {
          still.push(i);
          continue;
        }
        const env = this.#toEnvelope(r, plan, now);
        if (isStaleAt(env, now)) {
          still.push(i);
          continue;
        }
        out[i] = env;
        // A set/delete/invalidation during the read: the caller gets the value, L1 keeps the newer state.
        if (this.mayStore(flights[i]!, env)) this.#backfill(keys[i]!, env, plan, t, now);
      }
      pendingIdx = still;
    }
    return out;
  }

  // ---------------------------------------------------------------- writes

  makeEnvelope(value: unknown, plan: Plan, now: number): CacheEnvelope {
    let ttl = plan.ttlMs;
    if (ttl === 0 || ttl === Infinity) {
      return plan.tags === undefined
        ? { __pt: 1, v: value, e: 0, g: 0, s: 0 }
        : { __pt: 1, v: value, e: 0, g: 0, s: 0, t: plan.tags };
    }
    if (this.jitter !== 0) ttl *= 1 + this.jitter * (2 * Math.random() - 1);
    const e = now + ttl;
    const g = e + plan.graceMs;
    const s = e + plan.staleIfErrorMs;
    return plan.tags === undefined
      ? { __pt: 1, v: value, e, g, s }
      : { __pt: 1, v: value, e, g, s, t: plan.tags };
  }

  /** Write an envelope to L1 (sync) and every tier of the plan (awaited, each within its timeout). */
  async write(key: string, env: CacheEnvelope, plan: Plan, now: number): Promise<void> {
    if (plan.l1) this.#setL1(key, env, now);
    if (plan.tiers.length === 0) return;
    await this.#writeTiers(key, env, plan, now);
  }

  /**
   * A loaded value: L1 now, the tiers in the background (tracked, each within its timeout), so
   * a slow tier does not delay the callers. The flight stays joinable until the writes settle.
   */
  #writeBehind(key: string, env: CacheEnvelope, plan: Plan, now: number, flight: Flight): void {
    if (plan.l1) this.#setL1(key, env, now);
    if (plan.tiers.length === 0) return;
    const writing = this.#writeTiers(key, env, plan, now);
    flight.writing = writing;
    this.#track(writing);
  }

  async #writeTiers(key: string, env: CacheEnvelope, plan: Plan, now: number): Promise<void> {
    const retain = envelopeRetainUntil(env);
    const ttlMs = retain === 0 ? 0 : Math.max(1, retain - now);
    const opts = env.t === undefined ? { ttlMs } : { ttlMs, tags: env.t };
    await Promise.all(
      plan.tiers.map((ts) => this.#tierCall(ts, 'set', key, () => ts.tier.set(key, env, opts))),
    );
  }

  #setL1(key: string, env: CacheEnvelope, now: number): void {
    const l1 = this.l1!;
    const retain = envelopeRetainUntil(env);
    let ttlMs = retain === 0 ? 0 : retain - now;
    if (retain !== 0 && ttlMs <= 0) {
      l1.delete(key);
      return;
    }
    const cap = this.l1TtlCapMs;
    if (cap !== 0 && cap !== Infinity && (ttlMs === 0 || ttlMs > cap)) ttlMs = cap;
    l1.set(key, env, { ttlMs });
    if (env.t !== undefined) this.#indexTags(key, env.t);
  }

  /** Copy a value found in tier `found` (index in plan.tiers) into L1 and the faster tiers. */
  #backfill(key: string, env: CacheEnvelope, plan: Plan, found: number, now: number): void {
    if (plan.l1) this.#setL1(key, env, now);
    if (found === 0) return;
    const retain = envelopeRetainUntil(env);
    const ttlMs = retain === 0 ? 0 : Math.max(1, retain - now);
    const opts = env.t === undefined ? { ttlMs } : { ttlMs, tags: env.t };
    for (let t = 0; t < found && t < plan.tiers.length; t++) {
      const ts = plan.tiers[t]!;
      this.#track(this.#tierCall(ts, 'set', key, () => ts.tier.set(key, env, opts)));
    }
  }

  #indexTags(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      let set = this.tagIndex.get(tag);
      if (set === undefined) this.tagIndex.set(tag, (set = new Set()));
      if (!set.has(key)) {
        set.add(key);
        this.tagRefs++;
      }
    }
    const l1 = this.l1!;
    if (this.tagRefs > 2 * Math.min(l1.max, 1_000_000) + 1024) this.#pruneTags();
  }

  /** Drop index entries whose key left L1 (evictions do not update the index eagerly). */
  #pruneTags(): void {
    const l1 = this.l1!;
    let refs = 0;
    for (const [tag, set] of this.tagIndex) {
      for (const k of set) {
        const env = l1.peek(k);
        if (env === undefined || env.t === undefined || !env.t.includes(tag)) set.delete(k);
      }
      if (set.size === 0) this.tagIndex.delete(tag);
      refs += set.size;
    }
    this.tagRefs = refs;
  }

  async delete(key: string, plan: Plan): Promise<boolean> {
    let removed = plan.l1 ? this.l1!.delete(key) : false;
    const results = await Promise.all(
      plan.tiers.map((ts) => this.#tierCall(ts, 'delete', key, () => ts.tier.delete(key))),
    );
    for (const r of results) if (r === true) removed = true;
    return removed;
  }

  async deleteByTag(tag: string, plan: Plan): Promise<number> {
    this.supersedeTag(tag);
    let best = 0;
    if (plan.l1) best = this.#l1ByTag(tag, false);
    const counts = await Promise.all(
      plan.tiers.map((ts) => {
        const tier = ts.tier;
        if (typeof tier.deleteByTag !== 'function') {
          this.#event({
            cache: this.name,
            type: 'tier-unsupported',
            key: undefined,
            tier: ts.name,
          });
          return Promise.resolve(0);
        }
        return this.#tierCall(ts, 'deleteByTag', tag, () => tier.deleteByTag!(tag));
      }),
    );
    for (const c of counts) if (typeof c === 'number' && c > best) best = c;
    return best;
  }

  async expireByTag(tag: string, plan: Plan): Promise<number> {
    this.supersedeTag(tag);
    let best = 0;
    if (plan.l1) best = this.#l1ByTag(tag, true);
    const counts = await Promise.all(
      plan.tiers.map((ts) => {
        const tier = ts.tier;
        if (typeof tier.expireByTag === 'function')
          return this.#tierCall(ts, 'expireByTag', tag, () => tier.expireByTag!(tag));
        if (typeof tier.deleteByTag === 'function')
          return this.#tierCall(ts, 'deleteByTag', tag, () => tier.deleteByTag!(tag));
        this.#event({ cache: this.name, type: 'tier-unsupported', key: undefined, tier: ts.name });
        return Promise.resolve(0);
      }),
    );
    for (const c of counts) if (typeof c === 'number' && c > best) best = c;
    return best;
  }

  #l1ByTag(tag: string, expire: boolean): number {
    const set = this.tagIndex.get(tag);
    if (set === undefined) return 0;
    const l1 = this.l1!;
    const now = Date.now();
    let n = 0;
    for (const key of set) {
      const env = l1.peek(key);
      if (env === undefined || env.t === undefined || !env.t.includes(tag)) continue;
      n++;
      if (!expire) {
        l1.delete(key);
        continue;
      }
      const next = expireEnvelope(env, now);
      if (next === undefined) l1.delete(key);
      else if (next !== env) this.#setL1(key, next, now);
    }
    this.tagRefs -= set.size;
    this.tagIndex.delete(tag);
    if (expire) {
      // Re-index the survivors (they still carry the tag).
      for (const key of set) {
        const env = l1.peek(key);
        if (env?.t !== undefined) this.#indexTags(key, env.t);
      }
    }
    return n;
  }

  async clear(plan: Plan): Promise<void> {
    this.supersedeAll();
    if (plan.l1) {
      this.l1!.clear();
      this.tagIndex.clear();
      this.tagRefs = 0;
    }
    await Promise.all(
      plan.tiers.map((ts) => this.#tierCall(ts, 'clear', undefined, () => ts.tier.clear())),
    );
  }

  // ---------------------------------------------------------------- tier calls

  #toEnvelope(raw: unknown, plan: Plan, now: number): CacheEnvelope {
    if (isCacheEnvelope(raw)) return raw;
    // Written by someone else without an envelope: a fresh value with the operation's TTL.
    return this.makeEnvelope(raw, plan, now);
  }

  async #tierGet(ts: TierState, key: string): Promise<unknown> {
    const r = await this.#tierCall(ts, 'get', key, () => ts.tier.get(key));
    if (r === FAILED) return undefined;
    if (r === undefined) ts.stats.misses++;
    else ts.stats.hits++;
    return r;
  }

  async #tierGetMany(
    ts: TierState,
    keys: readonly string[],
  ): Promise<readonly unknown[] | undefined> {
    const tier = ts.tier;
    const r = await this.#tierCall(ts, 'getMany', keys[0], () =>
      typeof tier.getMany === 'function'
        ? tier.getMany(keys)
        : Promise.all(keys.map((k) => tier.get(k))),
    );
    if (r === FAILED || !Array.isArray(r)) return undefined;
    for (const v of r) {
      if (v === undefined) ts.stats.misses++;
      else ts.stats.hits++;
    }
    return r;
  }

  /**
   * Run one tier call within the tier's timeout. Never rejects: a throw, a rejection or a
   * timeout is counted, published, and returned as FAILED.
   */
  async #tierCall<T>(
    ts: TierState,
    op: string,
    key: string | undefined,
    fn: () => Promise<T>,
  ): Promise<T | typeof FAILED> {
    const start = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let outcome: TierEvent['outcome'] = 'ok';
    let error: unknown;
    try {
      const p = fn();
      const timeout = new Promise<typeof TIMEOUT>((resolve) => {
        timer = setTimeout(resolve, ts.timeoutMs, TIMEOUT);
      });
      const r = await Promise.race([p, timeout]);
      if (r === TIMEOUT) {
        // The late answer (or rejection) of a timed-out call is dropped; the timeout is counted.
        Promise.resolve(p).catch(noop);
        ts.stats.timeouts++;
        outcome = 'timeout';
        error = new TierTimeoutError(ts.name, op, ts.timeoutMs);
        this.#event({ cache: this.name, type: 'tier-timeout', key, tier: ts.name, error });
        return FAILED;
      }
      if (op === 'get') outcome = r === undefined ? 'miss' : 'hit';
      else if (op === 'set' || op === 'delete' || op === 'clear') ts.stats.writes++;
      return r;
    } catch (err) {
      ts.stats.errors++;
      outcome = 'error';
      error = err;
      this.#event({ cache: this.name, type: 'tier-error', key, tier: ts.name, error: err });
      return FAILED;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      const durationMs = performance.now() - start;
      ts.stats.record(durationMs);
      if (tierChannel.hasSubscribers) {
        const event: TierEvent =
          error === undefined
            ? { cache: this.name, tier: ts.name, op, outcome, durationMs, key }
            : { cache: this.name, tier: ts.name, op, outcome, durationMs, key, error };
        tierChannel.publish(event);
      }
    }
  }

  #event(event: CacheEvent): void {
    if (eventChannel.hasSubscribers) eventChannel.publish(event);
  }

  #track(p: Promise<unknown>): void {
    const tracked = p.then(noop, noop).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  async idle(): Promise<void> {
    while (this.pending.size > 0 || this.refreshing.size > 0 || this.inflight.size > 0) {
      const all: Promise<unknown>[] = [...this.pending, ...this.refreshing];
      for (const f of this.inflight.values()) all.push(f.env.then(noop, noop));
      await Promise.all(all);
    }
  }

  stats(): MultiLevelCacheStats {
    return {
      name: this.name,
      l1: this.l1?.stats(),
      tiers: this.tiers.map((t) => t.stats.snapshot(t.name, t.level, t.timeoutMs)),
      loads: this.loads,
      loadErrors: this.loadErrors,
      coalesced: this.coalesced,
      staleServed: this.staleServed,
      staleIfErrorServed: this.staleIfErrorServed,
      refreshes: this.refreshes,
      refreshErrors: this.refreshErrors,
      negativeWrites: this.negativeWrites,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.tiers) t.unsubscribe?.();
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    // Background tier writes are bounded by the tier timeouts; loaders in flight are not
    // awaited (their results still reach their callers but are no longer written).
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    await Promise.all(
      this.tiers.map(async (t) => {
        try {
          await t.tier.close?.();
        } catch (error) {
          t.stats.errors++;
          this.#event({
            cache: this.name,
            type: 'tier-error',
            key: undefined,
            tier: t.name,
            error,
          });
        }
      }),
    );
    this.clock.stop();
  }
}

/** A rejected promise carrying exactly what was thrown (the caller's own error, untouched). @internal */
export function rejected(error: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
  return Promise.reject(error);
}

function valueOf(env: CacheEnvelope | undefined): unknown {
  return env === undefined ? undefined : env.v;
}

function isStaleAt(env: CacheEnvelope, now: number): boolean {
  return env.e !== 0 && env.e <= now;
}

function isStringArray(x: unknown): x is readonly string[] {
  return Array.isArray(x) && (x as unknown[]).every((t) => typeof t === 'string');
}

function isTierConfig(x: CacheTier | TierConfig): x is TierConfig {
  return typeof x === 'object' && x !== null && 'tier' in x && typeof x.tier === 'object';
}

function inferLevel(name: string): string {
  const n = name.toLowerCase();
  if (n.includes('redis')) return 'redis';
  if (n.includes('disk') || n.includes('sqlite') || n.includes('file')) return 'disk';
  return name;
}

function checkMs(name: string, value: unknown, allowInfinity: boolean): number {
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < 0 ||
    (!allowInfinity && !Number.isFinite(value))
  ) {
    throw new CacheOptionError(
      name,
      value,
      allowInfinity
        ? 'must be a number of milliseconds ≥ 0 (0 or Infinity: no expiry)'
        : 'must be a finite number of milliseconds ≥ 0',
    );
  }
  return value;
}

/** Validate a cacheLevel value (names are checked against tiers later, when resolved). @internal */
export function validateLevel(option: string, level: unknown): asserts level is CacheLevel {
  if (typeof level === 'string') {
    if ((CACHE_LEVELS as readonly string[]).includes(level)) return;
    throw new CacheOptionError(
      option,
      level,
      `must be one of ${CACHE_LEVELS.map((l) => `'${l}'`).join(', ')} or a list of levels/tiers`,
    );
  }
  if (Array.isArray(level) && level.length > 0) {
    for (const item of level as unknown[]) {
      if (typeof item === 'string' && item !== '') continue;
      if (
        typeof item === 'object' &&
        item !== null &&
        typeof (item as CacheTier).get === 'function'
      )
        continue;
      throw new CacheOptionError(
        option,
        level,
        'a list must hold level names (memory, redis, disk, or a tier level/name) or CacheTier objects',
      );
    }
    return;
  }
  throw new CacheOptionError(
    option,
    level,
    `must be one of ${CACHE_LEVELS.map((l) => `'${l}'`).join(', ')} or a non-empty list of levels/tiers`,
  );
}

/** @internal Set by MultiLevelCache's static block. */

export let internals: (cache: MultiLevelCache) => CacheInternals;

/**
 * A cache over ordered tiers: an in-process {@link LruCache} L1, then any {@link CacheTier}s
 * (Redis, disk, ...), fastest first.
 *
 * - Reads go through the tiers in order; a value found in a slower tier is copied back into the
 *   faster ones (backfill).
 * - Single-flight: concurrent misses of one key, on every read path (`get`, `getMany`,
 *   `getOrSet`), share one tier read and one loader call. A loader rejection reaches every
 *   waiter of that flight once; the next call starts a new flight.
 * - Grace: within `graceMs` after expiry the stale value is served while one background
 *   refresh runs. Stale-if-error: within `staleIfErrorMs` after expiry a failed load returns
 *   the stale value.
 * - Negative caching: a loader resolving undefined is remembered for `negativeTtlMs`.
 * - Each tier call runs within the tier's timeout; a tier that throws or hangs is skipped,
 *   counted, and published on diagnostics_channel; it never fails the caller.
 * - Entries are stored as {@link CacheEnvelope}s (value + logical expiry + grace/stale ends)
 *   with a physical TTL of ttl + max(grace, staleIfError) in every tier.
 * - The tiers' `onInvalidate` hooks (shared tiers) are subscribed at construction: the keys
 *   they report are dropped from L1 (all of L1 on `'all'`).
 *
 * Options passed to an operation are resolved once per options object and remembered, so
 * pass a constant object on hot paths.
 *
 * Keys and tags that reach a tier must be well-formed UTF-16: one holding a lone surrogate
 * rejects the operation with `CacheKeyError` before any tier is called (byte tiers store keys
 * as UTF-8, where it would share an entry with other keys). Operations served by L1 alone
 * (no tiers, `cacheLevel: 'memory'`, a fresh L1 hit) do not check, to keep the hit path fast.
 */
export class MultiLevelCache {
  #engine: Engine;
  #prefix: string;
  #nsTag: string | undefined;
  #plans = new WeakMap<object, Plan>();
  #defaultPlan: Plan | undefined;

  static {
    internals = (cache) => ({
      engine: cache.#engine,
      prefix: cache.#prefix,
      plan: (options) => cache.#plan(options),
    });
  }

  /** @throws {CacheOptionError} for an out-of-range option, naming it. */
  constructor(options: MultiLevelCacheOptions = {}) {
    if ((options as unknown) === NAMESPACE_INIT) {
      this.#engine = undefined!;
      this.#prefix = '';
      this.#nsTag = undefined;
      return;
    }
    if (typeof options !== 'object' || options === null)
      throw new CacheOptionError('options', options, 'must be an object');
    this.#engine = new Engine(options);
    this.#prefix = '';
    this.#nsTag = undefined;
  }

  /** Name used in stats and events. */
  get name(): string {
    return this.#engine.name;
  }

  /** Key prefix of this namespace ('' for the root cache). */
  get prefix(): string {
    return this.#prefix;
  }

  /** The L1 (undefined when built with `l1: false`). Shared by every namespace. */
  get l1(): LruCache<string, CacheEnvelope> | undefined {
    return this.#engine.l1;
  }

  /** Tier names, fastest first (L1 not included). */
  get tierNames(): readonly string[] {
    return this.#engine.tiers.map((t) => t.name);
  }

  /**
   * Append a tier (slowest position) to this cache and all its namespaces; subscribes to its
   * `onInvalidate`. Operations resolved before see the new tier from their next call.
   */
  addTier(tier: CacheTier | TierConfig): void {
    this.#engine.addTier(tier);
  }

  /**
   * The value for `key`: from the first tier that has a fresh one (backfilling the faster
   * tiers), else from `loader` (written to every tier of the level). Concurrent calls for the
   * same key share one tier read and one loader call.
   *
   * @param options resolved once per object; pass a constant object on hot paths.
   * @returns the value; undefined when the loader resolved undefined (negative-cached when
   *   `negativeTtlMs` > 0).
   */
  getOrSet<V>(key: string, loader: Loader<V>, options?: GetOrSetOptions): Promise<V> {
    let plan: Plan;
    try {
      plan = this.#plan(options);
    } catch (error) {
      return rejected(error);
    }
    const engine = this.#engine;
    if (engine.closed) return Promise.reject(new CacheClosedError());
    if (typeof key !== 'string') return Promise.reject(keyError(key));
    if (typeof loader !== 'function') {
      return Promise.reject(
        new CacheOptionError(
          'loader',
          loader,
          'must be a function returning the value (or a promise of it)',
        ),
      );
    }
    return engine.getOrSet(
      this.#prefix === '' ? key : this.#prefix + key,
      loader,
      plan,
    ) as Promise<V>;
  }

  /** The fresh value of `key` from the first tier that has one (backfilling faster tiers), or undefined. Single-flight. */
  get<V = unknown>(key: string, options?: ReadOptions): Promise<V | undefined> {
    let plan: Plan;
    try {
      plan = this.#plan(options);
    } catch (error) {
      return rejected(error);
    }
    if (typeof key !== 'string') return Promise.reject(keyError(key));
    return this.#engine.get(this.#prefix === '' ? key : this.#prefix + key, plan) as Promise<
      V | undefined
    >;
  }

  /** Fresh values of several keys (undefined for misses), using tiers' `getMany` when they have one. Single-flight per key. */
  async getMany<V = unknown>(
    keys: readonly string[],
    options?: ReadOptions,
  ): Promise<(V | undefined)[]> {
    const plan = this.#plan(options);
    if (!isStringArray(keys))
      throw new CacheOptionError('keys', keys, 'must be an array of strings');
    const full = this.#prefix === '' ? keys : keys.map((k) => this.#prefix + k);
    return (await this.#engine.getMany(full, plan)) as (V | undefined)[];
  }

  /** Store a value in L1 (synchronously) and in every tier of the level (awaited, each within its timeout). */
  async set<V>(key: string, value: V, options?: WriteOptions): Promise<void> {
    const plan = this.#plan(options);
    const engine = this.#engine;
    if (engine.closed) throw new CacheClosedError();
    if (typeof key !== 'string') throw keyError(key);
    if (plan.tiers.length !== 0 && !isWellFormed(key)) throw loneSurrogate('key', key);
    const full = this.#prefix === '' ? key : this.#prefix + key;
    engine.supersede(full);
    const now = Date.now();
    await engine.write(full, engine.makeEnvelope(value, plan, now), plan, now);
  }

  /** Remove `key` from every tier of the level. @returns whether any tier reported a removal. */
  async delete(key: string, options?: ReadOptions): Promise<boolean> {
    const plan = this.#plan(options);
    if (typeof key !== 'string') throw keyError(key);
    if (plan.tiers.length !== 0 && !isWellFormed(key)) throw loneSurrogate('key', key);
    const full = this.#prefix === '' ? key : this.#prefix + key;
    this.#engine.supersede(full);
    return this.#engine.delete(full, plan);
  }

  /**
   * Remove every entry carrying `tag` from every tier (tiers without `deleteByTag` are skipped
   * and reported as `tier-unsupported` events). @returns the largest count one tier reported.
   */
  async deleteByTag(tag: string, options?: ReadOptions): Promise<number> {
    checkTag(tag);
    const plan = this.#plan(options);
    if (plan.tiers.length !== 0 && !isWellFormed(tag)) throw loneSurrogate('tag', tag);
    return this.#engine.deleteByTag(this.#prefix + tag, plan);
  }

  /**
   * Mark every entry carrying `tag` as expired: it is then served only under grace or
   * stale-if-error until it is refreshed. Tiers without `expireByTag` fall back to `deleteByTag`.
   * @returns the largest count one tier reported.
   */
  async expireByTag(tag: string, options?: ReadOptions): Promise<number> {
    checkTag(tag);
    const plan = this.#plan(options);
    if (plan.tiers.length !== 0 && !isWellFormed(tag)) throw loneSurrogate('tag', tag);
    return this.#engine.expireByTag(this.#prefix + tag, plan);
  }

  /**
   * Remove everything: the whole cache for the root, or only this namespace's entries (by its
   * implicit tag) for a namespace.
   */
  async clear(): Promise<void> {
    if (this.#nsTag !== undefined) {
      await this.#engine.deleteByTag(this.#nsTag, this.#plan(undefined));
      return;
    }
    await this.#engine.clear(this.#plan(undefined));
  }

  /**
   * A view of this cache whose keys and tags are prefixed with `name:`. It shares tiers, L1,
   * single-flight and stats with its parent; its entries carry an implicit tag so that its
   * `clear()` removes only them. Namespaces nest.
   */
  namespace(name: string): MultiLevelCache {
    if (typeof name !== 'string' || name === '')
      throw new CacheOptionError('namespace', name, 'must be a non-empty string');
    if (!isWellFormed(name)) {
      throw new CacheOptionError(
        'namespace',
        name,
        'must not hold a lone surrogate (tiers store keys as UTF-8, where it would collide with other namespaces)',
      );
    }
    const view = new MultiLevelCache(NAMESPACE_INIT as unknown as MultiLevelCacheOptions);
    view.#engine = this.#engine;
    view.#prefix = `${this.#prefix}${name}:`;
    view.#nsTag = `@ns:${view.#prefix}`;
    return view;
  }

  /** Counters of L1 and every tier. */
  stats(): MultiLevelCacheStats {
    return this.#engine.stats();
  }

  /** Publish `stats()` on the {@link STATS_CHANNEL} diagnostics channel (when subscribed). */
  publishStats(): MultiLevelCacheStats {
    const s = this.stats();
    if (statsChannel.hasSubscribers) statsChannel.publish(s);
    return s;
  }

  /** Resolves when no background work (refreshes, backfills) and no flight is pending. */
  idle(): Promise<void> {
    return this.#engine.idle();
  }

  /** Unsubscribe from tiers, wait for background work, close every tier. Later operations reject. */
  close(): Promise<void> {
    return this.#engine.close();
  }

  #plan(options: GetOrSetOptions | undefined): Plan {
    const engine = this.#engine;
    if (options === undefined) {
      const p = this.#defaultPlan;
      if (p !== undefined && p.version === engine.version) return p;
      return (this.#defaultPlan = engine.makePlan(undefined, this.#prefix, this.#nsTag));
    }
    const p = this.#plans.get(options);
    if (p !== undefined && p.version === engine.version) return p;
    if (typeof options !== 'object' || options === null)
      throw new CacheOptionError('options', options, 'must be an object');
    const fresh = engine.makePlan(options, this.#prefix, this.#nsTag);
    this.#plans.set(options, fresh);
    return fresh;
  }
}

function keyError(key: unknown): CacheOptionError {
  return new CacheOptionError('key', key, 'must be a string');
}

function checkTag(tag: unknown): void {
  if (typeof tag !== 'string' || tag === '')
    throw new CacheOptionError('tag', tag, 'must be a non-empty string');
}

/**
 * The error for a key or tag holding a lone surrogate, raised before it reaches a tier. Byte
 * tiers (Redis, SQLite) store keys as UTF-8, where every lone surrogate becomes U+FFFD:
 * `'a\ud800'` and `'a\udbff'` would silently share one entry there. Operations that use only
 * L1 (a JS Map, where they stay apart) accept such keys.
 */
function loneSurrogate(path: string, value: string): CacheKeyError {
  return new CacheKeyError(
    path,
    `${JSON.stringify(value)} holds a lone surrogate; the Redis and disk tiers store keys as UTF-8, where it would become U+FFFD and share an entry with other keys (escape it, e.g. with JSON.stringify or encodeKey)`,
  );
}

/** @internal Access for cached(): engine, prefix and plan resolution of a cache. */
export interface CacheInternals {
  readonly engine: {
    readL1(key: string, plan: Plan): CacheEnvelope | undefined;
    isFresh(env: CacheEnvelope): boolean;
    getOrSetAfterL1(
      key: string,
      env: CacheEnvelope | undefined,
      loader: Loader<unknown>,
      plan: Plan,
    ): Promise<unknown>;
    getOrSet(key: string, loader: Loader<unknown>, plan: Plan): Promise<unknown>;
    readonly closed: boolean;
    readonly version: number;
  };
  readonly prefix: string;
  plan(options: GetOrSetOptions | undefined): Plan;
}
