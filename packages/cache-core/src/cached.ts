import { defaultCacheVersion, getDefaultCache, isDefaultCachingEnabled } from './default-cache.js';
import { CacheClosedError, CacheOptionError } from './errors.js';
import { callKey, DEFAULT_MAX_KEY_LENGTH } from './keys.js';
import {
  type CacheInternals,
  type CacheLevel,
  type GetOrSetOptions,
  internals,
  MultiLevelCache,
  type Plan,
  rejected,
  validateLevel,
} from './multi-level.js';

/** Options of {@link cached}. Validated when `cached()` runs (at class definition for the decorator). */
export interface CachedOptions<A extends readonly unknown[] = readonly unknown[]> {
  /** Time to live in **seconds** (default: the cache's TTL); 0 or Infinity: no expiry. */
  readonly ttl?: number;
  /** Grace window in seconds after expiry: the stale value is served while one refresh runs (default: the cache's). */
  readonly grace?: number;
  /** Stale-if-error window in seconds after expiry (default: the cache's). */
  readonly staleIfError?: number;
  /** Negative-caching TTL in seconds for calls resolving undefined (default: the cache's). */
  readonly negativeTtl?: number;
  /**
   * Where to cache: `'memory'` (L1 only), `'redis'`, `'disk'`, `'all'` (default), or a list of
   * levels/tiers. A named level with no tier configured rejects the call with
   * `CacheLevelUnavailableError` (no silent fallback).
   */
  readonly cacheLevel?: CacheLevel;
  /**
   * Custom key of a call (called with the same `this` and arguments); the final key is
   * `<name>:<what it returns>`. Default: a stable encoding of the arguments ({@link callKey}).
   */
  readonly key?: (...args: A) => string;
  /** Tags of the stored entries, or a function of the arguments returning them. */
  readonly tags?: readonly string[] | ((...args: A) => readonly string[]);
  /** The cache to use (default: the process-wide {@link getDefaultCache}). */
  readonly cache?: MultiLevelCache;
  /**
   * Key prefix naming the function (default: the function's name; `Class.method` for the
   * decorator). Required for anonymous functions.
   */
  readonly name?: string;
  /** Encoded argument lists longer than this are hashed (SHA-256), default 200 characters. */
  readonly maxKeyLength?: number;
}

/** A function wrapped by {@link cached}: same arguments, always returns a Promise. */
export interface CachedFunction<A extends readonly unknown[], R> {
  (...args: A): Promise<R>;
  /** The cache key a call with these arguments uses (without a namespace prefix). */
  keyFor(...args: A): string;
  /** Remove the cached result of a call with these arguments from every level. */
  invalidate(...args: A): Promise<boolean>;
}

/** Entries of the per-function memo of single-primitive-argument keys (cleared when full). */
const KEY_MEMO_SIZE = 4096;

interface State {
  readonly cache: MultiLevelCache;
  readonly ints: CacheInternals;
  readonly enabled: boolean;
  readonly defaultVersion: number;
  plan: Plan | undefined;
}

type AnyFn = (this: unknown, ...args: never[]) => unknown;

/**
 * Cache the results of an async (or sync) function: `cached(fn, { ttl: 300, cacheLevel: 'memory' })`.
 *
 * Calls with equal arguments (by {@link callKey}'s encoding: object key order ignored, 1 and
 * '1' distinct) share one cached result and, while it loads, one call of `fn` (single-flight).
 * Without `cache`, the process-wide default cache is used; when `performance.enable_caching`
 * is false the wrapper calls straight through.
 *
 * @throws {CacheOptionError} for a bad option (negative ttl, unknown cacheLevel, anonymous
 *   function without `name`), naming it.
 */
export function cached<A extends readonly unknown[], R>(
  fn: (...args: A) => R,
  options?: CachedOptions<A>,
): CachedFunction<A, Awaited<R>>;
/**
 * TC39 standard method decorator form: `@cached({ ttl: 300, cacheLevel: 'memory' })` on an
 * async method (the replacement returns a Promise). The key prefix defaults to
 * `ClassName.method` (the class of the first call's `this`); `this` is not part of the key
 * (give `key` to include instance identity).
 */
