import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compress as zstdCompress } from 'zstd-napi';
import {
  createCodec,
  decode,
  decodeAsync,
  decodeStream,
  encode,
  encodeAsync,
  encodeStream,
  ExtType,
  SerializeError,
} from './index.js';

/** Deep equality that also distinguishes -0 from 0, NaN, typed array classes, Map/Set and undefined. */
function expectSame(actual: unknown, expected: unknown): void {
  expect(actual).toStrictEqual(expected);
  assertNumbersIdentical(actual, expected);
}

function assertNumbersIdentical(a: unknown, b: unknown): void {
  if (typeof b === 'number') {
    expect(Object.is(a, b), `${String(a)} is ${String(b)}`).toBe(true);
  } else if (Array.isArray(b)) {
    b.forEach((v, i) => assertNumbersIdentical((a as unknown[])[i], v));
  } else if (b instanceof Map) {
    const ae = [...(a as Map<unknown, unknown>).entries()];
    [...b.entries()].forEach(([k, v], i) => {
      assertNumbersIdentical(ae[i]?.[0], k);
      assertNumbersIdentical(ae[i]?.[1], v);
    });
  } else if (b instanceof Set) {
    const am = [...(a as Set<unknown>)];
    [...b].forEach((v, i) => assertNumbersIdentical(am[i], v));
  } else if (ArrayBuffer.isView(b)) {
    expect(
      Buffer.from(
        (a as Uint8Array).buffer,
        (a as Uint8Array).byteOffset,
        (a as Uint8Array).byteLength,
      ),
    ).toEqual(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  } else if (
    b !== null &&
    typeof b === 'object' &&
    !(b instanceof Date) &&
    !(b instanceof ArrayBuffer)
  ) {
    for (const k of Object.keys(b))
      assertNumbersIdentical((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
  }
}

const typedArrayArb = fc.oneof(
  fc.array(fc.integer({ min: -128, max: 127 }), { maxLength: 20 }).map((a) => Int8Array.from(a)),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }).map((a) => Uint8Array.from(a)),
  fc
    .array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 })
    .map((a) => Uint8ClampedArray.from(a)),
  fc
    .array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 20 })
    .map((a) => Int16Array.from(a)),
  fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 20 }).map((a) => Uint16Array.from(a)),
  fc.array(fc.integer(), { maxLength: 20 }).map((a) => Int32Array.from(a)),
  fc.array(fc.nat(), { maxLength: 20 }).map((a) => Uint32Array.from(a)),
  fc.float32Array({ maxLength: 20 }),
  fc.float64Array({ maxLength: 20 }),
  fc.bigInt64Array({ maxLength: 10 }),
  fc.bigUint64Array({ maxLength: 10 }),
);

const leafArb = fc.oneof(
  fc.double(),
  fc.constantFrom(NaN, -0, 0, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.integer(),
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15) }),
  fc.constant(new Date(NaN)),
  typedArrayArb,
  fc.uint8Array({ maxLength: 16 }).map((a) => a.slice().buffer),
);

/** Object keys; `__proto__` is refused by encode (see the dedicated test). */
const keyArb = fc.string().filter((k) => k !== '__proto__');

const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    tie('array'),
    tie('object'),
    tie('map'),
    tie('set'),
  ),
  array: fc.array(tie('value'), { maxLength: 6 }),
  object: fc.dictionary(keyArb, tie('value'), { maxKeys: 6, noNullPrototype: true }),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((e) => new Map(e)),
  set: fc.array(tie('value'), { maxLength: 4 }).map((m) => new Set(m)),
}));

