import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import binding from 'zstd-napi/binding.js';
import {
  IN_PLACE_PROBE_BYTES,
  SerializeError,
  decode,
  decodeInPlace,
  encode,
  encodedHeader,
  inPlaceOffset,
} from './index.js';

/** A valid zstd-coded frame around arbitrary MessagePack payload bytes (level 3, checksum, content size). */
function sealZstd(payload: Uint8Array): Uint8Array {
  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.checksumFlag, 1);
  cctx.setParameter(binding.CParameter.contentSizeFlag, 1);
  const scratch = new Uint8Array(binding.compressBound(payload.byteLength));
  const written = cctx.compress2(scratch, payload);
  const bytes = new Uint8Array(12 + written);
  bytes.set(scratch.subarray(0, written), 12);
  bytes.set([0x50, 0x54, 2, 1]);
  const view = new DataView(bytes.buffer);
  view.setUint32(4, written, true);
  view.setUint32(8, crc32(bytes.subarray(12)), true);
  return bytes;
}

function filled<T extends { length: number; [i: number]: number | bigint }>(a: T): T {
  for (let i = 0; i < a.length; i++) {
    const v = (i * 2654435761) % 1000;
    a[i] = typeof a[i] === 'bigint' ? BigInt(v - 500) : v - 500 + i / 7;
  }
  return a;
}

describe('a value that is one large typed array decodes in place', () => {
  const bytes = 80_000; // over 64 KiB: written as ext 32, and compressed
  const cases = [
    new Int8Array(bytes),
    new Uint8Array(bytes),
    new Uint8ClampedArray(bytes),
    new Int16Array(bytes / 2),
    new Uint16Array(bytes / 2),
    new Int32Array(bytes / 4),
    new Uint32Array(bytes / 4),
    new Float32Array(bytes / 4),
    new Float64Array(bytes / 8),
    new BigInt64Array(bytes / 8),
    new BigUint64Array(bytes / 8),
  ].map((a) => filled(a as never) as ArrayBufferView & { length: number });

  it.each(cases.map((a) => [a.constructor.name, a] as const))(
    '%s: same class and values, aligned, a view of the decompressed bytes (not a copy), never of the input',
    (_name, value) => {
      const encoded = encode(value);
      expect(encoded[3]).toBe(1); // zstd-coded
      const got = decode(encoded) as typeof value;
      expect(got.constructor).toBe(value.constructor);
      expect(got).toStrictEqual(value);
      const size = (value as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      expect(got.byteOffset % size).toBe(0);
      // in place: its buffer also holds the 2-byte skew and the 6-byte ext 32 header
      expect(got.buffer.byteLength).toBe(value.byteLength + 8);
      expect(got.buffer).not.toBe(encoded.buffer);
    },
  );

  it('gives each decode its own memory: writing one result changes neither the bytes nor another result', () => {
    const value = filled(new Float64Array(20_000));
    const encoded = encode(value);
    const before = encoded.slice();
    const a = decode(encoded) as Float64Array;
    const b = decode(encoded) as Float64Array;
    a.fill(-1);
    expect(b).toStrictEqual(value);
    expect(encoded).toStrictEqual(before);
  });

  it('copies as before when the typed array is not the whole value, or small (ext 8/16)', () => {
    const col = filled(new Float64Array(20_000));
    const inObject = decode(encode({ col })) as { col: Float64Array };
    expect(inObject.col).toStrictEqual(col);
    expect(inObject.col.buffer.byteLength).toBe(col.byteLength);
    const small = filled(new Float64Array(1000)); // 8000 bytes: ext 16
    const got = decode(encode(small)) as Float64Array;
    expect(got).toStrictEqual(small);
    expect(got.buffer.byteLength).toBe(small.byteLength);
  });

  it('rejects an ext 32 payload whose length is not a whole number of elements, or overruns, with SerializeError', () => {
    const ext = (length: number, type: number, body: number): Uint8Array => {
      const p = new Uint8Array(6 + body);
      p.set([0xc9, length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255, type]);
      return p;
    };
    // Float64Array (ext 0x18) of 70,001 bytes
    expect(() => decode(sealZstd(ext(70_001, 0x18, 70_001)))).toThrow(SerializeError);
    expect(() => decode(sealZstd(ext(70_001, 0x18, 70_001)))).toThrow(/multiple of 8/);
    // declares one byte more than follows
    expect(() => decode(sealZstd(ext(70_001, 0x18, 70_000)))).toThrow(SerializeError);
    // an ext type we do not use
    expect(() => decode(sealZstd(ext(70_000, 0x60, 70_000)))).toThrow(SerializeError);
  });
});

describe('encodedHeader', () => {
  it('gives the byte length and body CRC-32 of the value at the start of concatenated values, from its header', () => {
    const a = encode({ a: 1 });
    const b = encode(new Float64Array(20_000));
    const both = new Uint8Array(a.length + b.length);
    both.set(a);
    both.set(b, a.length);
    expect(encodedHeader(both).byteLength).toBe(a.length);
    expect(encodedHeader(both.subarray(a.length)).byteLength).toBe(b.length);
    expect(encodedHeader(both).crc32).toBe(crc32(a.subarray(12)));
    expect(encodedHeader(both.subarray(a.length)).crc32).toBe(crc32(b.subarray(12)));
    expect(
      decode(both.subarray(a.length, a.length + encodedHeader(both.subarray(a.length)).byteLength)),
    ).toStrictEqual(new Float64Array(20_000));
  });

  it('rejects a bad or truncated header with SerializeError', () => {
    expect(() => encodedHeader(new Uint8Array(5))).toThrow(SerializeError);
    expect(() => encodedHeader(Uint8Array.from([0x50, 0x54, 2]))).toThrow(
      /shorter than the 12-byte header/,
    );
    expect(() => encodedHeader(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]))).toThrow(
      /magic/,
    );
  });
});