export function cached<This, A extends unknown[], R>(
  options?: CachedOptions<A>,
): (
  target: (this: This, ...args: A) => Promise<R>,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => Promise<R>>,
) => (this: This, ...args: A) => Promise<R>;
export function cached(fnOrOptions?: AnyFn | CachedOptions, maybeOptions?: CachedOptions): unknown {
  if (typeof fnOrOptions === 'function') {
    const options = maybeOptions ?? {};
    const name = options.name ?? fnOrOptions.name;
    if (typeof name !== 'string' || name === '') {
      throw new CacheOptionError(
        'name',
        options.name,
        'give a name for an anonymous function (it prefixes every key)',
      );
    }
    return wrap(fnOrOptions, options, () => name);
  }
  const options = fnOrOptions ?? {};
  // Validate now (class definition time), not at first call.
  resolveStaticOptions(options);
  return (target: AnyFn, context: ClassMethodDecoratorContext) => {
    if (context?.kind !== 'method') {
      throw new CacheOptionError('@cached', context?.kind, 'applies to class methods only');
    }
    const method = String(context.name);
    const isStatic = context.static;
    const nameOf =
      options.name !== undefined
        ? () => options.name!
        : (self: unknown): string => {
            const owner = isStatic
              ? (self as { name?: unknown })
              : (self as { constructor?: { name?: unknown } } | undefined)?.constructor;
            const cls =
              typeof owner?.name === 'string' && owner.name !== '' ? owner.name : 'anonymous';
            return `${cls}.${method}`;
          };
    const wrapped = wrap(target, options, nameOf);
    return function (this: unknown, ...args: never[]) {
      return wrapped.apply(this, args);
    };
  };
}

interface StaticOptions {
  readonly getOrSet: GetOrSetOptions;
  readonly tagsFn: ((...args: never[]) => readonly string[]) | undefined;
  readonly keyFn: ((...args: never[]) => string) | undefined;
  readonly maxKeyLength: number;
}

function resolveStaticOptions(options: CachedOptions): StaticOptions {
  if (typeof options !== 'object' || options === null)
    throw new CacheOptionError('options', options, 'must be an object');
  const seconds = (
    name: string,
    v: number | undefined,
    allowInfinity: boolean,
  ): number | undefined => {
    if (v === undefined) return undefined;
    if (
      typeof v !== 'number' ||
      Number.isNaN(v) ||
      v < 0 ||
      (!allowInfinity && !Number.isFinite(v))
    ) {
      throw new CacheOptionError(
        name,
        v,
        `must be a number of seconds ≥ 0${allowInfinity ? ' (0 or Infinity: no expiry)' : ''}`,
      );
    }
    return v * 1000;
  };
  const ttlMs = seconds('ttl', options.ttl, true);
  const graceMs = seconds('grace', options.grace, false);
  const staleIfErrorMs = seconds('staleIfError', options.staleIfError, false);
  const negativeTtlMs = seconds('negativeTtl', options.negativeTtl, false);
  if (options.cacheLevel !== undefined) validateLevel('cacheLevel', options.cacheLevel);
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new CacheOptionError('key', options.key, 'must be a function (...args) => string');
  }
  let staticTags: readonly string[] | undefined;
  let tagsFn: ((...args: never[]) => readonly string[]) | undefined;
  if (typeof options.tags === 'function') tagsFn = options.tags;
  else if (options.tags !== undefined) {
    if (
      !Array.isArray(options.tags) ||
      options.tags.some((t) => typeof t !== 'string' || t === '')
    ) {
      throw new CacheOptionError(
        'tags',
        options.tags,
        'must be an array of non-empty strings or a function returning one',
      );
    }
    staticTags = options.tags;
  }
  if (options.cache !== undefined && !(options.cache instanceof MultiLevelCache)) {
    throw new CacheOptionError('cache', options.cache, 'must be a MultiLevelCache');
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
    throw new CacheOptionError('name', options.name, 'must be a non-empty string');
  }
  const maxKeyLength = options.maxKeyLength ?? DEFAULT_MAX_KEY_LENGTH;
  if (!Number.isInteger(maxKeyLength) || maxKeyLength < 16) {
    throw new CacheOptionError('maxKeyLength', options.maxKeyLength, 'must be an integer ≥ 16');
  }
  const getOrSet: GetOrSetOptions = {
    ...(ttlMs === undefined ? {} : { ttlMs }),
    ...(graceMs === undefined ? {} : { graceMs }),
    ...(staleIfErrorMs === undefined ? {} : { staleIfErrorMs }),
    ...(negativeTtlMs === undefined ? {} : { negativeTtlMs }),
    ...(staticTags === undefined ? {} : { tags: staticTags }),
    ...(options.cacheLevel === undefined ? {} : { cacheLevel: options.cacheLevel }),
  };
  return { getOrSet, tagsFn, keyFn: options.key, maxKeyLength };
}

