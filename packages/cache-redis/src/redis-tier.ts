import { EventEmitter } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import {
  expireEnvelope,
  isCacheEnvelope,
  type CacheTier,
  type TierEntry,
  type TierSetOptions,
} from '@peaktrade/cache-core';
import { createCodec, type Codec, type SerializeOptions } from '@peaktrade/serialize';
import { Cluster, type ChainableCommander } from 'ioredis';
import { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './breaker.js';
import { createClient, hidePassword, type RedisClient } from './connect.js';
import {
  CircuitOpenError,
  LeaseWaitTimeoutError,
  RedisCommandError,
  RedisOptionError,
  ValueTooLargeError,
} from './errors.js';

/** Options of {@link RedisTier}. Validated and resolved once, at construction. */
export interface RedisTierOptions {
  /**
   * An existing ioredis client (the tier does not close it). Configure `commandTimeout` and
   * `enableOfflineQueue: false` on it yourself. Not together with `url` or `commandTimeoutMs`
   * (refused). The tier defines three script commands on it (`peaktradeTagAdd_<sha>`, for tags;
   * `peaktradeLeaseRelease_<sha>` and `peaktradeLeaseDrop_<sha>`, for coalesce). A Cluster client
   * should have `enableAutoPipelining`, so the per-key commands of multi-key calls share a round
   * trip per node.
   */
  readonly client?: RedisClient;
  /**
   * URL to connect to (see {@link createClient}); default `redis://127.0.0.1:6379`. Not together
   * with `client`.
   */
  readonly url?: string;
  /** Tier name in stats and events (default `l2-redis`). */
  readonly name?: string;
  /**
   * Prefix of every key this tier writes (default `peaktrade:`). It ends with `:` and has no
   * spaces, no braces and no `tag` segment, so no two tiers' key spaces overlap (an empty prefix
   * is refused: `clear()` would reach other applications' keys).
   */
  readonly keyPrefix?: string;
  /** Namespace appended to the prefix, so several caches share one Redis safely. */
  readonly namespace?: string;
  /**
   * TTL in ms when a write gives none (default 3 600 000); 0 or Infinity: no expiry. The same rules
   * as a write's `ttlMs`: fractions round up to whole ms, beyond 2^53 - 1 ms means no expiry, and a
   * negative, NaN or non-number value is refused.
   */
  readonly defaultTtlMs?: number;
  /**
   * Command timeout in ms for clients the tier creates (default 50; at most 2^31 - 1, Node's timer
   * limit, past which a timer fires after 1 ms). Refused beside `client`: ioredis takes the timeout
   * from the client's own `commandTimeout`, so set it there.
   */
  readonly commandTimeoutMs?: number;
  /**
   * Largest encoded value a write sends, in bytes (default 536 870 912 = 512 MiB, Redis' default
   * `proto-max-bulk-len`; an integer from 1 to 2^53 - 1). A larger value rejects the write with
   * {@link ValueTooLargeError} before anything is sent; Redis would refuse it with a protocol error
   * and close the connection. Raise it only together with the server's `proto-max-bulk-len`.
   */
  readonly maxValueBytes?: number;
  /** Serialization options (zstd level, threshold, max size). */
  readonly serialize?: SerializeOptions;
  /** Circuit breaker settings, or false to disable it. */
  readonly breaker?: CircuitBreakerOptions | false;
  /** Invalidation bus over pub/sub (default true): keeps other processes' L1 consistent. */
  readonly bus?: boolean | { readonly channel?: string };
  /** Distributed single-flight settings for {@link RedisTier.coalesce}. */
  readonly singleFlight?: {
    /** How long a lease holds, in ms (default 10 000; fractions round up; at most 2^53 - 1). */
    readonly leaseMs?: number;
    /** How long a waiter waits for another process's load, in ms (default 5 000; finite). */
    readonly waitMs?: number;
    /** How often a waiter looks for the value, in ms (default 25; at most 2^31 - 1). */
    readonly pollMs?: number;
  };
}

/** Counters of a {@link RedisTier}. */
export interface RedisTierStats {
  /** Commands that failed (timeouts, connection errors, server errors). */
  readonly errors: number;
  /** Calls refused at once because the breaker was open. */
  readonly skipped: number;
  /** Values that could not be decoded (treated as misses and removed). */
  readonly corrupt: number;
  /** Invalidation messages published / received from other processes. */
  readonly published: number;
  readonly received: number;
  /**
   * Times the bus asked for a full L1 flush (disconnect, reconnect, or a subscribe that succeeded
   * after failing).
   */
  readonly flushes: number;
  readonly breaker: BreakerState;
  /**
   * The invalidation bus: `disconnected` while its connection is down or its subscribe failed
   * (retried every 100 ms, doubling up to 5 s, while the tier is open). No invalidations from
   * other processes arrive until it reads `connected` again, and then L1 is flushed once.
   */
  readonly bus: 'off' | 'connecting' | 'connected' | 'disconnected';
}

/** Events emitted by {@link RedisTier}. */
export interface RedisTierEvents {
  /** A degraded path: an op failed or was skipped. Never thrown at MultiLevelCache callers. */
  degraded: [{ op: string; error: Error }];
  breaker: [BreakerState];
  bus: ['connected' | 'disconnected' | 'reconnected'];
}

type Invalidation = (keys: readonly string[] | 'all') => void;

interface BusMessage {
  /** Origin id: a process ignores its own messages. */
  o: string;
  /** Keys to drop. */
  k?: string[];
  /** Drop everything. */
  all?: 1;
  /** A distributed load finished: key, and the value's serialized bytes (base64). */
  d?: string;
  v?: string;
}

/**
 * Add a key to a tag set and stretch the set's TTL to cover it. `PEXPIRE NX` cannot tell a set
 * SADD just created from one a never-expiring member made persistent (neither has a TTL), and
 * would give the latter the new member's TTL: the set, and the forever member's tag, would expire.
 */
const TAG_ADD = `local fresh = redis.call('EXISTS', KEYS[1]) == 0
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl == 0 then return redis.call('PERSIST', KEYS[1]) end
if fresh then return redis.call('PEXPIRE', KEYS[1], ttl) end
return redis.call('PEXPIRE', KEYS[1], ttl, 'GT')`;

/**
 * Name of the ioredis command that runs a script: `<base>_<first 12 hex digits of its SHA-1>`, so a
 * tier of another version, with another body, sharing a user's client defines its own command.
 */
function scriptCommand(base: string, lua: string): string {
  return `${base}_${createHash('sha1').update(lua).digest('hex').slice(0, 12)}`;
}

/** Name of the ioredis command that runs {@link TAG_ADD} (see the constructor). */
const TAG_ADD_COMMAND = scriptCommand('peaktradeTagAdd', TAG_ADD);

/** Queue {@link TAG_ADD} on a pipeline, through the command the constructor defined. */
function queueTagAdd(
  pipeline: ChainableCommander,
  tagKey: string,
  member: string,
  ttlPx: number,
): void {
  const commands = pipeline as unknown as Record<string, (...args: (string | number)[]) => unknown>;
  commands[TAG_ADD_COMMAND]!(tagKey, member, ttlPx);
}

/** Keep a finished load's lease as `done` for ARGV[2] ms, if this load (token ARGV[1]) still holds it. */
const RELEASE_LEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2]) end return 0`;
/** Give a failed load's lease back (delete it), if this load (token ARGV[1]) still holds it. */
const DROP_LEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RELEASE_LEASE_COMMAND = scriptCommand('peaktradeLeaseRelease', RELEASE_LEASE);
const DROP_LEASE_COMMAND = scriptCommand('peaktradeLeaseDrop', DROP_LEASE);

/**
 * The scripts the tier runs, each defined once per client as an ioredis command: EVALSHA, with
 * the body sent once per connection and again only after NOSCRIPT. Each takes one key.
 */
const SCRIPTS: readonly (readonly [name: string, lua: string])[] = [
  [TAG_ADD_COMMAND, TAG_ADD],
  [RELEASE_LEASE_COMMAND, RELEASE_LEASE],
  [DROP_LEASE_COMMAND, DROP_LEASE],
];

/** Send one of {@link SCRIPTS} on a client, through the command the constructor defined. */
function runScript(
  client: RedisClient,
  command: string,
  key: string,
  ...args: (string | number)[]
): Promise<unknown> {
  const commands = client as unknown as Record<
    string,
    (...args: (string | number)[]) => Promise<unknown>
  >;
  return commands[command]!(key, ...args);
}

/**
 * The L2 cache tier on Redis (ioredis): values as `@peaktrade/serialize` bytes with TTLs in
 * milliseconds (`PX`), tags as Redis sets, pipelined `getMany`/`setMany`, an invalidation bus
 * on pub/sub, a circuit breaker, and opt-in distributed single-flight.
 *
 * Keys: `<prefix><namespace:>{<key>}`. The braces are a Cluster hash tag, so a key and its lease
 * live on one slot. Tag sets: `<prefix><namespace:>tag:<tag>`.
 */
export class RedisTier extends EventEmitter<RedisTierEvents> implements CacheTier {
  readonly name: string;
  readonly storage = 'bytes' as const;
  /** The client commands go through. */
  readonly client: RedisClient;
  /**
   * The client when it is a Cluster: keys of different slots cannot share a pipeline there, so
   * multi-key writes send their commands one by one (see #setMany).
   */
  readonly #cluster: Cluster | undefined;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  /** The default TTL as a `PX` value; 0: no expiry. */
  readonly #defaultTtlPx: number;
  readonly #codec: Codec;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #origin = randomBytes(8).toString('hex');
  readonly #channel: string | undefined;
  readonly #listeners = new Set<Invalidation>();
  readonly #waiters = new Map<string, Set<(value: Uint8Array) => void>>();
  readonly #leaseMs: number;
  readonly #waitMs: number;
  readonly #pollMs: number;
  /** Largest encoded value a write sends, in bytes (see RedisTierOptions.maxValueBytes). */
  readonly #maxValueBytes: number;
  #subscriber: RedisClient | undefined;
  #busState: RedisTierStats['bus'] = 'off';
  #busEverReady = false;
  /** Why the last subscribe failed; cleared when the next attempt starts. */
  #busError: Error | undefined;
  /** A subscribe failed since the bus last subscribed: invalidations may have been missed. */
  #busMissed = false;
  /** Counts subscribe attempts, so the outcome of one overtaken by a newer one is ignored. */
  #busAttempt = 0;
  /** Delay before the next subscribe retry, in ms (doubles per failure, see BUS_RETRY_*). */
  #busRetryMs = BUS_RETRY_MIN_MS;
  #busRetryTimer: NodeJS.Timeout | undefined;
  /** A setting the server refused (the URL's database index): the connection was closed for it. */
  #fatal: Error | undefined;
  /** Callbacks of pending ready() calls, run when the bus or the tier changes state. */
  readonly #changed = new Set<() => void>();
  #stats = { errors: 0, skipped: 0, corrupt: 0, published: 0, received: 0, flushes: 0 };
  #closed = false;
  /** Writes under way (see #op). */
  readonly #inflight = new Set<Promise<unknown>>();
  /** The client's per-command timeout in ms, when it has one (see #keepTimerList). */
  readonly #commandTimeout: number | undefined;
  #timerKeeper: NodeJS.Timeout | undefined;
  /** A command ran since the keeper's last tick. */
  #active = false;

  /** @throws {RedisOptionError} naming a bad option. */
  constructor(options: RedisTierOptions = {}) {
    super();
    this.name = options.name ?? 'l2-redis';
    const prefix: unknown = options.keyPrefix === undefined ? 'peaktrade:' : options.keyPrefix;
    // The prefix follows the namespace's rules, and closes with ':': otherwise one tier's keys can
    // fall inside another's key space (prefix `app:tag:` stores values among `app:`'s tag sets;
    // `app` sweeps `apptag:…` on clear(); an empty one sweeps every `{…` and `tag:…` key).
    if (typeof prefix !== 'string' || !isKeyPrefix(prefix))
      throw new RedisOptionError('keyPrefix', prefix, KEY_PREFIX_ALLOWED);
    // A `tag` segment would make the namespace's keys indistinguishable from the tag sets of the
    // namespace above it (`<prefix>a:tag:…`), so that one's deleteByTag and clear() would hit them.
    if (
      options.namespace !== undefined &&
      (!/^[^\s{}]+$/.test(options.namespace) || options.namespace.split(':').includes('tag'))
    ) {
      throw new RedisOptionError(
        'namespace',
        options.namespace,
        'a non-empty string without spaces or braces, and without a "tag" segment',
      );
    }
    this.#prefix = options.namespace ? `${prefix}${options.namespace}:` : prefix;
    const ttl = options.defaultTtlMs === undefined ? 3_600_000 : options.defaultTtlMs;
    if (!isTtl(ttl)) throw new RedisOptionError('defaultTtlMs', ttl, TTL_ALLOWED);
    this.#defaultTtlPx = pxOf(ttl);
    // ioredis has no per-call timeout: a client's commands all time out after its own
    // `commandTimeout`. Applying ours would change the user's client for the rest of their code
    // too, and ignoring it (as before) left the tier's commands without the timeout asked for.
    if (options.client !== undefined && options.commandTimeoutMs !== undefined)
      throw new RedisOptionError(
        'commandTimeoutMs',
        options.commandTimeoutMs,
        'no commandTimeoutMs when a client is given: set ioredis’s commandTimeout on that client ' +
          '(e.g. client.duplicate({ commandTimeout: 50 })), or pass url instead of client',
      );
    const timeout = durationMs('commandTimeoutMs', options.commandTimeoutMs ?? 50, MAX_TIMER_MS);
    const maxValueBytes: unknown = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    if (!Number.isSafeInteger(maxValueBytes) || (maxValueBytes as number) < 1)
      throw new RedisOptionError(
        'maxValueBytes',
        maxValueBytes,
        `an integer number of bytes from 1 to ${Number.MAX_SAFE_INTEGER} (Redis' proto-max-bulk-len, 536870912 by default)`,
      );
    this.#maxValueBytes = maxValueBytes as number;
    // A url beside a client would be ignored: the tier uses the client as it is connected.
    if (options.client !== undefined && options.url !== undefined)
      throw new RedisOptionError(
        'url',
        hidePassword(options.url),
        'no url when a client is given: the tier uses the client’s own connection (pass one or the other)',
      );
    const url = options.url ?? 'redis://127.0.0.1:6379';
    if (typeof url !== 'string') throw new RedisOptionError('url', url, 'a string');
    this.#codec = createCodec(options.serialize);
    this.#breaker =
      options.breaker === false
        ? undefined
        : new CircuitBreaker(options.breaker ?? {}, (state) => this.emit('breaker', state));
    const sf = options.singleFlight ?? {};
    // The lease is a `PX` value, which Redis takes only as a whole number of ms.
    this.#leaseMs = Math.ceil(durationMs('singleFlight.leaseMs', sf.leaseMs ?? 10_000, MAX_TTL_MS));
    this.#waitMs = durationMs('singleFlight.waitMs', sf.waitMs ?? 5_000);
    this.#pollMs = durationMs('singleFlight.pollMs', sf.pollMs ?? 25, MAX_TIMER_MS);
    this.#ownsClient = options.client === undefined;
    this.client = options.client ?? createClient(url, timeout);
    // EVALSHA instead of EVAL with the script's body on every tagged write and every load. ioredis
    // sends the body once per connection (and again after NOSCRIPT: SCRIPT FLUSH, a restart, a
    // failover). Named by the script's hash, so tiers of another version sharing a user's client
    // keep their own.
    for (const [name, lua] of SCRIPTS)
      if (typeof (this.client as unknown as Record<string, unknown>)[name] !== 'function')
        this.client.defineCommand(name, { numberOfKeys: 1, lua });
    this.#cluster = this.client instanceof Cluster ? this.client : undefined;
    // A client we own reports connection errors here; they are already counted per command.
    if (this.#ownsClient)
      this.client.on('error', (error: unknown) => {
        if (isSelectError(error)) this.#refuseDatabase(url, error);
      });
    this.#commandTimeout = commandTimeoutOf(this.client);
    const bus = options.bus ?? true;
    if (bus !== false) {
      this.#channel = `${this.#prefix}__bus${typeof bus === 'object' && bus.channel ? `:${bus.channel}` : ''}`;
      this.#startBus();
    }
  }

  /**
   * Resolves when the command connection is ready and, when the bus is on, the bus has subscribed.
   * Always settles: rejects with {@link RedisCommandError} when the bus cannot subscribe (`op`
   * `subscribe <channel>`, ioredis's error as `cause`; the tier keeps retrying it, so a later
   * ready() may resolve) or a connection closes for good, with
   * {@link RedisOptionError} (`url`) when the server refused the URL's database index, and with
   * RedisCommandError (`op` `connect`) once `timeoutMs` (0 to 2^31 - 1) has passed for both
   * steps together.
   * @throws {RedisOptionError} (as a rejection) for a negative, NaN or too long `timeoutMs`.
   */
  async ready(timeoutMs = 5_000): Promise<this> {
    // 0 asks "ready now?"; beyond Node's timer limit the timeout would fire after 1 ms.
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs > MAX_TIMER_MS)
      throw new RedisOptionError(
        'timeoutMs',
        timeoutMs,
        `a number of ms from 0 to ${MAX_TIMER_MS}`,
      );
    const deadline = performance.now() + timeoutMs;
    const client = this.client;
    await this.#until(deadline, timeoutMs, client, () => {
      if (this.#closed) return closedError(this.name, 'ready');
      if (this.#fatal) return this.#fatal;
      if (client.status === 'ready') return undefined;
      if (client.status === 'end') return ended(this.name, 'connect', 'the connection was closed');
      return `connection ${client.status}`;
    });
    const subscriber = this.#subscriber;
    if (subscriber) {
      await this.#until(deadline, timeoutMs, subscriber, () => {
        if (this.#closed) return closedError(this.name, 'ready');
        if (this.#busState === 'connected') return undefined;
        if (this.#busError) return this.#busError;
        if (subscriber.status === 'end')
          return ended(
            this.name,
            'subscribe',
            'the bus connection was closed before it subscribed',
          );
        return `bus ${this.#busState}, bus connection ${subscriber.status}`;
      });
    }
    return this;
  }

  /**
   * Wait for `check` to return undefined (settled) or an Error (failed); a string describes what
   * is still pending, for the timeout's message. Re-checked when `client` connects or ends, and
   * on #signal(). Listeners are removed on settling, so a user's client keeps none of ours.
   */
  #until(
    deadline: number,
    timeoutMs: number,
    client: RedisClient,
    check: () => Error | string | undefined,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const first = check();
      if (typeof first !== 'string') {
        if (first) reject(first);
        else resolve();
        return;
      }
      const timer = setTimeout(
        () => {
          const pending = check();
          finish(
            typeof pending === 'string'
              ? new RedisCommandError(this.name, 'connect', {
                  cause: new Error(`not ready after ${timeoutMs} ms (${pending})`),
                })
              : pending,
          );
        },
        Math.max(0, deadline - performance.now()),
      );
      const finish = (error: Error | undefined) => {
        clearTimeout(timer);
        this.#changed.delete(poke);
        client.off('ready', poke);
        client.off('end', poke);
        if (error) reject(error);
        else resolve();
      };
      function poke(): void {
        const state = check();
        if (typeof state !== 'string') finish(state);
      }
      this.#changed.add(poke);
      client.on('ready', poke);
      client.on('end', poke);
    });
  }

  /** Wake pending ready() calls: the bus or the tier changed state. */
  #signal(): void {
    for (const poke of [...this.#changed]) poke();
  }

  /**
   * The server refused the URL's database index. ioredis would go on in database 0, where this
   * tier's writes would land among another application's keys: close the connections instead,
   * so every call fails (and is counted) and ready() says why.
   */
  #refuseDatabase(url: string, cause: unknown): void {
    if (this.#fatal) return;
    const why = cause instanceof Error ? cause.message : String(cause);
    this.#fatal = new RedisOptionError(
      'url',
      hidePassword(url),
      `a database index this server has (SELECT failed: ${why})`,
      { cause },
    );
    this.#stats.errors++;
    this.client.disconnect();
    this.#subscriber?.disconnect();
    this.emit('degraded', { op: 'select', error: this.#fatal });
    this.#signal();
  }

  /** Counters and states. */
  stats(): RedisTierStats {
    return { ...this.#stats, breaker: this.#breaker?.state ?? 'closed', bus: this.#busState };
  }

  /** The Redis key of a cache key. */
  keyOf(key: string): string {
    return `${this.#prefix}{${key}}`;
  }

  #tagKey(tag: string): string {
    return `${this.#prefix}tag:${tag}`;
  }

  /**
   * ioredis arms a timer of `commandTimeout` ms for every command and clears it on the reply. Node
   * keeps one list per timer duration and drops a list that becomes empty, so with one command in
   * flight every command re-created the list and re-armed the event loop's timer: 7–12 µs per GET
   * on our 2-vCPU VM, more than the tier's own work. While commands keep coming, an unreferenced
   * interval of the same duration keeps that list alive (measured: about half of that cost gone).
   * It stops itself after a period without commands, so an idle process is not woken, and never
   * holds the process open; close() clears it.
   */
  #keepTimerList(): void {
    this.#active = true;
    if (this.#timerKeeper !== undefined || this.#commandTimeout === undefined || this.#closed)
      return;
    const keeper = setInterval(() => {
      if (this.#active) {
        this.#active = false;
        return;
      }
      clearInterval(keeper);
      this.#timerKeeper = undefined;
    }, this.#commandTimeout);
    keeper.unref();
    this.#timerKeeper = keeper;
  }

  /** Run one Redis operation under the breaker; failures are counted, emitted and rethrown as RedisCommandError. */
  async #run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    this.#keepTimerList();
    if (this.#breaker) {
      const wait = this.#breaker.check();
      if (wait > 0) {
        this.#stats.skipped++;
        const error = new CircuitOpenError(this.name, wait);
        this.emit('degraded', { op, error });
        throw error;
      }
    }
    try {
      const result = await fn();
      this.#breaker?.success();
      return result;
    } catch (cause) {
      this.#breaker?.failure();
      this.#stats.errors++;
      const error = new RedisCommandError(this.name, op, { cause });
      this.emit('degraded', { op, error });
      throw error;
    }
  }

  #decode(key: string, bytes: Buffer | null): unknown {
    if (bytes === null) return undefined;
    try {
      return this.#codec.decode(bytes);
    } catch (cause) {
      // A value we cannot read is a miss, never a wrong value; drop it so it is rewritten.
      this.#stats.corrupt++;
      this.emit('degraded', {
        op: 'decode',
        error: new RedisCommandError(this.name, `decode ${key}`, { cause }),
      });
      this.client.unlink(this.keyOf(key)).catch(() => {});
      return undefined;
    }
  }

  /**
   * Check one entry of a write and return its `PX` value (0: no expiry). Runs for every entry
   * before the first command, so a bad entry writes nothing; the option is named by its position.
   */
  #checkEntry(entry: TierEntry, i: number, single: boolean): number {
    const tags: unknown = entry.tags;
    // A string would be iterated as its characters: tags 'A', 'P', 'L' instead of 'APL'.
    if (tags !== undefined && (!Array.isArray(tags) || !tags.every(isString)))
      throw new RedisOptionError(
        single ? 'tags' : `entries[${i}].tags`,
        tags,
        'an array of strings',
      );
    const ttl = entry.ttlMs;
    if (ttl === undefined) return this.#defaultTtlPx;
    if (isTtl(ttl)) return pxOf(ttl);
    throw new RedisOptionError(single ? 'ttlMs' : `entries[${i}].ttlMs`, ttl, TTL_ALLOWED);
  }

  /**
   * Calls after close() are refused with a clear error: a client we do not own would otherwise
   * keep serving, and its writes would skip their invalidation.
   */
  #closedError(op: string): Promise<never> {
    return Promise.reject(closedError(this.name, op));
  }

  /**
   * Every write goes through here: refused once closed, and tracked until settled, so close()
   * lets one already under way finish, its invalidation included, before it quits the
   * connection. (Reads are not tracked: nothing is lost when one fails, and get is the hot path.)
   */
  #op<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return this.#closedError(op);
    const promise = fn();
    this.#inflight.add(promise);
    const settled = () => this.#inflight.delete(promise);
    promise.then(settled, settled);
    return promise;
  }

  get(key: string): Promise<unknown> {
    return this.#closed ? this.#closedError('get') : this.#get(key);
  }

  /**
   * Values of many keys in one round trip (MGET). On Cluster, one GET per key, all sent at once
   * (auto-pipelining batches them per node).
   */
  getMany(keys: readonly string[]): Promise<unknown[]> {
    return this.#closed ? this.#closedError('getMany') : this.#getMany(keys);
  }

  /**
   * Store a value. `ttlMs` (default: `defaultTtlMs`): 0 or Infinity for no expiry, fractions round
   * up to whole ms, anything beyond 2^53 - 1 ms is no expiry.
   * @throws {RedisOptionError} (as a rejection, before anything is written) for a negative, NaN or
   * non-number `ttlMs`, or `tags` that are not an array of strings.
   */
  set(key: string, value: unknown, options: TierSetOptions = {}): Promise<void> {
    if (typeof options !== 'object' || options === null)
      return Promise.reject(
        new RedisOptionError('options', options, 'an object { ttlMs?, tags? } or undefined'),
      );
    return this.#op('set', () => this.#setMany([{ key, value, ...options }], true));
  }

  /**
   * Write many entries and publish their keys, in one pipelined round trip. On Cluster, one command
   * per write and tag update, all sent at once (auto-pipelining batches them per node), then the
   * publish once they have all succeeded: two round trips.
   * Every entry is checked first, as in {@link RedisTier.set}: one bad entry rejects the call
   * (naming it, e.g. `entries[2].ttlMs`) and none is written.
   */
  setMany(entries: readonly TierEntry[]): Promise<void> {
    return this.#op('setMany', () => this.#setMany(entries, false));
  }

  delete(key: string): Promise<boolean> {
    return this.#op('delete', () => this.#delete(key));
  }

  /** Delete every key carrying `tag`; resolves how many existed. */
  deleteByTag(tag: string): Promise<number> {
    return this.#op('deleteByTag', () => this.#deleteByTag(tag));
  }

  /**
   * Mark every key carrying `tag` as stale: cache envelopes are rewritten logically expired
   * (kept for grace and stale-if-error), anything else is deleted. Resolves how many were affected.
   */
  expireByTag(tag: string): Promise<number> {
    return this.#op('expireByTag', () => this.#expireByTag(tag));
  }

  /** Delete every key under this tier's prefix (SCAN + UNLINK; every master on Cluster). */
  clear(): Promise<void> {
    return this.#op('clear', () => this.#clear());
  }

  #get(key: string): Promise<unknown> {
    return this.#run('get', async () =>
      this.#decode(key, await this.client.getBuffer(this.keyOf(key))),
    );
  }

  #getMany(keys: readonly string[]): Promise<unknown[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.#run('getMany', async () => {
      const redisKeys = keys.map((k) => this.keyOf(k));
      const cluster = this.#cluster;
      const values = cluster
        ? await Promise.all(redisKeys.map((k) => cluster.getBuffer(k)))
        : await this.client.mgetBuffer(...redisKeys);
      return values.map((bytes, i) => this.#decode(keys[i]!, bytes));
    });
  }

  async #setMany(entries: readonly TierEntry[], single: boolean): Promise<void> {
    const n = entries.length;
    if (n === 0) return;
    // Everything is checked and encoded before the first command: a bad entry writes nothing.
    const ttls = new Array<number>(n);
    const encoded = new Array<Buffer>(n);
    for (let i = 0; i < n; i++) {
      const entry = entries[i]!;
      ttls[i] = this.#checkEntry(entry, i, single);
      const bytes = Buffer.from(this.#codec.encode(entry.value));
      // Redis would answer a protocol error and close the connection, failing other commands.
      if (bytes.byteLength > this.#maxValueBytes)
        throw new ValueTooLargeError(this.name, entry.key, bytes.byteLength, this.#maxValueBytes);
      encoded[i] = bytes;
    }
    const cluster = this.#cluster;
    if (cluster) {
      await this.#run('setMany', () => this.#setManyCluster(cluster, entries, ttls, encoded));
      return;
    }
    await this.#run('setMany', async () => {
      const pipeline = this.client.pipeline();
      entries.forEach((entry, i) => {
        const redisKey = this.keyOf(entry.key);
        const ttl = ttls[i]!;
        if (ttl > 0) pipeline.set(redisKey, encoded[i]!, 'PX', ttl);
        else pipeline.set(redisKey, encoded[i]!);
        // The tag set lives as long as its longest-lived member.
        for (const tag of entry.tags ?? [])
          queueTagAdd(pipeline, this.#tagKey(tag), entry.key, ttl);
      });
      // The invalidation rides in the same round trip.
      if (this.#channel) pipeline.publish(this.#channel, this.#invalidation(entries));
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([error]) => error !== null);
      if (failed?.[0]) throw failed[0];
      if (this.#channel) this.#stats.published++;
    });
  }

  /** The bus message that invalidates the keys of `entries` in other processes. */
  #invalidation(entries: readonly TierEntry[]): string {
    return JSON.stringify({ o: this.#origin, k: entries.map((e) => e.key) } satisfies BusMessage);
  }

  /**
   * setMany on a Cluster. A Cluster pipeline must keep to one node's slots, and a value's key,
   * its tag sets and other entries' keys hash to slots anywhere: so each write and tag update is
   * its own command, all sent at once (a Cluster client with auto-pipelining, as the tier creates
   * for `redis-cluster://`, batches them per node), and the invalidation follows once every
   * command has answered, so no process re-reads an old value after dropping it from L1.
   */
  async #setManyCluster(
    cluster: Cluster,
    entries: readonly TierEntry[],
    ttls: readonly number[],
    encoded: readonly Buffer[],
  ): Promise<void> {
    const writes: Promise<unknown>[] = [];
    entries.forEach((entry, i) => {
      const redisKey = this.keyOf(entry.key);
      const ttl = ttls[i]!;
      writes.push(
        ttl > 0
          ? cluster.set(redisKey, encoded[i]!, 'PX', ttl)
          : cluster.set(redisKey, encoded[i]!),
      );
      for (const tag of entry.tags ?? [])
        writes.push(runScript(cluster, TAG_ADD_COMMAND, this.#tagKey(tag), entry.key, ttl));
    });
    await settleAll(writes);
    if (!this.#channel) return;
    await cluster.publish(this.#channel, this.#invalidation(entries));
    this.#stats.published++;
  }

  async #delete(key: string): Promise<boolean> {
    const removed = await this.#run('delete', () => this.client.unlink(this.keyOf(key)));
    await this.#publish({ o: this.#origin, k: [key] });
    return removed > 0;
  }

  async #members(tag: string): Promise<string[]> {
    return this.#run('smembers', () => this.client.smembers(this.#tagKey(tag)));
  }

  async #unlinkAll(redisKeys: readonly string[]): Promise<number> {
    if (redisKeys.length === 0) return 0;
    const cluster = this.#cluster;
    if (cluster) {
      const counts = await Promise.all(redisKeys.map((k) => cluster.unlink(k)));
      return counts.reduce((a, b) => a + b, 0);
    }
    return this.client.unlink(...redisKeys);
  }

  async #deleteByTag(tag: string): Promise<number> {
    const keys = await this.#members(tag);
    const removed = await this.#run('deleteByTag', async () => {
      const n = await this.#unlinkAll(keys.map((k) => this.keyOf(k)));
      await this.client.unlink(this.#tagKey(tag));
      return n;
    });
    if (keys.length > 0) await this.#publish({ o: this.#origin, k: keys });
    return removed;
  }

  async #expireByTag(tag: string): Promise<number> {
    const keys = await this.#members(tag);
    if (keys.length === 0) return 0;
    const values = await this.#getMany(keys);
    const now = Date.now();
    let affected = 0;
    await this.#run('expireByTag', async () => {
      const cluster = this.#cluster;
      // On Cluster the keys' slots may be on several nodes, which one pipeline cannot span.
      const pipeline = cluster ? undefined : this.client.pipeline();
      const sent: Promise<unknown>[] = [];
      values.forEach((value, i) => {
        if (value === undefined) return;
        affected++;
        const redisKey = this.keyOf(keys[i]!);
        const next = isCacheEnvelope(value) ? expireEnvelope(value, now) : undefined;
        if (next === undefined) {
          if (cluster) sent.push(cluster.unlink(redisKey));
          else pipeline!.unlink(redisKey);
        } else if (next !== value) {
          const bytes = Buffer.from(this.#codec.encode(next));
          if (cluster) sent.push(cluster.set(redisKey, bytes, 'KEEPTTL'));
          else pipeline!.set(redisKey, bytes, 'KEEPTTL');
        }
      });
      if (cluster) return settleAll(sent);
      const results = (await pipeline!.exec()) ?? [];
      const failed = results.find(([error]) => error !== null);
      if (failed?.[0]) throw failed[0];
    });
    await this.#publish({ o: this.#origin, k: keys });
    return affected;
  }

  async #clear(): Promise<void> {
    await this.#run('clear', async () => {
      const nodes = this.#cluster ? this.#cluster.nodes('master') : [this.client];
      // Only this tier's own keys: values and leases (`<prefix>{…`) and tag sets (`<prefix>tag:…`).
      // `<prefix>*` would also match every namespace nested under this prefix (`<prefix>ns:…`).
      const prefix = escapeGlob(this.#prefix);
      for (const node of nodes) {
        for (const pattern of [`${prefix}{*`, `${prefix}tag:*`]) {
          let cursor = '0';
          do {
            const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
            cursor = next;
            for (const key of keys) await node.unlink(key);
          } while (cursor !== '0');
        }
      }
    });
    await this.#publish({ o: this.#origin, all: 1 });
  }

  /** Subscribe to invalidations made by other processes (see CacheTier.onInvalidate). */
  onInvalidate(listener: Invalidation): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(keys: readonly string[] | 'all'): void {
    if (keys === 'all') this.#stats.flushes++;
    for (const listener of this.#listeners) listener(keys);
  }

  /**
   * Publish on the bus. Writes await it, so their invalidation has reached Redis when they
   * resolve; a failure is counted and emitted, never thrown (TTLs and the flush on reconnect
   * cover a lost message).
   */
  #publish(message: BusMessage, text = JSON.stringify(message)): Promise<void> {
    if (!this.#channel) return Promise.resolve();
    return this.client.publish(this.#channel, text).then(
      () => this.#stats.published++,
      (cause: unknown) => {
        this.#stats.errors++;
        this.emit('degraded', {
          op: 'publish',
          error: new RedisCommandError(this.name, 'publish', { cause }),
        });
      },
    ) as Promise<void>;
  }

  #startBus(): void {
    const subscriber = this.client.duplicate();
    this.#subscriber = subscriber;
    this.#busState = 'connecting';
    subscriber.on('error', () => {});
    subscriber.on('message', (_channel: string, text: string) => this.#onMessage(text));
    subscriber.on('ready', () => {
      // Subscribed again (ioredis resubscribes on reconnect); confirm before trusting it. A retry
      // still pending is replaced by this attempt.
      this.#cancelBusRetry();
      this.#subscribe(subscriber);
    });
    subscriber.on('close', () => {
      this.#cancelBusRetry();
      if (this.#busState !== 'connected') return;
      this.#busState = 'disconnected';
      this.#busMissed = true;
      this.#notify('all');
      this.emit('bus', 'disconnected');
    });
  }

  /**
   * One subscribe attempt on the bus connection. A failure is counted and emitted, and retried on
   * the same connection with backoff while the tier is open (an ACL that denies SUBSCRIBE may be
   * fixed without any reconnect); a reconnect starts a fresh attempt at once.
   */
  #subscribe(subscriber: RedisClient): void {
    const channel = this.#channel!;
    const attempt = ++this.#busAttempt;
    // A new attempt: ready() waits for its outcome rather than the last one's.
    this.#busError = undefined;
    subscriber.subscribe(channel).then(
      () => {
        if (attempt !== this.#busAttempt || this.#closed) return;
        const reconnect = this.#busEverReady;
        // Messages sent while we were away or not yet subscribed are lost: L1 may be stale.
        const flush = reconnect || this.#busMissed;
        this.#busEverReady = true;
        this.#busMissed = false;
        this.#busRetryMs = BUS_RETRY_MIN_MS;
        this.#busState = 'connected';
        if (flush) this.#notify('all');
        this.emit('bus', reconnect ? 'reconnected' : 'connected');
        this.#signal();
      },
      (cause: unknown) => {
        if (attempt !== this.#busAttempt || this.#closed) return;
        // No invalidations arrive until a later attempt succeeds: say so in stats() and make
        // ready() reject, instead of leaving it waiting for 'connected'.
        const error = new RedisCommandError(this.name, `subscribe ${channel}`, { cause });
        this.#busError = error;
        this.#busMissed = true;
        this.#busState = 'disconnected';
        this.#stats.errors++;
        this.emit('degraded', { op: 'subscribe', error });
        this.#signal();
        // While the connection is down, its 'ready' brings the next attempt instead.
        if (subscriber.status === 'ready') this.#retrySubscribe(subscriber);
      },
    );
  }

  #retrySubscribe(subscriber: RedisClient): void {
    const delayMs = this.#busRetryMs;
    this.#busRetryMs = Math.min(delayMs * 2, BUS_RETRY_MAX_MS);
    this.#cancelBusRetry();
    this.#busRetryTimer = setTimeout(() => {
      this.#busRetryTimer = undefined;
      if (!this.#closed && subscriber.status === 'ready') this.#subscribe(subscriber);
    }, delayMs);
    // The bus connection keeps the process alive while the tier is open; the timer need not.
    this.#busRetryTimer.unref();
  }

  #cancelBusRetry(): void {
    clearTimeout(this.#busRetryTimer);
    this.#busRetryTimer = undefined;
  }

  #onMessage(text: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(text) as BusMessage;
    } catch {
      return;
    }
    // Anything can publish on the channel. This runs inside ioredis's socket data handler, where
    // a throw is an uncaught exception, and listeners must only ever get arrays of key strings.
    if (!isBusMessage(message)) return;
    if (message.d !== undefined && message.v !== undefined) {
      const waiters = this.#waiters.get(message.d);
      if (waiters) for (const wake of waiters) wake(Buffer.from(message.v, 'base64'));
    }
    if (message.o === this.#origin) return;
    this.#stats.received++;
    if (message.all) this.#notify('all');
    else if (message.k && message.k.length > 0) this.#notify(message.k);
  }

  /**
   * Distributed single-flight: across every process sharing this Redis, only one runs `loader`
   * for `key` at a time. The winner takes a lease (`SET NX PX`), runs the loader and broadcasts
   * the value; the others wait (bounded by `waitMs`) for that broadcast or for the value to
   * appear in Redis, and resolve with it. If the winner fails, its lease is dropped and a waiter
   * takes over. Use it as the loader of MultiLevelCache.getOrSet:
   * `cache.getOrSet(key, () => tier.coalesce(key, load))` — with the key as this tier sees it.
   * @throws {LeaseWaitTimeoutError} when no value arrived within `waitMs`.
   */
  async coalesce<V>(key: string, loader: () => V | PromiseLike<V>): Promise<V> {
    if (this.#closed) return this.#closedError('coalesce');
    const leaseKey = `${this.keyOf(key)}:lease`;
    const deadline = performance.now() + this.#waitMs;
    for (;;) {
      const token = randomBytes(8).toString('hex');
      let acquired: 'OK' | null;
      try {
        acquired = await this.#run('lease', () =>
          this.client.set(leaseKey, token, 'PX', this.#leaseMs, 'NX'),
        );
      } catch {
        // Redis is unreachable or the breaker is open (already counted and emitted): no process
        // can coordinate through it, so load here rather than fail the caller over an L2 outage.
        return loader();
      }
      if (acquired === 'OK') {
        let value: V;
        let bytes: Uint8Array;
        try {
          value = await loader();
          // A value the codec rejects fails this load like a loader error: the lease must not be
          // left to block every other process until it expires.
          bytes = this.#codec.encode(value);
        } catch (error) {
          // Give the lease back so another process can try.
          await runScript(this.client, DROP_LEASE_COMMAND, leaseKey, token).catch(() => {});
          throw error;
        }
        // Keep the lease as 'done' briefly, so late arrivals wait for the cache write instead of loading again.
        await runScript(
          this.client,
          RELEASE_LEASE_COMMAND,
          leaseKey,
          token,
          Math.min(this.#leaseMs, 2_000),
        ).catch(() => {});
        const message: BusMessage = {
          o: this.#origin,
          d: key,
          v: Buffer.from(bytes).toString('base64'),
        };
        // A broadcast over Redis' bulk limit would be a protocol error that closes the command
        // connection. Without it, waiters find the value in Redis once the caller stores it.
        const text = JSON.stringify(message);
        if (fitsBulk(text, this.#maxValueBytes)) await this.#publish(message, text);
        else
          this.emit('degraded', {
            op: 'broadcast',
            error: new ValueTooLargeError(
              this.name,
              key,
              Buffer.byteLength(text),
              this.#maxValueBytes,
              'as a bus broadcast',
            ),
          });
        return value;
      }
      const got = await this.#waitForValue<V>(key, leaseKey, deadline);
      if (got.found) return got.value;
      if (performance.now() >= deadline) throw new LeaseWaitTimeoutError(key, this.#waitMs);
      // The lease vanished without a value (the holder failed): try to take it.
    }
  }

  async #waitForValue<V>(
    key: string,
    leaseKey: string,
    deadline: number,
  ): Promise<{ found: true; value: V } | { found: false }> {
    let wake!: (bytes: Uint8Array) => void;
    const broadcast = new Promise<Uint8Array>((resolve) => (wake = resolve));
    let set = this.#waiters.get(key);
    if (!set) this.#waiters.set(key, (set = new Set()));
    set.add(wake);
    try {
      while (performance.now() < deadline) {
        let timer: NodeJS.Timeout | undefined;
        const tick = new Promise<undefined>(
          (resolve) => (timer = setTimeout(() => resolve(undefined), this.#pollMs)),
        );
        const bytes = await Promise.race([broadcast, tick]);
        clearTimeout(timer);
        if (bytes !== undefined) return { found: true, value: this.#codec.decode(bytes) as V };
        const stored = await this.get(key).catch(() => undefined);
        if (stored !== undefined) {
          return { found: true, value: (isCacheEnvelope(stored) ? stored.v : stored) as V };
        }
        const lease = await this.client.get(leaseKey).catch(() => 'unknown');
        if (lease === null) return { found: false };
      }
      return { found: false };
    } finally {
      set.delete(wake);
      if (set.size === 0) this.#waiters.delete(key);
    }
  }

  /** Close the bus connection, and the command connection when the tier created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A pending ready() rejects now rather than at its deadline.
    this.#signal();
    // Operations already under way finish first: quitting now would drop their invalidation.
    await Promise.allSettled(this.#inflight);
    clearInterval(this.#timerKeeper);
    this.#timerKeeper = undefined;
    this.#listeners.clear();
    this.#cancelBusRetry();
    if (this.#subscriber) {
      this.#subscriber.removeAllListeners('close');
      this.#subscriber.disconnect();
    }
    if (this.#ownsClient) await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** The per-command timeout (ms) a client was configured with, if any. */
function commandTimeoutOf(client: RedisClient): number | undefined {
  const options = client.options as {
    commandTimeout?: unknown;
    redisOptions?: { commandTimeout?: unknown };
  };
  const ms = options.commandTimeout ?? options.redisOptions?.commandTimeout;
  return typeof ms === 'number' && ms > 0 && ms <= 2 ** 31 - 1 ? ms : undefined;
}

/** First delay before a failed bus subscribe is tried again, in ms; it doubles per failure. */
const BUS_RETRY_MIN_MS = 100;
/** Longest delay between bus subscribe retries, in ms. */
const BUS_RETRY_MAX_MS = 5_000;
/** Redis' default `proto-max-bulk-len`: 512 MiB, the longest string it takes. */
const DEFAULT_MAX_VALUE_BYTES = 512 * 1024 * 1024;
/** Longest TTL kept as an expiry: 2^53 - 1 ms (about 285,000 years); beyond it, no expiry. */
const MAX_TTL_MS = Number.MAX_SAFE_INTEGER;
/** Longest delay Node's timers honour (about 24.8 days): a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const TTL_ALLOWED =
  'a number of milliseconds >= 0 (0 or Infinity: no expiry; fractions round up), or undefined for the default';

/** A valid TTL: a number >= 0 (Infinity included; NaN and negatives not). */
function isTtl(ttlMs: unknown): ttlMs is number {
  return typeof ttlMs === 'number' && ttlMs >= 0;
}

/**
 * The `PX` value of a valid TTL, 0 for no expiry. Redis takes only whole milliseconds, so a
 * fraction rounds up (never down to 0, which would mean no expiry); a TTL too long to be stored
 * as a number of ms without loss (and, far beyond, rejected by Redis) is no expiry, like Infinity.
 */
function pxOf(ttlMs: number): number {
  return ttlMs === 0 || ttlMs > MAX_TTL_MS ? 0 : Math.ceil(ttlMs);
}

/** A duration option: a number > 0 and <= `max`. */
function durationMs(option: string, value: unknown, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !(value > 0) || !(value <= max))
    throw new RedisOptionError(
      option,
      value,
      max === Number.MAX_VALUE
        ? 'a finite number of milliseconds > 0'
        : `a number of milliseconds > 0 and <= ${max}`,
    );
  return value;
}

const KEY_PREFIX_ALLOWED =
  'a string ending with ":" (e.g. "myapp:"), without spaces or braces, and without a "tag" segment';

/**
 * A key prefix that keeps tiers apart: it ends with ':', has no braces (Cluster hash tags; `{`
 * starts a value's key) and no `tag` segment (`tag:` starts a tag set's key). Then no tier's keys
 * (`<prefix>{…`, `<prefix>tag:…`) can match another prefix's patterns.
 */
function isKeyPrefix(prefix: string): boolean {
  return /^[^\s{}]*:$/.test(prefix) && !prefix.split(':').includes('tag');
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/** ioredis's error for the SELECT it sends on connect (the URL's database index). */
function isSelectError(error: unknown): boolean {
  return (error as { command?: { name?: unknown } } | null)?.command?.name === 'select';
}

function closedError(tier: string, op: string): RedisCommandError {
  return ended(tier, op, 'the tier is closed');
}

function ended(tier: string, op: string, why: string): RedisCommandError {
  return new RedisCommandError(tier, op, { cause: new Error(why) });
}

function isBusMessage(m: unknown): m is BusMessage {
  if (typeof m !== 'object' || m === null) return false;
  const { o, k, d, v } = m as Record<string, unknown>;
  return (
    typeof o === 'string' &&
    (k === undefined || (Array.isArray(k) && k.every((key) => typeof key === 'string'))) &&
    (d === undefined || typeof d === 'string') &&
    (v === undefined || typeof v === 'string')
  );
}

/**
 * Wait for every command, then reject with the first failure: like a pipeline's exec, no command
 * is still in flight when the call settles.
 */
async function settleAll(commands: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(commands);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

/** Whether a string is at most `maxBytes` long in UTF-8 (one bulk string Redis takes). */
function fitsBulk(text: string, maxBytes: number): boolean {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most messages need no count.
  return text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
