/**
 * Stretch experiment: lossless Float64 column transforms before zstd (byte shuffle, XOR with the previous
 * value, both). Measures compressed sizes only; the codec keeps a transform only if it wins by >= 20%.
 */
import { readFileSync } from 'node:fs';
import { compress } from 'zstd-napi';

/** Byte-plane transpose: all byte 0s, then all byte 1s, ... (a.k.a. shuffle). */
export function shuffle(bytes: Uint8Array, width: number): Uint8Array {
  const n = bytes.byteLength / width;
  const out = new Uint8Array(bytes.byteLength);
  for (let b = 0; b < width; b++)
    for (let i = 0; i < n; i++) out[b * n + i] = bytes[i * width + b]!;
  return out;
}

/** XOR of each 64-bit word with the previous one (first word unchanged). */
export function xorDelta(col: Float64Array): Uint8Array {
  const words = new Uint32Array(col.buffer.slice(col.byteOffset, col.byteOffset + col.byteLength));
  for (let i = words.length - 2; i >= 2; i -= 2) {
    words[i] = words[i]! ^ words[i - 2]!;
    words[i + 1] = words[i + 1]! ^ words[i - 1]!;
  }
  return new Uint8Array(words.buffer);
}

/** zstd level-3 sizes of one column under each transform. */
export function transformSizes(
  col: Float64Array,
): Record<'plain' | 'shuffle' | 'xor' | 'xorShuffle', number> {
  const raw = new Uint8Array(col.buffer, col.byteOffset, col.byteLength);
  const z = (b: Uint8Array): number => compress(b, { compressionLevel: 3 }).byteLength;
  const x = xorDelta(col);
  return { plain: z(raw), shuffle: z(shuffle(raw, 8)), xor: z(x), xorShuffle: z(shuffle(x, 8)) };
}

/** Daily S&P 500 open/high/low/close 2000-2020 as shipped by the vega-datasets package. */
export function sp500Columns(): Float64Array[] {
  // The package's exports map does not list its data files, so read it from this package's node_modules.
  const path = new URL('../node_modules/vega-datasets/data/sp500-2000.csv', import.meta.url);
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1);
  const cols = [1, 2, 3, 4].map(() => new Float64Array(lines.length));
  lines.forEach((line, i) => {
    const f = line.split(',');
    for (let c = 0; c < 4; c++) cols[c]![i] = Number(f[c + 1]);
  });
  return cols;
}