function wrap(
  fn: AnyFn,
  options: CachedOptions,
  nameOf: (self: unknown) => string,
): CachedFunction<never[], unknown> {
  const { getOrSet: opts, tagsFn, keyFn, maxKeyLength } = resolveStaticOptions(options);
  const explicit = options.cache;
  let state: State | undefined;
  let name: string | undefined;

  const resolveState = (): State => {
    if (explicit !== undefined) {
      return (state = {
        cache: explicit,
        ints: internals(explicit),
        enabled: true,
        defaultVersion: 0,
        plan: undefined,
      });
    }
    const cache = getDefaultCache();
    return (state = {
      cache,
      ints: internals(cache),
      enabled: isDefaultCachingEnabled(),
      defaultVersion: defaultCacheVersion(),
      plan: undefined,
    });
  };

  // Keys of single-primitive calls are memoised: building and hashing a fresh key string costs
  // more than the L1 lookup itself, while a memoised key string carries its hash.
  const memo = new Map<unknown, string>();
  const keyOf = (self: unknown, args: never[]): string => {
    const n = (name ??= nameOf(self));
    if (keyFn !== undefined) return `${n}:${keyFn.apply(self, args)}`;
    if (args.length === 1) {
      const a: unknown = args[0];
      // Map keys compare with SameValueZero, so -0 (encoded apart from 0) is not memoised.
      if (typeof a === 'string' || (typeof a === 'number' && !Object.is(a, -0))) {
        let key = memo.get(a);
        if (key === undefined) {
          if (memo.size >= KEY_MEMO_SIZE) memo.clear();
          key = callKey(n, args, maxKeyLength);
          memo.set(a, key);
        }
        return key;
      }
    }
    return callKey(n, args, maxKeyLength);
  };

  const wrapper = function (this: unknown, ...args: never[]): Promise<unknown> {
    let st = state;
    if (st === undefined || (explicit === undefined && st.defaultVersion !== defaultCacheVersion()))
      st = resolveState();
    if (!st.enabled) {
      try {
        return Promise.resolve(fn.apply(this, args));
      } catch (error) {
        return rejected(error);
      }
    }
    const ints = st.ints;
    let plan = st.plan;
    let key: string;
    try {
      if (plan === undefined || plan.version !== ints.engine.version)
        plan = st.plan = ints.plan(opts);
      key = keyOf(this, args);
    } catch (error) {
      return rejected(error);
    }
    const full = ints.prefix === '' ? key : ints.prefix + key;
    const engine = ints.engine;
    if (engine.closed) return Promise.reject(new CacheClosedError());
    const env = engine.readL1(full, plan);
    if (env !== undefined && engine.isFresh(env)) return Promise.resolve(env.v);
    if (tagsFn !== undefined) {
      try {
        plan = ints.plan({ ...opts, tags: tagsFn.apply(this, args) });
      } catch (error) {
        return rejected(error);
      }
    }
    return engine.getOrSetAfterL1(full, env, () => fn.apply(this, args), plan);
  } as CachedFunction<never[], unknown>;

  wrapper.keyFor = function (this: unknown, ...args: never[]): string {
    return keyOf(this, args);
  };
  wrapper.invalidate = function (this: unknown, ...args: never[]): Promise<boolean> {
    // The cache the next call will use: after a default-cache switch, not the last one used.
    let st = state;
    if (st === undefined || (explicit === undefined && st.defaultVersion !== defaultCacheVersion()))
      st = resolveState();
    let key: string;
    try {
      key = keyOf(this, args);
    } catch (error) {
      return rejected(error);
    }
    return st.cache.delete(
      key,
      opts.cacheLevel === undefined ? undefined : { cacheLevel: opts.cacheLevel },
    );
  };
  return wrapper;
}
