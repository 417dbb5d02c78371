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
  const parts = Math.max(1, Math.ceil(bytes.length / partBytes));
  if (meta !== null) {
    const pipeline = redis.pipeline().pexpire(metaKey, ttlMs);
    for (let i = 0; i < (JSON.parse(meta) as { parts: number }).parts; i++)
      pipeline.pexpire(keys.dataPart(prefix, hash, i), ttlMs);
    await pipeline.exec();
    return false;
  }
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
