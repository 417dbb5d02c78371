import type Database from 'better-sqlite3';
import { envelopeRetainUntil, expireEnvelope, isCacheEnvelope } from '@peaktrade/cache-core';
import type { CacheTier, TierEntry, TierSetOptions } from '@peaktrade/cache-core';
import { DiskTierClosedError, DiskTierOptionError, DiskValueError } from './errors.js';
import { inodeOf, isCorruption, moveAside, openCacheFile, toStorageError } from './open.js';
import {
  resolveOptions,
  resolveTtl,
  type DiskTierEvent,
  type DiskTierOptions,
  type ResolvedDiskTierOptions,
} from './options.js';

/** Counters and totals of a {@link DiskTier}. */
export interface DiskTierStats {
  /** Entries in the file (every process's, expired ones not yet removed included). */
  readonly entries: number;
  /** Sum of entry sizes in the file, in bytes (UTF-8 key + value bytes). */
  readonly bytes: number;
  /** The configured bound, in bytes. */
  readonly maxBytes: number;
  /** Reads in this process that found a live entry (a getMany counts once per key). */
  readonly hits: number;
  /** Reads in this process that found nothing or an expired entry. */
  readonly misses: number;
  /** hits / (hits + misses); 0 before the first read. */
  readonly hitRatio: number;
  /** Entries written by this process. */
  readonly sets: number;
  /** Writes refused because the entry alone exceeds `maxBytes` (the old value is deleted). */
  readonly rejected: number;
  /** Expired entries removed by size-bound eviction in this process. */
  readonly evictedExpired: number;
  /** Live entries removed, least recently used first, by size-bound eviction in this process. */
  readonly evictedLru: number;
  /** Expired entries removed by the sweep in this process. */
  readonly swept: number;
  /** Access-time updates collected in memory, not yet written. */
  readonly pendingAccesses: number;
  /** Access-time updates dropped because the file stayed locked (LRU order is then approximate). */
  readonly droppedAccesses: number;
  /** Failed background tasks (sweep, access-time flush). */
  readonly backgroundErrors: number;
}

type Stmt<P extends unknown[], R = unknown> = Database.Statement<P, R>;

interface Statements {
  get: Stmt<[string, number], Buffer>;
  upsert: Stmt<[string, Uint8Array, number | null, number, string | null, number]>;
  insertTag: Stmt<[string, string]>;
  del: Stmt<[string]>;
  delByTag: Stmt<[string]>;
  tagged: Stmt<[string, number], [number, string, Buffer]>;
  expireById: Stmt<[number, number]>;
  rewriteById: Stmt<[Uint8Array, number, number | null, number]>;
  clearEntries: Stmt<[]>;
  meta: Stmt<[], [number, number]>;
  touch: Stmt<[number, string, number]>;
  deleteExpired: Stmt<[number, number]>;
  lru: Stmt<[number], [number, number]>;
  delById: Stmt<[number]>;
}

function prepare(db: Database.Database): Statements {
  return {
    get: db
      .prepare<[string, number], Buffer>(
        'SELECT value FROM entries WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
      )
      .pluck(),
    upsert: db.prepare(
      `INSERT INTO entries (key, value, expires_at, size, tags, last_access) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
         size = excluded.size, tags = excluded.tags, last_access = excluded.last_access`,
    ),
    insertTag: db.prepare('INSERT OR IGNORE INTO tags (tag, key) VALUES (?, ?)'),
    del: db.prepare('DELETE FROM entries WHERE key = ?'),
    delByTag: db.prepare('DELETE FROM entries WHERE key IN (SELECT key FROM tags WHERE tag = ?)'),
    tagged: db
      .prepare<[string, number], [number, string, Buffer]>(
        `SELECT e.id, e.key, e.value FROM tags t JOIN entries e ON e.key = t.key
         WHERE t.tag = ? AND (e.expires_at IS NULL OR e.expires_at > ?)`,
      )
      .raw(),
    expireById: db.prepare('UPDATE entries SET expires_at = ? WHERE id = ?'),
    rewriteById: db.prepare('UPDATE entries SET value = ?, size = ?, expires_at = ? WHERE id = ?'),
    clearEntries: db.prepare('DELETE FROM entries'),
    meta: db.prepare<[], [number, number]>('SELECT entries, bytes FROM meta WHERE id = 1').raw(),
    touch: db.prepare('UPDATE entries SET last_access = ? WHERE key = ? AND last_access < ?'),
    deleteExpired: db.prepare(
      'DELETE FROM entries WHERE id IN (SELECT id FROM entries WHERE expires_at <= ? LIMIT ?)',
    ),
    lru: db
      .prepare<[number], [number, number]>(
        'SELECT id, size FROM entries ORDER BY last_access, id LIMIT ?',
      )
      .raw(),
    delById: db.prepare('DELETE FROM entries WHERE id = ?'),
  };
}