describe('decodeInPlace: an uncompressed typed array read as a view of the input', () => {
  const raw = { thresholdBytes: Infinity };
  const value = filled(new Float64Array(10_000));

  /** `encoded` copied into a fresh buffer at byte offset `skew`. */
  function placed(encoded: Uint8Array, skew: number): Uint8Array {
    const out = new Uint8Array(new ArrayBuffer(encoded.byteLength + skew), skew);
    out.set(encoded);
    return out;
  }

  it('finds the elements 18 bytes in (12-byte header, 6-byte ext 32 header)', () => {
    const encoded = encode(value, raw);
    expect(encoded[3]).toBe(0); // raw
    expect(inPlaceOffset(encoded, raw)).toBe(18);
    expect(IN_PLACE_PROBE_BYTES).toBe(18);
  });

  it('is a view of the bytes when the elements are aligned: equal values, shared memory', () => {
    const bytes = placed(encode(value, raw), 6); // 6 + 18 = 24, a multiple of 8
    const got = decodeInPlace(bytes, raw) as Float64Array;
    expect(got).toBeInstanceOf(Float64Array);
    expect(got).toStrictEqual(value);
    expect(got.buffer).toBe(bytes.buffer);
    expect(got.byteOffset).toBe(24);
    // shared: a change to the input shows through (which is why it is only for bytes the caller owns)
    new DataView(bytes.buffer).setFloat64(24, 42.5, true);
    expect(got[0]).toBe(42.5);
  });

  it('copies when the elements are not aligned, and decode always copies', () => {
    const encoded = encode(value, raw);
    for (const skew of [0, 1, 2, 5, 7]) {
      const bytes = placed(encoded, skew);
      const got = decodeInPlace(bytes, raw) as Float64Array;
      expect(got).toStrictEqual(value);
      expect(got.buffer).not.toBe(bytes.buffer);
    }
    const aligned = placed(encoded, 6);
    expect((decode(aligned, raw) as Float64Array).buffer).not.toBe(aligned.buffer);
  });

  it('checks the CRC-32 before handing out a view: a flipped element bit is refused', () => {
    const bytes = placed(encode(value, raw), 6);
    bytes[24 + 8 * 123 + 3]! ^= 0x10;
    expect(() => decodeInPlace(bytes, raw)).toThrow(
      expect.objectContaining({ code: 'E_SERIALIZE_CHECKSUM' }),
    );
  });

  it('decodes every other value exactly as decode does, and says undefined for them', () => {
    const others: unknown[] = [
      { close: value }, // a typed array inside an object: copied
      [value],
      filled(new Float64Array(100)), // under 64 KiB: ext 16, copied
      'text',
      12,
    ];
    for (const v of others) {
      const encoded = encode(v, raw);
      expect(inPlaceOffset(encoded, raw)).toBeUndefined();
      expect(decodeInPlace(placed(encoded, 6), raw)).toStrictEqual(decode(encoded, raw));
    }
    const compressed = encode(value);
    expect(compressed[3]).toBe(1);
    expect(inPlaceOffset(compressed)).toBeUndefined();
    expect(decodeInPlace(compressed)).toStrictEqual(value);
  });

  it('refuses a bad header in inPlaceOffset with the same error as decode', () => {
    const bytes = encode(value, raw);
    bytes[0] = 0x51;
    expect(() => inPlaceOffset(bytes)).toThrow(SerializeError);
    expect(() => inPlaceOffset(bytes)).toThrow(
      expect.objectContaining({ code: 'E_SERIALIZE_BAD_MAGIC' }),
    );
  });
});
