import { createHash } from 'node:crypto';
import { defaultCacheVersion, getDefaultCache, isDefaultCachingEnabled } from './default-cache.js';
import { CacheClosedError, CacheKeyError, CacheOptionError } from './errors.js';
import { callKey, DEFAULT_MAX_KEY_LENGTH, isWellFormed, keySafeName } from './keys.js';
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
   * A returned non-string, or a string holding a lone surrogate (tiers store keys as UTF-8,
   * where it would collide with others), rejects the call with `CacheKeyError` (`path: 'key()'`).
   */
  readonly key?: (...args: A) => string;
  /** Tags of the stored entries, or a function of the arguments returning them. */
  readonly tags?: readonly string[] | ((...args: A) => readonly string[]);
  /** The cache to use (default: the process-wide {@link getDefaultCache}). */
  readonly cache?: MultiLevelCache;
  /**
   * Key prefix naming the function: the recommended way to key a cached function. Used exactly
   * as given; functions given the same `name` (in one cache) share entries on purpose. Must be
   * a well-formed string (no lone surrogate).
   *
   * Default: `<fn.name>@<hash>` for the function form, `Class#method@<hash>` (instance) or
   * `Class.method@<hash>` (static) for the decorator, where `<hash>` is 12 hex digits of the
   * SHA-256 of the function's source text. The default is the same in every process that runs
   * the same code, and changes when that code changes. A second, different function whose
   * default prefix is already taken in the same cache (same name and same source text, e.g. two
   * closures of one definition) throws `CacheKeyError` instead of sharing entries silently.
   * Required for anonymous, bound and native functions and for methods of anonymous classes.
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

/** Hex digits of the source-text hash in a default key prefix (48 bits). */
const SOURCE_HASH_DIGITS = 12;

/** Claim scope of functions using the process-wide default cache (whichever cache it is now). */
const DEFAULT_SCOPE = {};

/**
 * Default prefixes claimed so far, per scope (the default cache, or a cache's engine): prefix
 * (with the cache's namespace prefix) -> the function that claimed it. A claim is never
 * released, so whether a second function may use a prefix never depends on garbage collection.
 */
const claims = new WeakMap<object, Map<string, WeakRef<AnyFn>>>();

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
 * The key prefix is `options.name` when given (recommended), else `<fn.name>@<source hash>`
 * (see {@link CachedOptions.name}). Wrapping the same function twice shares its entries.
 *
 * @throws {CacheOptionError} for a bad option (negative ttl, unknown cacheLevel; no `name` for
 *   an anonymous, bound or native function), naming it.
 * @throws {CacheKeyError} when no `name` is given and a different function already uses the
 *   default prefix in the same cache (same name and same source text).
 */
export function cached<A extends readonly unknown[], R>(
  fn: (...args: A) => R,
  options?: CachedOptions<A>,
): CachedFunction<A, Awaited<R>>;
/**
 * TC39 standard method decorator form: `@cached({ ttl: 300, cacheLevel: 'memory' })` on an
 * async method (the replacement returns a Promise). The key prefix is `options.name` when
 * given, else `Class#method@<source hash>` (`Class.method@…` for a static method), where
 * `Class` is the class that defines the method, found at the first call; a method of an
 * anonymous class needs `name`, and a clash with another function's default prefix rejects
 * that first call with `CacheKeyError` (see {@link CachedOptions.name}). `this` is not part of
 * the key (give `key` to include instance identity).
 */
export function cached<This, A extends unknown[], R>(
  options?: CachedOptions<A>,
): (
  target: (this: This, ...args: A) => Promise<R>,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => Promise<R>>,
) => (this: This, ...args: A) => Promise<R>;
export function cached(fnOrOptions?: AnyFn | CachedOptions, maybeOptions?: CachedOptions): unknown {
  if (typeof fnOrOptions === 'function') {
    const fn = fnOrOptions;
    const options = maybeOptions ?? {};
    if (options.name !== undefined) {
      const name = options.name;
      return wrap(fn, options, () => name);
    }
    const fnName = fn.name;
    if (typeof fnName !== 'string' || fnName === '') {
      throw new CacheOptionError(
        'name',
        undefined,
        'give a name for an anonymous function (it prefixes every key)',
      );
    }
    const hash = sourceHash(fn);
    if (hash === undefined) {
      throw new CacheOptionError(
        'name',
        undefined,
        `function ${JSON.stringify(fnName)} is bound or native: its source text cannot tell it apart from other functions of that name; give an explicit name (it prefixes every key)`,
      );
    }
    const prefix = `${keySafeName(fnName)}@${hash}`;
    // wrap() validates the other options first, so a bad option does not leave a claim.
    const wrapped = wrap(fn, options, () => prefix);
    claimPrefix(options.cache, prefix, fn, `function ${JSON.stringify(fnName)}`);
    return wrapped;
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
    let nameOf: (self: unknown) => string;
    if (options.name !== undefined) {
      const name = options.name;
      nameOf = () => name;
    } else {
      const hash = sourceHash(target);
      if (hash === undefined) {
        throw new CacheOptionError(
          'name',
          undefined,
          `method ${method} is bound or native: its source text cannot tell it apart from others; give an explicit name`,
        );
      }
      // The class is known only from the first call's `this`: the claim happens then.
      nameOf = (self: unknown): string => {
        const cls = definingClassName(self, context.name, replacement, isStatic);
        const what = `method ${method} of ${cls === undefined ? 'an anonymous class' : `class ${JSON.stringify(cls)}`}`;
        if (cls === undefined) {
          throw new CacheOptionError(
            'name',
            undefined,
            `${what} needs an explicit name (it prefixes every key): @cached({ name })`,
          );
        }
        const prefix = `${keySafeName(cls)}${isStatic ? '.' : '#'}${keySafeName(method)}@${hash}`;
        claimPrefix(options.cache, prefix, target, what);
        return prefix;
      };
    }
    const wrapped = wrap(target, options, nameOf);
    const replacement = function (this: unknown, ...args: never[]) {
      return wrapped.apply(this, args);
    };
    return replacement;
  };
}

