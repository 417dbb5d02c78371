import { encode, decode } from '@peaktrade/serialize';
import { DiskTierOptionError } from './errors.js';

/** Turns live values into bytes and back. Defaults to `@peaktrade/serialize`'s `encode`/`decode`. */
export interface DiskCodec {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** What the tier reports through `onEvent`. Background work never throws; it reports here. */
export type DiskTierEvent =
  /** A corrupt or non-SQLite file was moved aside to `movedTo` and a fresh cache created. */
  | {
      readonly type: 'recreated';
      readonly file: string;
      readonly movedTo: string;
      readonly cause: Error;
    }
  /** The background sweep removed `removed` expired entries (emitted only when > 0). */
  | { readonly type: 'sweep'; readonly removed: number }
  /** A size-bound eviction removed `expired` expired and `lru` least recently used entries. */
  | { readonly type: 'evict'; readonly expired: number; readonly lru: number }
  /**
   * Background work (sweep or access-time flush) failed; `busy` is true when another process
   * held the write lock (the work is retried on the next tick).
   */
  | {
      readonly type: 'background-error';
      readonly task: 'sweep' | 'flush';
      readonly busy: boolean;
      readonly error: Error;
    };

/** Options of {@link DiskTier}. Only `file` is required. */
export interface DiskTierOptions {
  /** Path of the SQLite cache file. Its folder is created if missing. `:memory:` is refused (no WAL). */
  readonly file: string;
  /** Tier name in stats and events. Default `'l3-disk'`. */
  readonly name?: string;
  /**
   * Bound on the stored bytes (sum of entry sizes, where size = UTF-8 key bytes + value bytes;
   * SQLite's page overhead is not counted). Default 256 MiB. Writes past it evict expired
   * entries first, then the least recently used.
   */
  readonly maxBytes?: number;
  /** TTL in ms applied when a write gives none. 0 or Infinity: no expiry (default). */
  readonly defaultTtlMs?: number;
  /**
   * What to do with a file that is not SQLite or is corrupt: `'throw'` a {@link DiskCorruptError},
   * or `'recreate'`: move it aside to `<file>.corrupt-<timestamp>` and start an empty cache
   * (default). It is never silently used.
   */
  readonly onCorrupt?: 'throw' | 'recreate';
  /**
   * Check run when the file is opened: `'quick'` (PRAGMA quick_check, default), `'full'`
   * (PRAGMA integrity_check, slower) or `'off'` (corruption is then found by the first statement
   * that meets it). Both checks read the whole file: O(file size) at startup.
   */
  readonly integrityCheck?: 'quick' | 'full' | 'off';
  /**
   * How long a foreground call, or opening the file, waits for another process's lock, in ms.
   * Default 5000.
   */
  readonly busyTimeoutMs?: number;
  /**
   * Interval in ms at which access times collected in memory by reads are written (batched, one
   * transaction). Default 1000. They are also written before an eviction and on close.
   */
  readonly accessFlushMs?: number;
  /** Pending access updates that trigger an early (asynchronous) flush. Default 10 000. */
  readonly maxPendingAccesses?: number;
  /** Interval in ms of the background sweep of expired entries. Default 60 000; 0 disables it. */
  readonly sweepIntervalMs?: number;
  /** Entries deleted per sweep transaction. Default 500. */
  readonly sweepBatchSize?: number;
  /** Sweep transactions per sweep cycle; the event loop runs between each. Default 20. */
  readonly sweepMaxBatches?: number;
  /**
   * SQLite `synchronous` level. `'normal'` (default) is safe against a killed process in WAL
   * mode; `'full'` also survives power loss, at a cost per commit.
   */
  readonly synchronous?: 'normal' | 'full';
  /** Value codec; default `@peaktrade/serialize`. */
  readonly codec?: DiskCodec;
  /** Clock in ms since the epoch for TTL and access times. Default `Date.now`. */
  readonly clock?: () => number;
  /** Receives background events and recoveries. Must not throw. */
  readonly onEvent?: (event: DiskTierEvent) => void;
}

/** Options after defaults and validation. */
export interface ResolvedDiskTierOptions {
  readonly file: string;
  readonly name: string;
  readonly maxBytes: number;
  readonly defaultTtlMs: number;
  readonly onCorrupt: 'throw' | 'recreate';
  readonly integrityCheck: 'quick' | 'full' | 'off';
  readonly busyTimeoutMs: number;
  readonly accessFlushMs: number;
  readonly maxPendingAccesses: number;
  readonly sweepIntervalMs: number;
  readonly sweepBatchSize: number;
  readonly sweepMaxBatches: number;
  readonly synchronous: 'normal' | 'full';
  readonly codec: DiskCodec;
  readonly clock: () => number;
  readonly onEvent: ((event: DiskTierEvent) => void) | undefined;
}

/** Default `maxBytes`: 256 MiB. */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

const defaultCodec: DiskCodec = { encode, decode };

function int(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new DiskTierOptionError(name, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

function oneOf<T extends string>(
  name: string,
  value: T | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) {
    throw new DiskTierOptionError(name, value, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value;
}

/**
 * Validate a TTL (option or call argument) and normalise "no expiry" to 0.
 * @throws DiskTierOptionError unless it is 0, a positive finite number or Infinity.
 */
export function resolveTtl(name: string, value: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new DiskTierOptionError(
      name,
      value,
      'a number of milliseconds >= 0 (0 or Infinity: no expiry)',
    );
  }
  return value === Infinity ? 0 : value;
}

/** Apply defaults and validate every option once. @throws DiskTierOptionError */
export function resolveOptions(options: DiskTierOptions): ResolvedDiskTierOptions {
  if (typeof options !== 'object' || options === null) {
    throw new DiskTierOptionError('options', options, 'an object with at least { file }');
  }
  const { file } = options;
  if (
    typeof file !== 'string' ||
    file.length === 0 ||
    file === ':memory:' ||
    file.startsWith('file:')
  ) {
    throw new DiskTierOptionError(
      'file',
      file,
      'a non-empty file system path (not ":memory:" or a URI)',
    );
  }
  const name = options.name ?? 'l3-disk';
  if (typeof name !== 'string' || name.length === 0) {
    throw new DiskTierOptionError('name', name, 'a non-empty string');
  }
  const codec = options.codec ?? defaultCodec;
  if (
    typeof codec !== 'object' ||
    typeof codec.encode !== 'function' ||
    typeof codec.decode !== 'function'
  ) {
    throw new DiskTierOptionError(
      'codec',
      codec,
      'an object with encode(value) and decode(bytes) functions',
    );
  }
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function')
    throw new DiskTierOptionError('clock', clock, 'a function returning ms');
  const onEvent = options.onEvent;
  if (onEvent !== undefined && typeof onEvent !== 'function') {
    throw new DiskTierOptionError('onEvent', onEvent, 'a function');
  }
  return {
    file,
    name,
    maxBytes: int('maxBytes', options.maxBytes, DEFAULT_MAX_BYTES, 1),
    defaultTtlMs:
      options.defaultTtlMs === undefined ? 0 : resolveTtl('defaultTtlMs', options.defaultTtlMs),
    onCorrupt: oneOf('onCorrupt', options.onCorrupt, ['throw', 'recreate'], 'recreate'),
    integrityCheck: oneOf(
      'integrityCheck',
      options.integrityCheck,
      ['quick', 'full', 'off'],
      'quick',
    ),
    busyTimeoutMs: int('busyTimeoutMs', options.busyTimeoutMs, 5000, 0, 2 ** 31 - 1),
    accessFlushMs: int('accessFlushMs', options.accessFlushMs, 1000, 1, 2 ** 31 - 1),
    maxPendingAccesses: int('maxPendingAccesses', options.maxPendingAccesses, 10_000, 1),
    sweepIntervalMs: int('sweepIntervalMs', options.sweepIntervalMs, 60_000, 0, 2 ** 31 - 1),
    sweepBatchSize: int('sweepBatchSize', options.sweepBatchSize, 500, 1),
    sweepMaxBatches: int('sweepMaxBatches', options.sweepMaxBatches, 20, 1),
    synchronous: oneOf('synchronous', options.synchronous, ['normal', 'full'], 'normal'),
    codec,
    clock,
    onEvent,
  };
}