const EXPIRED_BATCH = 1000;
const LRU_BATCH = 64;

/**
 * The L3 cache tier: a SQLite file in WAL mode (better-sqlite3), shared safely by every process
 * on the host, surviving restarts and crashes (each write is one transaction, so a killed
 * process leaves only whole entries).
 *
 * Values are live JS values at the interface and stored as codec bytes (`@peaktrade/serialize`).
 * Reads check expiry; a background sweep removes the rest in small batches, yielding to the
 * event loop between them. Reads never write: access times are collected in memory and written
 * in one transaction every `accessFlushMs`, before an eviction, and on close. A write past
 * `maxBytes` evicts expired entries first, then the least recently used.
 *
 * All SQLite work is synchronous inside the async methods (better-sqlite3): a `setMany` of N
 * entries holds the event loop for the whole transaction (about 4–5 µs of CPU per entry on a
 * 2-core x86_64 VM).
 */
export class DiskTier<V = unknown> implements CacheTier<V> {
  /** Name in stats and events (`options.name`, default `'l3-disk'`). */
  readonly name: string;
  /** This tier keeps serialized bytes. */
  readonly storage = 'bytes' as const;
  /** The level it serves for MultiLevelCache's `cacheLevel`, whatever its `name`. */
  readonly level = 'disk';
  /** Path of the cache file. */
  readonly file: string;

  readonly #o: ResolvedDiskTierOptions;
  #db!: Database.Database;
  #s!: Statements;
  #ino: number | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #setTx!: Database.Transaction<
    (
      key: string,
      bytes: Uint8Array,
      exp: number | null,
      size: number,
      tags: readonly string[] | undefined,
      now: number,
    ) => void
  >;
  #setManyTx!: Database.Transaction<
    (entries: readonly TierEntry<V>[], encoded: Uint8Array[], now: number) => number
  >;
  #getManyTx!: Database.Transaction<
    (keys: readonly string[], now: number) => (Buffer | undefined)[]
  >;
  #flushTx!: Database.Transaction<() => void>;
  #deleteByTagTx!: Database.Transaction<(tag: string) => number>;
  #expireByTagTx!: Database.Transaction<(tag: string, now: number) => number>;
  #clearTx!: Database.Transaction<() => void>;

  readonly #pending = new Map<string, number>();
  #flushScheduled = false;
  #sweeping: Promise<number> | undefined;
  readonly #flushTimer: NodeJS.Timeout;
  readonly #sweepTimer: NodeJS.Timeout | undefined;

  #hits = 0;
  #misses = 0;
  #sets = 0;
  #rejected = 0;
  #evictedExpired = 0;
  #evictedLru = 0;
  #swept = 0;
  #droppedAccesses = 0;
  #backgroundErrors = 0;

