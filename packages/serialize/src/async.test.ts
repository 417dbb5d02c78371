import { describe, expect, it } from 'vitest';
import { decompress as zstdDecompress } from 'zstd-napi';
import {
  createCodec,
  decode,
  decodeAsync,
  decodeStream,
  encode,
  encodeAsync,
  encodeStream,
} from './index.js';

function rows(
  n: number,
): { time: number; close: number; tags: unknown[]; m: Map<number, number> | null }[] {
  let price = 100;
  return Array.from({ length: n }, (_, i) => {
    price *= 1 + Math.sin(i) * 0.001;
    return {
      time: 1.7e12 + i * 60_000,
      close: price,
      tags: ['a', i % 3],
      m: i % 1000 === 0 ? new Map([[i, -0]]) : null,
    };
  });
}

/** Counts setImmediate ticks that run while `work` is pending. */
async function ticksDuring(work: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  let running = true;
  const tick = (): void => {
    ticks++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  running = false;
  return ticks;
}

/** The MessagePack inside encoded bytes (decompressed when needed). */
function msgpackOf(bytes: Uint8Array): Buffer {
  const body = bytes.subarray(12);
  return bytes[3] === 0 ? Buffer.from(body) : zstdDecompress(body);
}

describe('async and streaming variants', () => {
  const big = {
    rows: rows(12_000),
    close: new Float64Array(120_000).map((_, i) => Math.sin(i)),
    s: new Set(['x', 'y']),
  };

  it('encodeAsync and decodeAsync of a >1 MiB value let the event loop run between slices', async () => {
    const raw = createCodec({ thresholdBytes: Infinity }).encode(big);
    expect(raw.byteLength).toBeGreaterThan(1024 * 1024);
    let bytes: Uint8Array = new Uint8Array(0);
    const encodeTicks = await ticksDuring(async () => {
      bytes = await encodeAsync(big);
    });
    const decodeTicks = await ticksDuring(() => decodeAsync(bytes));
    // The one-shot calls run to completion with no tick in between; the sliced ones yield many times.
    expect(encodeTicks).toBeGreaterThan(5);
    expect(decodeTicks).toBeGreaterThan(5);
    expect(await ticksDuring(() => Promise.resolve(decode(encode(big))))).toBeLessThanOrEqual(1);
  });

  it('encodeAsync and encodeStream write the same MessagePack as encode; every decoder returns the same value', async () => {
    const sync = encode(big);
    const viaAsync = await encodeAsync(big);
    const chunks: Uint8Array[] = [];
    for await (const c of encodeStream(big)) chunks.push(c as Uint8Array);
    const viaStream = Buffer.concat(chunks);
    expect(msgpackOf(viaAsync).equals(msgpackOf(sync))).toBe(true);
    expect(viaStream.equals(Buffer.from(viaAsync))).toBe(true);
    const expected = decode(sync);
    expect(expected).toStrictEqual(big);
    expect(await decodeAsync(viaAsync)).toStrictEqual(expected);
    expect(await decodeStream(chunks)).toStrictEqual(expected);
    expect(decode(viaStream)).toStrictEqual(expected);
  });

  it('the sliced raw (uncompressed) path round-trips large values too', async () => {
    const codec = createCodec({ thresholdBytes: Infinity });
    const bytes = await codec.encodeAsync(big);
    expect(bytes[3]).toBe(0);
    expect(Buffer.from(bytes).equals(Buffer.from(codec.encode(big)))).toBe(true);
    expect(await codec.decodeAsync(bytes)).toStrictEqual(big);
  });

  it('decodeStream refuses an over-maxBytes raw payload from its header, without reading the rest', async () => {
    const bytes = encode('z'.repeat(50_000), { thresholdBytes: Infinity });
    let pulled = 0;
    function* source(): Generator<Uint8Array> {
      for (let i = 0; i < bytes.byteLength; i += 1000) {
        pulled++;
        yield bytes.subarray(i, i + 1000);
      }
    }
    await expect(createCodec({ maxBytes: 10_000 }).decodeStream(source())).rejects.toMatchObject({
      code: 'E_SERIALIZE_TOO_LARGE',
    });
    expect(pulled).toBe(1);
  });

  it('the sliced and streaming paths honour a zstd dictionary', async () => {
    const dictionary = new TextEncoder().encode(JSON.stringify(rows(200)));
    const codec = createCodec({ dictionary });
    const value = { rows: rows(20_000) };
    const bytes = await codec.encodeAsync(value);
    expect(bytes[3]).toBe(1 | 4);
    expect(codec.decode(bytes)).toStrictEqual(value);
    expect(await codec.decodeAsync(bytes)).toStrictEqual(value);
    const chunks: Uint8Array[] = [];
    for await (const c of codec.encodeStream(value)) chunks.push(c as Uint8Array);
    expect(await codec.decodeStream(chunks)).toStrictEqual(value);
    await expect(decodeAsync(bytes)).rejects.toMatchObject({ code: 'E_SERIALIZE_DICTIONARY' });
    await expect(decodeStream(chunks)).rejects.toMatchObject({ code: 'E_SERIALIZE_DICTIONARY' });
  });

  it('decodeStream rejects chunks that are not bytes', async () => {
    await expect(decodeStream(['PT' as unknown as Uint8Array])).rejects.toMatchObject({
      code: 'E_SERIALIZE_INVALID_INPUT',
    });
  });

  it('encodeAsync rejects cycles and unsupported values inside large containers', async () => {
    const cyclic: Record<string, unknown> = { rows: rows(5000) };
    cyclic.self = cyclic;
    await expect(encodeAsync(cyclic)).rejects.toMatchObject({
      code: 'E_SERIALIZE_UNSUPPORTED_TYPE',
    });
    await expect(encodeAsync({ rows: rows(5000), f: () => 1 })).rejects.toMatchObject({
      code: 'E_SERIALIZE_UNSUPPORTED_TYPE',
    });
  });
});