/**
 * 12 hex digits of the SHA-256 of `fn`'s source text (its UTF-16 code units, so lone surrogates
 * count), or undefined for a bound or native function, whose text is the same for all.
 */
function sourceHash(fn: AnyFn): string | undefined {
  // Function.prototype.toString itself: a function may carry its own toString.
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) return undefined;
  return createHash('sha256').update(source, 'utf16le').digest('hex').slice(0, SOURCE_HASH_DIGITS);
}

/**
 * Name of the class that defines the decorated method: found by walking up from `self` to the
 * object owning `replacement` under `key` (so a subclass calling first does not change the
 * prefix); for a private method, the class of `self`. Undefined when that class is anonymous.
 */
function definingClassName(
  self: unknown,
  key: string | symbol,
  replacement: AnyFn,
  isStatic: boolean,
): string | undefined {
  let owner: unknown;
  for (
    let o: unknown = self;
    (typeof o === 'object' || typeof o === 'function') && o !== null;
    o = Object.getPrototypeOf(o)
  ) {
    if (Object.getOwnPropertyDescriptor(o, key)?.value === replacement) {
      owner = isStatic ? o : (o as { constructor?: unknown }).constructor;
      break;
    }
  }
  if (owner === undefined) {
    owner = isStatic ? self : (self as { constructor?: unknown } | null | undefined)?.constructor;
  }
  const name = (owner as { name?: unknown } | null | undefined)?.name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * Claim a default key prefix for `fn` in the scope of `cache` (the default cache when
 * undefined): the same function may claim it again; a different one throws.
 *
 * @throws {CacheKeyError} when a different function already claimed `prefix` there.
 */
function claimPrefix(
  cache: MultiLevelCache | undefined,
  prefix: string,
  fn: AnyFn,
  what: string,
): void {
  let scope: object = DEFAULT_SCOPE;
  let scoped = prefix;
  if (cache !== undefined) {
    // Namespaces of one cache share its engine; equal namespace prefixes share keys.
    const ints = internals(cache);
    scope = ints.engine;
    scoped = ints.prefix + prefix;
  }
  let claimed = claims.get(scope);
  if (claimed === undefined) claims.set(scope, (claimed = new Map<string, WeakRef<AnyFn>>()));
  const owner = claimed.get(scoped);
  if (owner === undefined) {
    claimed.set(scoped, new WeakRef(fn));
    return;
  }
  if (owner.deref() === fn) return;
  throw new CacheKeyError(
    'name',
    `the default key prefix ${JSON.stringify(prefix)} of ${what} is already used in ${cache === undefined ? 'the default cache' : 'this cache'} by a different function with the same name and source text (for example another closure of the same definition); it would silently return that function's results. Pass an explicit \`name\` option that tells the two apart (functions given the same name share entries on purpose)`,
  );
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
  if (options.name !== undefined && !isWellFormed(options.name)) {
    throw new CacheOptionError(
      'name',
      options.name,
      'must not hold a lone surrogate (tiers store keys as UTF-8, where it would collide with other names)',
    );
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
    if (keyFn !== undefined) {
      const custom: unknown = keyFn.apply(self, args);
      if (typeof custom !== 'string') {
        // String() would turn every object into "[object Object]": all calls would share one entry.
        throw new CacheKeyError(
          'key()',
          `it returned ${describeNonString(custom)}, not a string; return a string that tells calls apart (e.g. encodeKey(value))`,
        );
      }
      if (!isWellFormed(custom)) {
        throw new CacheKeyError(
          'key()',
          `it returned ${JSON.stringify(custom)}, which holds a lone surrogate; tiers store keys as UTF-8, where it would collide with other keys (escape it, e.g. with JSON.stringify)`,
        );
      }
      return `${n}:${custom}`;
    }
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

/** How a non-string `key()` result is named in an error: its type, plus the value when short. */
function describeNonString(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'number':
    case 'boolean':
      return `a ${typeof value} (${String(value)})`;
    case 'bigint':
      return `a bigint (${value}n)`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return Array.isArray(value) ? 'an array' : 'an object';
  }
}