describe('round trip', () => {
  it('keeps every supported type and value intact (property, sync, default and always-compressed codecs)', () => {
    const compressAll = createCodec({ thresholdBytes: 0 });
    fc.assert(
      fc.property(valueArb, (value) => {
        expectSame(decode(encode(value)), value);
        expectSame(compressAll.decode(compressAll.encode(value)), value);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps every supported type intact through encodeAsync/decodeAsync and the streams (property)', async () => {
    await fc.assert(
      fc.asyncProperty(valueArb, async (value) => {
        const bytes = await encodeAsync(value);
        expect(Buffer.from(bytes)).toEqual(Buffer.from(encode(value)));
        expectSame(await decodeAsync(bytes), value);
        const chunks: Uint8Array[] = [];
        for await (const c of encodeStream(value)) chunks.push(c as Uint8Array);
        expectSame(await decodeStream(chunks), value);
      }),
      { numRuns: 100 },
    );
  });

  it('decodes typed arrays into fresh aligned buffers even when the payload offset is odd', () => {
    const src = new Float64Array([1.5, -0, NaN, 3e300]);
    const bytes = encode({ pad: 'x', a: src, b: new BigInt64Array([-1n, 2n ** 62n]) });
    // Re-home the bytes at an odd offset so any view onto the input would be misaligned.
    const shifted = new Uint8Array(bytes.byteLength + 1).subarray(1);
    shifted.set(bytes);
    const out = decode(shifted) as { a: Float64Array; b: BigInt64Array };
    expect(out.a).toBeInstanceOf(Float64Array);
    expect(out.a.byteOffset % 8).toBe(0);
    expect(out.a.buffer).not.toBe(shifted.buffer);
    expectSame(out.a, src);
    expect([...out.b]).toEqual([-1n, 2n ** 62n]);
  });

  it('encodes a typed array view (non-zero byteOffset) as just its elements', () => {
    const backing = new Float64Array([9, 1, 2, 9]);
    const view = backing.subarray(1, 3);
    const out = decode(encode(view)) as Float64Array;
    expect([...out]).toEqual([1, 2]);
  });

  it('writes Float64Array elements as raw little-endian bytes inside the extension', () => {
    const bytes = encode(new Float64Array([1.5]), { thresholdBytes: Infinity });
    const payload = bytes.subarray(12);
    // ext 8: 0xc7, length 8, type 0x18, then IEEE 754 LE bytes of 1.5
    expect([...payload.subarray(0, 3)]).toEqual([0xc7, 8, ExtType.Float64Array]);
    expect(Buffer.from(payload.subarray(3)).readDoubleLE(0)).toBe(1.5);
  });

  it('stores values under thresholdBytes raw and larger ones as a zstd frame', () => {
    const small = encode('x'.repeat(100));
    const large = encode('x'.repeat(5000));
    expect(small[3]).toBe(0);
    expect(large[3]).toBe(1);
    expect([...large.subarray(12, 16)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(large.byteLength).toBeLessThan(100);
    const never = createCodec({ thresholdBytes: Infinity });
    expect(never.encode('x'.repeat(5000))[3]).toBe(0);
  });

  it('decodes Buffer as Uint8Array and null-prototype objects as plain objects', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.k = Buffer.from('hi');
    const out = decode(encode(o)) as { k: Uint8Array };
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out.k.constructor).toBe(Uint8Array);
    expect([...out.k]).toEqual([104, 105]);
  });

  it('round-trips an ArrayBuffer', () => {
    const ab = Uint8Array.of(1, 2, 3).buffer;
    const out = decode(encode({ ab })) as { ab: ArrayBuffer };
    expect(out.ab).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(out.ab)]).toEqual([1, 2, 3]);
  });

  it('rejects values that would not round-trip with E_SERIALIZE_UNSUPPORTED_TYPE', () => {
    class Point {
      x = 1;
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [
      () => 1,
      Symbol('s'),
      new Point(),
      cyclic,
      new DataView(new ArrayBuffer(1)),
      new WeakMap(),
    ]) {
      expect(() => encode({ v: bad })).toThrow(
        expect.objectContaining({ code: 'E_SERIALIZE_UNSUPPORTED_TYPE' }) as Error,
      );
    }
  });

  it('uses a zstd dictionary when configured, and refuses to decode such bytes without it', () => {
    const dictionary = new TextEncoder().encode(
      '{"symbol":"BTCUSD","exchange":"binance","interval":"1m","open","high","low","close","volume"}'.repeat(
        20,
      ),
    );
    const withDict = createCodec({ dictionary, thresholdBytes: 0 });
    const plain = createCodec({ thresholdBytes: 0 });
    const value = {
      symbol: 'BTCUSD',
      exchange: 'binance',
      interval: '1m',
      fields: ['open', 'high', 'low', 'close', 'volume'],
    };
    const a = withDict.encode(value);
    const b = plain.encode(value);
    expect(a[3]).toBe(1 | 4);
    expect(a.byteLength).toBeLessThan(b.byteLength);
    expect(withDict.decode(a)).toEqual(value);
    expect(() => plain.decode(a)).toThrow(
      expect.objectContaining({ code: 'E_SERIALIZE_DICTIONARY' }) as Error,
    );
    const other = createCodec({
      dictionary: new TextEncoder().encode('something else entirely '.repeat(50)),
    });
    expect(() => other.decode(a)).toThrow(SerializeError);
  });

  it('honours the compression level (different levels give different frames that decode the same)', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => ({
      t: i * 60,
      c: 100 + (i % 37) / 8,
      s: 'BTCUSD',
    }));
    const raw = createCodec({ thresholdBytes: Infinity }).encode(rows).subarray(12);
    for (const level of [1, 19]) {
      const framed = createCodec({ level }).encode(rows);
      // The frame is exactly what zstd itself produces at that level with the content checksum on.
      expect(Buffer.from(framed.subarray(12))).toEqual(
        zstdCompress(raw, { compressionLevel: level, checksumFlag: true }),
      );
      expect(decode(framed)).toEqual(rows);
    }
  });

  it('refuses an own "__proto__" key rather than decode it under another name', () => {
    const o = JSON.parse('{"__proto__": 1}') as unknown;
    expect(() => encode(o)).toThrow(
      expect.objectContaining({ code: 'E_SERIALIZE_UNSUPPORTED_TYPE' }) as Error,
    );
  });

  it('validates options at construction, naming the option and value', () => {
    expect(() => createCodec({ level: 0 })).toThrow(/level must be an integer from 1 to 22, got 0/);
    expect(() => createCodec({ thresholdBytes: -1 })).toThrow(/thresholdBytes/);
    expect(() => createCodec({ maxBytes: 1.5 })).toThrow(/maxBytes.*1\.5/);
    expect(() => createCodec({ dictionary: new Uint8Array(0) })).toThrow(/dictionary/);
    expect(() => createCodec({ level: 'x' as unknown as number })).toThrow(
      expect.objectContaining({ code: 'E_SERIALIZE_INVALID_OPTION' }) as Error,
    );
  });

  it('refuses to encode more than maxBytes', () => {
    const codec = createCodec({ maxBytes: 1000 });
    expect(() => codec.encode('x'.repeat(2000))).toThrow(
      expect.objectContaining({ code: 'E_SERIALIZE_TOO_LARGE' }) as Error,
    );
  });

  it('codec methods work when destructured', () => {
    const { encode: enc, decode: dec } = createCodec();
    expect(dec(enc({ a: [1, 2] }))).toEqual({ a: [1, 2] });
  });

  it('decodes from a Node Readable stream', async () => {
    const value = { close: new Float64Array(20_000).map((_, i) => i * 0.5), tag: 'x' };
    const bytes = encode(value);
    const readable = Readable.from(
      (function* () {
        for (let i = 0; i < bytes.byteLength; i += 777)
          yield Buffer.from(bytes.subarray(i, i + 777));
      })(),
    );
    expectSame(await decodeStream(readable), value);
  });
});
