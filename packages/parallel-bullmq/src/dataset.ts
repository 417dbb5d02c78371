import { createHash } from 'node:crypto';
import { createCodec } from '@peaktrade/serialize';
import {
  OHLCV_FIELDS,
  SharedColumns,
  type BacktestData,
  type ColumnView,
} from '@peaktrade/parallel';
import type { Redis } from 'ioredis';
import { keys } from './protocol.js';

/** Datasets larger than this are stored in parts (Redis strings cap at 512 MB; smaller parts stream better). */
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;

// Level 1: prices compress a few times over and decompress at memory speed.
const codec = createCodec({ level: 1, maxBytes: 4 * 1024 ** 3 - 1 });

/** The columns of `data`, whichever form it came in. */
export function columnsOf(data: BacktestData): ColumnView {
  return data instanceof SharedColumns ? data.columns : data;
}

/** Serialized bytes and content hash (sha256, hex) of a dataset. */
export function encodeDataset(data: BacktestData): { bytes: Uint8Array; hash: string } {
  const cols = columnsOf(data);
  const bytes = codec.encode({
    format: 'peaktrade.dataset',
    version: 1,
    columns: Object.fromEntries(OHLCV_FIELDS.map((f) => [f, cols[f]])),
  });
  return { bytes, hash: createHash('sha256').update(bytes).digest('hex') };
}

/** What {@link DatasetHashes} remembers of a dataset object it encoded. */
interface KnownDataset {
  readonly hash: string;
  /** Parts the dataset is stored in (see {@link uploadDataset}). */
  readonly parts: number;
  /** Rows per column when it was encoded. */
  readonly rows: number;
  /** The OHLCV columns' bytes when it was encoded, in {@link OHLCV_FIELDS} order. */
  readonly snapshot: Buffer;
}

/**
 * Content hashes of dataset objects, remembered by object identity so a run with a dataset object
 * seen before neither re-encodes nor re-hashes it.
 *
 * The rule: market data is read-only while it is used, but nothing stops a caller from changing a
 * column in place (or swapping one) between runs. So an entry is trusted only after the object's
 * current OHLCV bytes compare equal to a copy taken when it was encoded (`memcmp`, a fraction of
 * a millisecond per 5 MB, against about 20 ms to encode and SHA-256 it). Changed data is encoded
 * and hashed again, and reaches the workers under its new hash. The copy costs as much memory as
 * the columns and lives as long as the data object (a `WeakMap` entry).
 */
export class DatasetHashes {
  readonly #known = new WeakMap<object, KnownDataset>();
  readonly #partBytes: number;
  #encodes = 0;

  constructor(partBytes = DEFAULT_PART_BYTES) {
    this.#partBytes = partBytes;
  }

  /** Datasets serialized and hashed so far. */
  get encodes(): number {
    return this.#encodes;
  }

  /**
   * The hash and part count of `data` when this object was encoded before and its bytes have not
   * changed since; otherwise undefined (and the stale entry is dropped).
   */
  lookup(data: BacktestData): { hash: string; parts: number } | undefined {
    const known = this.#known.get(data);
    if (known === undefined) return undefined;
    const cols = columnsOf(data);
    let offset = 0;
    for (const f of OHLCV_FIELDS) {
      const col = cols[f];
      if (!(col instanceof Float64Array) || col.length !== known.rows) {
        this.#known.delete(data);
        return undefined;
      }
      const now = Buffer.from(col.buffer, col.byteOffset, col.byteLength);
      if (!now.equals(known.snapshot.subarray(offset, offset + col.byteLength))) {
        this.#known.delete(data);
        return undefined;
      }
      offset += col.byteLength;
    }
    return { hash: known.hash, parts: known.parts };
  }

