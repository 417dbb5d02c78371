import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Implementation, loadNative } from './crc.js';

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe('crc32', () => {
  it('uses @node-rs/crc32 where its prebuilt binary exists (linux x64 glibc here)', () => {
    const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })
      ?.header?.glibcVersionRuntime;
    if (process.platform === 'linux' && process.arch === 'x64' && glibc !== undefined) {
      expect(crc32Implementation).toBe('@node-rs/crc32');
    } else {
      expect(['@node-rs/crc32', 'zlib']).toContain(crc32Implementation);
    }
  });

  it("gives zlib's value for every length from 0 to 300, for views at odd offsets and for large buffers", () => {
    const big = bytes(3_000_000, 7);
    for (let n = 0; n <= 300; n++) {
      const view = big.subarray(n % 13, (n % 13) + n);
      expect(crc32(view), `length ${n}`).toBe(zlibCrc32(view));
    }
    expect(crc32(big)).toBe(zlibCrc32(big));
    const shared = new Uint8Array(new SharedArrayBuffer(4096));
    shared.set(big.subarray(0, 4096));
    expect(crc32(shared)).toBe(zlibCrc32(shared));
  });

  it('continues a running CRC over pieces exactly as one call over the whole', () => {
    const data = bytes(200_001, 3);
    for (const cut of [0, 1, 7, 64, 100_000, 200_000, 200_001]) {
      expect(crc32(data.subarray(cut), crc32(data.subarray(0, cut))), `cut ${cut}`).toBe(
        zlibCrc32(data),
      );
    }
  });

  it('falls back (undefined) when the native module is missing or gives a wrong check value', () => {
    expect(
      loadNative(() => {
        throw new Error("Cannot find module '@node-rs/crc32'");
      }),
    ).toBeUndefined();
    expect(loadNative(() => ({ crc32: () => 0 }))).toBeUndefined();
    // ignores its running value: fails the split check vector
    expect(loadNative(() => ({ crc32: (b: Uint8Array) => zlibCrc32(b) }))).toBeUndefined();
    const good = loadNative(() => ({ crc32: zlibCrc32 }));
    expect(good?.(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
