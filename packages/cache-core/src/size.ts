/**
 * A rough, fast estimate of the memory a value holds, in bytes, for `maxBytes` bounds:
 * strings 2 bytes per character (+16), numbers 8, typed arrays and buffers their byteLength
 * (+64), arrays, objects, Maps and Sets the sum of their elements plus a per-slot overhead.
 * Shared sub-objects are counted once; depth is capped at 8 (deeper parts count 64 bytes).
 */
export function estimateSize(value: unknown): number {
  return sizeOf(value, 0, undefined);
}

function sizeOf(value: unknown, depth: number, seen: Set<object> | undefined): number {
  switch (typeof value) {
    case 'string':
      return 16 + 2 * value.length;
    case 'number':
    case 'boolean':
    case 'undefined':
      return 8;
    case 'bigint':
      return 16 + Math.ceil(value.toString(16).length / 2);
    case 'symbol':
    case 'function':
      return 32;
    default:
      break;
  }
  if (value === null) return 8;
  const obj = value as object;
  if (ArrayBuffer.isView(obj)) return 64 + obj.byteLength;
  if (obj instanceof ArrayBuffer || obj instanceof SharedArrayBuffer) return 32 + obj.byteLength;
  if (obj instanceof Date) return 48;
  if (depth >= 8) return 64;
  const s = seen ?? new Set<object>();
  if (s.has(obj)) return 8;
  s.add(obj);
  let total = 32;
  if (Array.isArray(obj)) {
    for (const item of obj as unknown[]) total += 8 + sizeOf(item, depth + 1, s);
    return total;
  }
  if (obj instanceof Map) {
    for (const [k, v] of obj as Map<unknown, unknown>)
      total += 16 + sizeOf(k, depth + 1, s) + sizeOf(v, depth + 1, s);
    return total;
  }
  if (obj instanceof Set) {
    for (const item of obj as Set<unknown>) total += 16 + sizeOf(item, depth + 1, s);
    return total;
  }
  for (const key of Object.keys(obj)) {
    total += 8 + 16 + 2 * key.length + sizeOf((obj as Record<string, unknown>)[key], depth + 1, s);
  }
  return total;
}
