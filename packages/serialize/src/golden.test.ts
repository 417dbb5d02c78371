import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decompress as zstdDecompress } from 'zstd-napi';
import { fixtureValues } from '../test/fixtures-values.js';
import { decode, encode } from './index.js';

/** A stock MessagePack decoder with no knowledge of our extensions except what msgpackr ships. */
const decodeMsgpackOnly = (b: Uint8Array): unknown => new Unpackr({ useRecords: false }).unpack(b);

const fixture = (name: string): Buffer =>
  readFileSync(new URL(`../test/fixtures/${name}.bin`, import.meta.url));

describe('golden byte fixtures (format version 2)', () => {
  for (const [name, { value, options }] of Object.entries(fixtureValues())) {
    it(`encodes "${name}" to exactly the committed bytes`, () => {
      expect(Buffer.from(encode(value, options))).toEqual(fixture(name));
    });
    it(`decodes the committed "${name}" bytes to the original value`, () => {
      expect(decode(fixture(name))).toStrictEqual(value);
    });
  }

  it('small-object.bin has the documented header: "PT", version 2, flags 0, body length, body CRC-32', () => {
    const bytes = fixture('small-object');
    expect([...bytes.subarray(0, 4)]).toEqual([0x50, 0x54, 2, 0]);
    expect(bytes.readUInt32LE(4)).toBe(bytes.byteLength - 12);
    expect(bytes.readUInt32LE(8)).toBe(crc32(bytes.subarray(12)));
  });

  it('compressed-columns.bin is the header plus one standard zstd frame with its content checksum on', () => {
    const bytes = fixture('compressed-columns');
    expect([...bytes.subarray(0, 4)]).toEqual([0x50, 0x54, 2, 1]);
    expect(bytes.readUInt32LE(4)).toBe(bytes.byteLength - 12);
    expect(bytes.readUInt32LE(8)).toBe(crc32(bytes.subarray(12)));
    expect([...bytes.subarray(12, 16)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    // Frame header descriptor: content checksum flag (bit 2) set.
    expect((bytes[16] ?? 0) & 0x04).toBe(0x04);
    // Any zstd implementation can decompress the frame on its own.
    expect(decodeMsgpackOnly(zstdDecompress(bytes.subarray(12)))).toBeDefined();
  });

  it('table.bin holds one Table extension (0x05): the key list, then one float 64 column per key', () => {
    const bytes = fixture('table');
    expect([...bytes.subarray(0, 4)]).toEqual([0x50, 0x54, 2, 0]);
    const body = bytes.subarray(12);
    // ext 16 (0xc8), 2-byte length, type 0x05
    expect(body[0]).toBe(0xc8);
    expect(body[3]).toBe(0x05);
    const data = body.subarray(4);
    expect(data.byteLength).toBe(body.readUInt16BE(1));
    // fixarray of 3 fixstr keys: "t", "px", "qty"
    expect([...data.subarray(0, 10)]).toEqual([
      0x93, 0xa1, 0x74, 0xa2, 0x70, 0x78, 0xa3, 0x71, 0x74, 0x79,
    ]);
    const values = Buffer.from(data.subarray(10));
    expect(values.byteLength).toBe(3 * 16 * 8);
    expect(values.readDoubleLE(0)).toBe(1_700_000_000_000); // t[0]
    expect(values.readDoubleLE(16 * 8 + 3 * 8)).toBe(-0); // px[3]
    expect(values.readDoubleLE(2 * 16 * 8 + 15 * 8)).toBe(15); // qty[15]
  });
});