  /**
   * Open (or create) the cache file. Synchronous: checks the file (`integrityCheck`), applies
   * `onCorrupt`, and migrates the schema before returning.
   * @throws DiskTierOptionError for a bad option; DiskCorruptError (under `onCorrupt: 'throw'`),
   *   DiskSchemaError or DiskStorageError when the file cannot be used.
   */
  constructor(options: DiskTierOptions) {
    this.#o = resolveOptions(options);
    this.name = this.#o.name;
    this.file = this.#o.file;
    this.#open();
    this.#flushTimer = setInterval(() => {
      this.#followFile();
      this.#flushInBackground();
    }, this.#o.accessFlushMs);
    this.#flushTimer.unref();
    if (this.#o.sweepIntervalMs > 0) {
      this.#sweepTimer = setInterval(() => {
        this.sweepExpired().catch((err: unknown) => this.#backgroundError('sweep', err));
      }, this.#o.sweepIntervalMs);
      this.#sweepTimer.unref();
    }
  }

  #open(): void {
    const { db, ino } = openCacheFile(this.#o);
    this.#db = db;
    this.#ino = ino;
    this.#s = prepare(db);
    this.#setTx = db.transaction((key, bytes, exp, size, tags, now) => {
      this.#s.upsert.run(
        key,
        bytes,
        exp,
        size,
        tags === undefined || tags.length === 0 ? null : JSON.stringify(tags),
        now,
      );
      if (tags !== undefined) for (const tag of tags) this.#s.insertTag.run(tag, key);
      this.#enforceBound(now);
    });
    this.#setManyTx = db.transaction((entries, encoded, now) => {
      const s = this.#s;
      let stored = 0;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        const bytes = encoded[i]!;
        const size = Buffer.byteLength(e.key) + bytes.byteLength;
        if (size > this.#o.maxBytes) {
          s.del.run(e.key);
          continue;
        }
        const exp = this.#expiry(e.ttlMs, now);
        const tags = e.tags;
        s.upsert.run(
          e.key,
          bytes,
          exp,
          size,
          tags === undefined || tags.length === 0 ? null : JSON.stringify(tags),
          now,
        );
        if (tags !== undefined) for (const tag of tags) s.insertTag.run(tag, e.key);
        stored++;
      }
      this.#enforceBound(now);
      return stored;
    });
    this.#getManyTx = db.transaction((keys, now) => {
      const out = new Array<Buffer | undefined>(keys.length);
      for (let i = 0; i < keys.length; i++) out[i] = this.#s.get.get(keys[i]!, now);
      return out;
    });
    this.#flushTx = db.transaction(() => this.#writePending());
    this.#deleteByTagTx = db.transaction((tag: string) => this.#s.delByTag.run(tag).changes);
    this.#expireByTagTx = db.transaction((tag: string, now: number) =>
      this.#expireTagged(tag, now),
    );
    this.#clearTx = db.transaction(() => {
      this.#s.clearEntries.run();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // CacheTier

  /** Read a live entry, or undefined on a miss or an expired entry. Never writes to the file. */
  get(key: string): Promise<V | undefined> {
    try {
      return Promise.resolve(this.#getNow(key));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #getNow(key: string): V | undefined {
    this.#live('get');
    checkKey(key);
    const now = this.#o.clock();
    let buf: Buffer | undefined;
    try {
      buf = this.#s.get.get(key, now);
    } catch (err) {
      throw this.#failure(err, 'get');
    }
    if (buf === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#touch(key, now);
    return this.#decode(key, buf);
  }

  /** Read several keys from one snapshot of the file; results are in `keys` order. */
  getMany(keys: readonly string[]): Promise<(V | undefined)[]> {
    try {
      return Promise.resolve(this.#getManyNow(keys));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #getManyNow(keys: readonly string[]): (V | undefined)[] {
    this.#live('getMany');
    if (!isArray(keys)) throw new DiskTierOptionError('keys', keys, 'an array of strings');
    for (let i = 0; i < keys.length; i++) checkKey(keys[i]);
    const now = this.#o.clock();
    let bufs: (Buffer | undefined)[];
    try {
      bufs = this.#getManyTx.deferred(keys, now);
    } catch (err) {
      throw this.#failure(err, 'getMany');
    }
    const out = bufs as unknown as (V | undefined)[];
    for (let i = 0; i < bufs.length; i++) {
      const buf = bufs[i];
      if (buf === undefined) {
        this.#misses++;
        continue;
      }
      this.#hits++;
      const key = keys[i]!;
      this.#touch(key, now);
      out[i] = this.#decode(key, buf);
    }
    return out;
  }

  /**
   * Write one entry in its own transaction. `ttlMs` undefined: `defaultTtlMs`; 0 or Infinity: no
   * expiry. An entry larger than `maxBytes` by itself is not stored (and any older value of the
   * key is deleted, so a stale value is never served); `stats().rejected` counts it.
   */
  set(key: string, value: V, options?: TierSetOptions): Promise<void> {
    try {
      return Promise.resolve(this.#setNow(key, value, options));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #setNow(key: string, value: V, options?: TierSetOptions): void {
    this.#live('set');
    checkKey(key);
    const tags = checkTags(options?.tags, 'tags');
    const now = this.#o.clock();
    const exp = this.#expiry(options?.ttlMs, now);
    const bytes = this.#encode(key, value);
    const size = Buffer.byteLength(key) + bytes.byteLength;
    try {
      if (size > this.#o.maxBytes) {
        this.#rejected++;
        this.#s.del.run(key);
        return;
      }
      this.#setTx.immediate(key, bytes, exp, size, tags, now);
    } catch (err) {
      throw this.#failure(err, 'set');
    }
    this.#sets++;
  }

  /**
   * Write many entries in ONE transaction: after a crash either all of them are in the file or
   * none. Every value is encoded before the transaction starts, so a value the codec refuses
   * writes nothing.
   */
  setMany(entries: readonly TierEntry<V>[]): Promise<void> {
    try {
      return Promise.resolve(this.#setManyNow(entries));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #setManyNow(entries: readonly TierEntry<V>[]): void {
    this.#live('setMany');
    if (!isArray(entries))
      throw new DiskTierOptionError('entries', entries, 'an array of { key, value }');
    const n = entries.length;
    if (n === 0) return;
    const now = this.#o.clock();
    const encoded = new Array<Uint8Array>(n);
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      checkKey(e.key);
      checkTags(e.tags, `entries[${i}].tags`);
      if (e.ttlMs !== undefined) resolveTtl(`entries[${i}].ttlMs`, e.ttlMs);
      encoded[i] = this.#encode(e.key, e.value);
    }
    let stored: number;
    try {
      stored = this.#setManyTx.immediate(entries, encoded, now);
    } catch (err) {
      throw this.#failure(err, 'setMany');
    }
    // Counted after the commit: a rolled-back transaction stored nothing.
    this.#sets += stored;
    this.#rejected += n - stored;
  }

  /** Delete one key; resolves whether it was present (expired entries count as present). */
  delete(key: string): Promise<boolean> {
    try {
      return Promise.resolve(this.#deleteNow(key));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #deleteNow(key: string): boolean {
    this.#live('delete');
    checkKey(key);
    this.#pending.delete(key);
    try {
      return this.#s.del.run(key).changes > 0;
    } catch (err) {
      throw this.#failure(err, 'delete');
    }
  }

  /** Delete every entry carrying `tag`, in one transaction; resolves the number deleted. */
  deleteByTag(tag: string): Promise<number> {
    try {
      return Promise.resolve(this.#deleteByTagNow(tag));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #deleteByTagNow(tag: string): number {
    this.#live('deleteByTag');
    checkTag(tag, 'tag');
    try {
      return this.#deleteByTagTx.immediate(tag);
    } catch (err) {
      throw this.#failure(err, 'deleteByTag');
    }
  }

  /**
   * Mark every live entry carrying `tag` as stale now, in one transaction, found through the tag
   * index (cost: one decode per tagged entry, plus one encode per rewritten envelope).
   * MultiLevelCache envelopes are rewritten with cache-core's `expireEnvelope`, so they keep their
   * grace and stale-if-error windows (or are deleted when none is left); any other value is
   * physically expired: reads miss from here on and the sweep or an eviction reclaims the space.
   * A stored value the codec cannot decode is deleted.
   * Resolves the number of entries affected.
   */
  expireByTag(tag: string): Promise<number> {
    try {
      return Promise.resolve(this.#expireByTagNow(tag));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #expireByTagNow(tag: string): number {
    this.#live('expireByTag');
    checkTag(tag, 'tag');
    const now = this.#o.clock();
    try {
      return this.#expireByTagTx.immediate(tag, now);
    } catch (err) {
      throw this.#failure(err, 'expireByTag');
    }
  }

  /** The body of expireByTag; the caller holds a write transaction. */
  #expireTagged(tag: string, now: number): number {
    const s = this.#s;
    const rows = s.tagged.all(tag, now);
    for (const [id, key, buf] of rows) {
      let value: V;
      try {
        value = this.#decode(key, buf);
      } catch {
        // Bytes the codec refuses can never be served: drop the row rather than fail the whole
        // invalidation and leave the other tagged entries live.
        s.delById.run(id);
        continue;
      }
      if (!isCacheEnvelope(value)) {
        // A plain value has no stale window: expired means gone for readers.
        s.expireById.run(now, id);
        continue;
      }
      const next = expireEnvelope(value, now);
      if (next === undefined) s.delById.run(id);
      else if (next !== value) {
        const bytes = this.#encode(key, next as V);
        // Keep the row exactly as long as the envelope stays useful.
        const retain = envelopeRetainUntil(next);
        s.rewriteById.run(
          bytes,
          Buffer.byteLength(key) + bytes.byteLength,
          retain === 0 ? null : retain,
          id,
        );
      }
    }
    if (rows.length > 0) this.#enforceBound(now);
    return rows.length;
  }

  /** Delete every entry of the file (all processes' entries: the file is the cache). */
  clear(): Promise<void> {
    try {
      return Promise.resolve(this.#clearNow());
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #clearNow(): void {
    this.#live('clear');
    this.#pending.clear();
    try {
      this.#clearTx.immediate();
    } catch (err) {
      throw this.#failure(err, 'clear');
    }
  }

  /**
   * Write pending access times, stop the timers and close the file (SQLite checkpoints the WAL
   * when the last connection closes). Idempotent. The file is closed even when the final flush
   * fails; that failure is then rethrown.
   */
  close(): Promise<void> {
    // Every caller gets the one closing: a later call must not resolve while the first still
    // waits for a sweep with the file open.
    this.#closing ??= this.#closeNow();
    return this.#closing;
  }

  async #closeNow(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#flushTimer);
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    let failure: Error | undefined;
    try {
      if (this.#pending.size > 0) this.#flushTx.immediate();
    } catch (err) {
      failure = toStorageError(err, 'close', this.file);
    }
    this.#pending.clear();
    if (this.#sweeping !== undefined) await this.#sweeping.catch(() => 0);
    try {
      this.#db.close();
    } catch (err) {
      failure ??= toStorageError(err, 'close', this.file);
    }
    if (failure !== undefined) throw failure;
  }

  // ---------------------------------------------------------------------------------------------
  // Extras

  /** Totals of the file and counters of this process. Synchronous; one indexed read. */
  stats(): DiskTierStats {
    this.#live('stats');
    let meta: [number, number];
    try {
      meta = this.#s.meta.get() ?? [0, 0];
    } catch (err) {
      throw this.#failure(err, 'stats');
    }
    const reads = this.#hits + this.#misses;
    return {
      entries: meta[0],
      bytes: meta[1],
      maxBytes: this.#o.maxBytes,
      hits: this.#hits,
      misses: this.#misses,
      hitRatio: reads === 0 ? 0 : this.#hits / reads,
      sets: this.#sets,
      rejected: this.#rejected,
      evictedExpired: this.#evictedExpired,
      evictedLru: this.#evictedLru,
      swept: this.#swept,
      pendingAccesses: this.#pending.size,
      droppedAccesses: this.#droppedAccesses,
      backgroundErrors: this.#backgroundErrors,
    };
  }

  /** Write the access times collected by reads now, in one transaction (waits for the lock). */
  flush(): Promise<void> {
    try {
      return Promise.resolve(this.#flushNow());
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  #flushNow(): void {
    this.#live('flush');
    if (this.#pending.size === 0) return;
    try {
      this.#flushTx.immediate();
    } catch (err) {
      throw this.#failure(err, 'flush');
    }
  }

  /**
   * Remove expired entries in batches of `sweepBatchSize` (one short transaction each, at most
   * `sweepMaxBatches`), letting the event loop run between batches. Never waits for another
   * process's lock: a busy file rejects with `DiskStorageError` (`SQLITE_BUSY`) and the timer
   * retries on its next tick. Concurrent calls share one sweep. Resolves the number removed.
   */
  sweepExpired(): Promise<number> {
    if (this.#closed) return Promise.reject(new DiskTierClosedError(this.file, 'sweepExpired'));
    this.#sweeping ??= this.#runSweep().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #runSweep(): Promise<number> {
    const { sweepBatchSize, sweepMaxBatches } = this.#o;
    let removed = 0;
    try {
      for (let batch = 0; batch < sweepMaxBatches && !this.#closed; batch++) {
        if (batch > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.#closed) break;
        const n = this.#withoutBusyWait(
          () => this.#s.deleteExpired.run(this.#o.clock(), sweepBatchSize).changes,
        );
        removed += n;
        if (n < sweepBatchSize) break;
      }
    } catch (err) {
      throw this.#failure(err, 'sweepExpired');
    } finally {
      this.#swept += removed;
      if (removed > 0) this.#emit({ type: 'sweep', removed });
    }
    return removed;
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  #live(operation: string): void {
    if (this.#closed) throw new DiskTierClosedError(this.file, operation);
  }

  #expiry(ttlMs: number | undefined, now: number): number | null {
    const ttl = ttlMs === undefined ? this.#o.defaultTtlMs : resolveTtl('ttlMs', ttlMs);
    return ttl === 0 ? null : now + ttl;
  }

  #encode(key: string, value: V): Uint8Array {
    try {
      return this.#o.codec.encode(value);
    } catch (err) {
      throw new DiskValueError(key, 'encode', { cause: err });
    }
  }

  #decode(key: string, buf: Buffer): V {
    try {
      return this.#o.codec.decode(buf) as V;
    } catch (err) {
      throw new DiskValueError(key, 'decode', { cause: err });
    }
  }

  #touch(key: string, now: number): void {
    const pending = this.#pending;
    pending.set(key, now);
    if (pending.size >= this.#o.maxPendingAccesses && !this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flushInBackground();
      });
    }
  }

  readonly #touchOne = (time: number, key: string): void => {
    this.#s.touch.run(time, key, time);
  };

  /** Write pending access times; the caller holds a write transaction. */
  #writePending(): void {
    if (this.#pending.size === 0) return;
    this.#pending.forEach(this.#touchOne);
    this.#pending.clear();
  }

  /**
   * Reopen the path when it no longer holds the file we have open: deleted (`rm cache.db*` to
   * clear the cache) or moved aside by another process that found it corrupt. SQLite keeps
   * working on the unlinked file, so without this the process would go on serving and filling
   * a private copy no other process sees, missing their writes and invalidations. Checked on the
   * flush timer: one stat per `accessFlushMs`, not one per call.
   */
  #followFile(): void {
    if (this.#closed || this.#ino === undefined || inodeOf(this.file) === this.#ino) return;
    const old = this.#db;
    try {
      this.#open();
    } catch (err) {
      // Keep the handle we have; the next tick tries again. (openCacheFile already applied
      // onCorrupt; #failure would close and recreate the handle we keep.)
      this.#backgroundError('flush', toStorageError(err, 'reopen', this.file));
      return;
    }
    // Access times of the old file's entries mean nothing in the new one.
    this.#pending.clear();
    try {
      old.close();
    } catch {
      // The old handle is dropped either way.
    }
  }

  #flushInBackground(): void {
    if (this.#closed || this.#pending.size === 0) return;
    try {
      this.#withoutBusyWait(() => this.#flushTx.immediate());
    } catch (err) {
      this.#backgroundError('flush', this.#failure(err, 'flush'));
      // The file stayed locked: keep the updates for the next tick, within a bound.
      if (this.#pending.size >= 4 * this.#o.maxPendingAccesses) {
        this.#droppedAccesses += this.#pending.size;
        this.#pending.clear();
      }
    }
  }

  /** Keep the stored bytes within maxBytes; the caller holds a write transaction. */
  #enforceBound(now: number): void {
    const s = this.#s;
    const max = this.#o.maxBytes;
    let bytes = s.meta.get()?.[1] ?? 0;
    if (bytes <= max) return;
    // LRU order must see the reads this process has made so far.
    this.#writePending();
    let expired = 0;
    for (;;) {
      const n = s.deleteExpired.run(now, EXPIRED_BATCH).changes;
      expired += n;
      if (n < EXPIRED_BATCH) break;
    }
    if (expired > 0) bytes = s.meta.get()?.[1] ?? 0;
    let lru = 0;
    while (bytes > max) {
      const rows = s.lru.all(LRU_BATCH);
      if (rows.length === 0) break;
      for (const [id, size] of rows) {
        if (bytes <= max) break;
        s.delById.run(id);
        bytes -= size;
        lru++;
      }
    }
    this.#evictedExpired += expired;
    this.#evictedLru += lru;
    this.#emit({ type: 'evict', expired, lru });
  }

  /** Run background work without waiting on another process's lock (SQLITE_BUSY at once). */
  #withoutBusyWait<T>(fn: () => T): T {
    this.#db.pragma('busy_timeout = 0');
    try {
      return fn();
    } finally {
      this.#db.pragma(`busy_timeout = ${this.#o.busyTimeoutMs}`);
    }
  }

  /**
   * Map a failure to this package's errors. Corruption met at run time is a DiskCorruptError;
   * under `onCorrupt: 'recreate'` the file is also moved aside and reopened empty, so only the
   * call that met it fails.
   */
  #failure(err: unknown, operation: string): Error {
    const mapped = toStorageError(err, operation, this.file);
    if (isCorruption(err) && this.#o.onCorrupt === 'recreate' && !this.#closed) {
      try {
        this.#recreate(mapped);
      } catch (again) {
        this.#backgroundError('flush', again);
      }
    }
    return mapped;
  }

  #recreate(cause: Error): void {
    this.#pending.clear();
    try {
      this.#db.close();
    } catch {
      // Closing a damaged handle may fail; we are replacing it.
    }
    const movedTo = moveAside(this.file, this.#ino);
    this.#open();
    if (movedTo !== undefined) this.#emit({ type: 'recreated', file: this.file, movedTo, cause });
  }

  #backgroundError(task: 'sweep' | 'flush', err: unknown): void {
    this.#backgroundErrors++;
    const error = err instanceof Error ? err : new Error(String(err));
    const busy = (error as { sqliteCode?: string }).sqliteCode?.startsWith('SQLITE_BUSY') === true;
    this.#emit({ type: 'background-error', task, busy, error });
  }

  #emit(event: DiskTierEvent): void {
    const onEvent = this.#o.onEvent;
    if (onEvent === undefined) return;
    try {
      onEvent(event);
    } catch {
      // A throwing listener must not break a cache write; the contract says it must not throw.
    }
  }
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new DiskTierOptionError('key', key, 'a string');
}

function checkTag(tag: unknown, name: string): asserts tag is string {
  if (typeof tag !== 'string' || tag.length === 0)
    throw new DiskTierOptionError(name, tag, 'a non-empty string');
}

function checkTags(
  tags: readonly string[] | undefined,
  name: string,
): readonly string[] | undefined {
  if (tags === undefined) return undefined;
  if (!isArray(tags)) throw new DiskTierOptionError(name, tags, 'an array of non-empty strings');
  for (let i = 0; i < tags.length; i++) checkTag(tags[i], `${name}[${i}]`);
  return tags;
}

/** Array check that does not narrow `readonly T[]` to `any[]`. */
function isArray(value: unknown): boolean {
  return Array.isArray(value);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
