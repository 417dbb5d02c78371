import { crc32 } from 'node:zlib';
import { createRng } from '@peaktrade/bench-harness';
import { readFileSync } from 'node:fs';
import binding from 'zstd-napi/binding.js';
import { describe, expect, it } from 'vitest';
import { createCodec, decode, decodeAsync, decodeStream, encode, SerializeError } from './index.js';
import type { SerializeErrorCode } from './index.js';

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../test/fixtures/${name}.bin`, import.meta.url)));

function codeOf(fn: () => unknown): SerializeErrorCode | 'no error' | 'foreign error' {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return err instanceof SerializeError ? err.code : 'foreign error';
  }
}

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'no error';
  } catch (err) {
    return err instanceof SerializeError ? err.code : `foreign error: ${String(err)}`;
  }
}

function rowsSample(n: number): unknown {
  return Array.from({ length: n }, (_, i) => ({
    t: 1_700_000_000_000 + i * 60_000,
    o: 100 + (i % 17) / 4,
    v: i * 3,
    s: 'ETHUSD',
    m: new Map([[i, new Set([i])]]),
  }));
}

describe('corrupt input', () => {
  it('reports each kind of damage with its own code', () => {
    const raw = encode({ a: 1 });
    const zstd = encode('x'.repeat(5000));
    const withByte = (b: Uint8Array, i: number, v: number): Uint8Array => {
      const c = b.slice();
      c[i] = v;
      return c;
    };
    expect(codeOf(() => decode(withByte(raw, 0, 0x51)))).toBe('E_SERIALIZE_BAD_MAGIC');
    expect(codeOf(() => decode(new TextEncoder().encode('{"json":true}')))).toBe(
      'E_SERIALIZE_BAD_MAGIC',
    );
    expect(codeOf(() => decode(withByte(raw, 2, 1)))).toBe('E_SERIALIZE_UNSUPPORTED_VERSION');
    expect(codeOf(() => decode(withByte(raw, 2, 3)))).toBe('E_SERIALIZE_UNSUPPORTED_VERSION');
    expect(codeOf(() => decode(withByte(raw, 3, 0x80)))).toBe('E_SERIALIZE_CORRUPT');
    expect(codeOf(() => decode(raw.subarray(0, raw.byteLength - 1)))).toBe('E_SERIALIZE_TRUNCATED');
    expect(codeOf(() => decode(zstd.subarray(0, zstd.byteLength - 1)))).toBe(
      'E_SERIALIZE_TRUNCATED',
    );
    expect(codeOf(() => decode(new Uint8Array(0)))).toBe('E_SERIALIZE_TRUNCATED');
    expect(codeOf(() => decode(withByte(raw, raw.byteLength - 1, (raw.at(-1) ?? 0) ^ 1)))).toBe(
      'E_SERIALIZE_CHECKSUM',
    );
    expect(codeOf(() => decode(withByte(zstd, zstd.byteLength - 1, (zstd.at(-1) ?? 0) ^ 1)))).toBe(
      'E_SERIALIZE_CHECKSUM',
    );
    expect(codeOf(() => decode(Uint8Array.from([...raw, 0])))).toBe('E_SERIALIZE_CORRUPT');
    expect(codeOf(() => decode(Uint8Array.from([...zstd, 0])))).toBe('E_SERIALIZE_CORRUPT');
    expect(codeOf(() => decode('PT' as unknown as Uint8Array))).toBe('E_SERIALIZE_INVALID_INPUT');
  });

  it('refuses payloads over maxBytes before decompressing them (raw length and zstd content size)', () => {
    const small = createCodec({ maxBytes: 1000 });
    expect(codeOf(() => small.decode(encode('x'.repeat(900), { thresholdBytes: Infinity })))).toBe(
      'no error',
    );
    expect(codeOf(() => small.decode(encode('x'.repeat(2000), { thresholdBytes: Infinity })))).toBe(
      'E_SERIALIZE_TOO_LARGE',
    );
    // A 64 MiB run of zeros compresses to a few KiB: a "bomb" that must be refused from its header alone.
    const bomb = encode(new Uint8Array(64 * 1024 * 1024));
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    expect(codeOf(() => small.decode(bomb))).toBe('E_SERIALIZE_TOO_LARGE');
  });

  it('enforces maxBytes while streaming a zstd frame that does not declare its size', () => {
    const payload = encode('y'.repeat(10_000), { thresholdBytes: Infinity }).subarray(12);
    const cctx = new binding.CCtx();
    cctx.setParameter(binding.CParameter.checksumFlag, 1);
    cctx.setParameter(binding.CParameter.contentSizeFlag, 0);
    const out = new Uint8Array(binding.compressBound(payload.byteLength) + 64);
    // Streaming compression without a pledged size leaves the content size out of the frame header.
    const [, written] = cctx.compressStream2(out.subarray(4), payload, binding.EndDirective.end);
    const bytes = out.slice(0, 12 + written);
    bytes.copyWithin(12, 4, 4 + written);
    bytes.set([0x50, 0x54, 2, 1]);
    const view = new DataView(bytes.buffer);
    view.setUint32(4, written, true);
    view.setUint32(8, crc32(bytes.subarray(12)), true);
    expect(binding.getFrameContentSize(bytes.subarray(12))).toBeNull();
    expect(decode(bytes)).toBe('y'.repeat(10_000));
    expect(codeOf(() => createCodec({ maxBytes: 5000 }).decode(bytes))).toBe(
      'E_SERIALIZE_TOO_LARGE',
    );
  });

  it('fuzz: >=100k corrupted inputs (random bytes, every truncation, every single bit flip) all throw SerializeError', () => {
    const next = createRng(0xc0ffee);
    const samples = [
      fixture('small-object'),
      fixture('special-numbers'),
      fixture('types'),
      fixture('compressed-columns'),
      encode(rowsSample(60)),
    ];
    const failures: string[] = [];
    let inputs = 0;
    const check = (bytes: Uint8Array, what: string): void => {
      inputs++;
      const code = codeOf(() => decode(bytes));
      if (code === 'no error' || code === 'foreign error') failures.push(`${what}: ${code}`);
    };
    for (const [s, sample] of samples.entries()) {
      for (let cut = 0; cut < sample.byteLength; cut++)
        check(sample.subarray(0, cut), `sample ${s} cut at ${cut}`);
      for (let bit = 0; bit < sample.byteLength * 8; bit++) {
        const flipped = sample.slice();
        flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        check(flipped, `sample ${s} bit ${bit}`);
      }
    }
    const header = [0x50, 0x54, 0x01];
    while (inputs < 105_000) {
      const len = Math.floor(next() * 80);
      const bytes = new Uint8Array(len);
      for (let i = 0; i < len; i++) bytes[i] = Math.floor(next() * 256);
      // Half carry a valid magic and version so the flags, lengths, CRC and frame checks are exercised.
      if (next() < 0.5) bytes.set(header.slice(0, len));
      if (next() < 0.25 && len > 8) bytes.set([0x28, 0xb5, 0x2f, 0xfd], 4);
      check(bytes, `random ${Array.from(bytes, (b) => b.toString(16)).join(' ')}`);
    }
    expect(inputs).toBeGreaterThanOrEqual(100_000);
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it('fuzz: the sliced (decodeAsync) and streaming decoders reject truncated and bit-flipped large payloads', async () => {
    const next = createRng(42);
    const noise = new Float64Array(20_000).map(() => next());
    const big = encode({ rows: rowsSample(3000), close: noise });
    const bigRaw = encode({ rows: rowsSample(3000) }, { thresholdBytes: Infinity });
    expect(big.byteLength).toBeGreaterThan(64 * 1024);
    expect(bigRaw.byteLength).toBeGreaterThan(64 * 1024);
    const failures: string[] = [];
    for (const [name, sample] of [
      ['zstd', big],
      ['raw', bigRaw],
    ] as const) {
      for (let k = 0; k < 150; k++) {
        const flipped = sample.slice();
        const bit = Math.floor(next() * sample.byteLength * 8);
        flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        const a = await codeOfAsync(() => decodeAsync(flipped));
        if (!a.startsWith('E_SERIALIZE_')) failures.push(`${name} async bit ${bit}: ${a}`);
        const cut = sample.subarray(0, Math.floor(next() * sample.byteLength));
        const s = await codeOfAsync(() =>
          decodeStream([cut.subarray(0, 1000), cut.subarray(1000)]),
        );
        if (!s.startsWith('E_SERIALIZE_'))
          failures.push(`${name} stream cut ${cut.byteLength}: ${s}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
