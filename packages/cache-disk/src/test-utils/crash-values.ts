/**
 * The value the crash-test child writes for entry `i` of batch `b`: pseudo-random (so it does not
 * compress and each batch costs real I/O) and reproducible, so the parent can check every byte.
 */
export function expectedValue(
  b: number,
  i: number,
  valueBytes: number,
): { b: number; i: number; data: Uint8Array } {
  const data = new Uint8Array(valueBytes);
  let x = (Math.imul(b + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) | 1;
  for (let k = 0; k < valueBytes; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[k] = x & 255;
  }
  return { b, i, data };
}

/** True when `v` is exactly `expectedValue(b, i, valueBytes)`. */
export function isExpectedValue(v: unknown, b: number, i: number, valueBytes: number): boolean {
  const x = v as { b?: unknown; i?: unknown; data?: unknown };
  if (x.b !== b || x.i !== i || !(x.data instanceof Uint8Array) || x.data.length !== valueBytes)
    return false;
  return Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength).equals(
    expectedValue(b, i, valueBytes).data,
  );
}