  /** Encode and hash `data` ({@link encodeDataset}), and remember the result for this object. */
  encode(data: BacktestData): { bytes: Uint8Array; hash: string; parts: number } {
    const cols = columnsOf(data);
    const rows = cols.close.length;
    const snapshot = Buffer.allocUnsafe(rows * 8 * OHLCV_FIELDS.length);
    let offset = 0;
    for (const f of OHLCV_FIELDS) {
      const col = cols[f];
      snapshot.set(new Uint8Array(col.buffer, col.byteOffset, col.byteLength), offset);
      offset += col.byteLength;
    }
    const { bytes, hash } = encodeDataset(data);
    this.#encodes++;
    const parts = partCount(bytes.length, this.#partBytes);
    this.#known.set(data, { hash, parts, rows, snapshot });
    return { bytes, hash, parts };
  }
}

function partCount(size: number, partBytes: number): number {
  return Math.max(1, Math.ceil(size / partBytes));
}

/**
 * Refresh the TTL of a dataset already uploaded, in one round trip.
 * @returns false when any of its keys is gone (expired, or Redis lost it): upload it again.
 */
export async function refreshDataset(
  redis: Redis,
  prefix: string,
  hash: string,
  parts: number,
  ttlMs: number,
): Promise<boolean> {
  const pipeline = redis.pipeline();
  // Parts first: the meta key is what readers look for, and it is checked last.
  for (let i = 0; i < parts; i++) pipeline.pexpire(keys.dataPart(prefix, hash, i), ttlMs);
  pipeline.pexpire(keys.dataMeta(prefix, hash), ttlMs);
  const results = (await pipeline.exec()) ?? [];
  for (const [error] of results) if (error) throw error;
  return results.length === parts + 1 && results.every(([, n]) => n === 1);
}

/**
 * Upload a dataset once: when its content hash is already stored, only its TTL is refreshed.
 * Parts are written before the meta key, so a reader never sees half a dataset.
 * @returns whether bytes were transferred.
 */
export async function uploadDataset(
  redis: Redis,
  prefix: string,
  hash: string,
  bytes: Uint8Array,
  ttlMs: number,
  partBytes = DEFAULT_PART_BYTES,
): Promise<boolean> {
  const metaKey = keys.dataMeta(prefix, hash);
  const meta = await redis.get(metaKey);
  const parts = partCount(bytes.length, partBytes);
  // The meta key alone does not mean the dataset is there: a part can be gone while it is not
  // (evicted under maxmemory, or expired a moment before it: parts are written, so expire,
  // first). Skipping the upload then sent the workers to a dataset they cannot download, and
  // every job of the run failed. So the parts are checked too, and all are written again if one
  // is missing.
  if (
    meta !== null &&
    (await refreshDataset(
      redis,
      prefix,
      hash,
      (JSON.parse(meta) as { parts: number }).parts,
      ttlMs,
    ))
  )
    return false;
  const pipeline = redis.pipeline();
  for (let i = 0; i < parts; i++) {
    const part = bytes.subarray(i * partBytes, Math.min(bytes.length, (i + 1) * partBytes));
    pipeline.set(
      keys.dataPart(prefix, hash, i),
      Buffer.from(part.buffer, part.byteOffset, part.byteLength),
      'PX',
      ttlMs,
    );
  }
  pipeline.set(metaKey, JSON.stringify({ parts, size: bytes.length }), 'PX', ttlMs);
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([error]) => error !== null);
  if (failed?.[0]) throw failed[0];
  return true;
}

/**
 * Download a dataset by content hash into SharedColumns (ready for the local worker pool).
 * The bytes are checked against the hash before they are decoded.
 * @throws {Error} when the dataset is missing or does not match its hash.
 */
export async function downloadDataset(
  redis: Redis,
  prefix: string,
  hash: string,
): Promise<SharedColumns> {
  const meta = await redis.get(keys.dataMeta(prefix, hash));
  if (meta === null)
    throw new Error(`dataset ${hash.slice(0, 12)}… is not in Redis (expired, or Redis lost it)`);
  const { parts, size } = JSON.parse(meta) as { parts: number; size: number };
  const buffers = await Promise.all(
    Array.from({ length: parts }, (_, i) => redis.getBuffer(keys.dataPart(prefix, hash, i))),
  );
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const [i, b] of buffers.entries()) {
    if (b === null) throw new Error(`dataset ${hash.slice(0, 12)}… is missing part ${i}`);
    b.copy(bytes, offset);
    offset += b.length;
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== hash || offset !== size)
    throw new Error(`dataset ${hash.slice(0, 12)}… is corrupt in Redis (content hash mismatch)`);
  const value = codec.decode(bytes) as { columns: Record<string, Float64Array> };
  return SharedColumns.from(value.columns as ColumnView);
}
