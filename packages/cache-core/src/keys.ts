import { createHash } from 'node:crypto';
import { CacheKeyError } from './errors.js';

interface WellFormedCheck {
  isWellFormed(): boolean;
}

/**
 * @internal Whether `s` holds no lone surrogate (ES2024 `String.prototype.isWellFormed`; O(1)
 * for one-byte strings). Tiers store keys as UTF-8, where every lone surrogate becomes U+FFFD,
 * so two strings that differ only there would share one stored key.
 */
export function isWellFormed(s: string): boolean {
  return (s as unknown as WellFormedCheck).isWellFormed();
}

/**
 * @internal A name as written into a key: itself when it is well-formed and does not start with
 * `"`, else its JSON string (lone surrogates escaped as `\udXXX`). A leading `"` thus always
 * marks an escaped name, so the mapping stays one-to-one.
 */
export function keySafeName(name: string): string {
  return isWellFormed(name) && !name.startsWith('"') ? name : JSON.stringify(name);
}

/** Encoded argument lists longer than this many characters are replaced by their SHA-256 (default). */
export const DEFAULT_MAX_KEY_LENGTH = 200;

/**
 * Encode a value as a stable, type-tagged string: the same value gives the same string in
 * every process and run, and values that differ give different strings.
 *
 * Grammar (stable; changing it changes every key):
 * - string `"…"` (JSON string), number `n<String(n)>` (`n-0` for −0), bigint `b<digits>`,
 *   boolean `T`/`F`, null `N`, undefined `U`;
 * - array `[a,b,…]` (holes read as undefined); plain object `{"k":v,…}` with keys sorted;
 *   an instance of another class `Name{…}` (its own enumerable properties, sorted);
 * - Date `D<ms since epoch>`; RegExp `R<source/flags>`; Map `M{k=>v,…}` sorted by encoded key;
 *   Set `S[…]` sorted; typed array / DataView `<Type>(<base64 of its bytes>)`;
 *   ArrayBuffer `ArrayBuffer(<base64>)`; URL `URL(<JSON string of its href>)`. Multi-byte typed
 *   arrays use the platform byte order (little-endian on every supported platform).
 * - A RegExp source or a class name holding a lone surrogate (or a class name starting with `"`)
 *   is written as its JSON string (`R"/\ud800/"`, `"\ud800"{…}`), so every key is well-formed
 *   UTF-16 and two values never share a key once a tier stores it as UTF-8.
 *
 * @throws {CacheKeyError} for functions, symbols (also as property keys), and cyclic structures
 *   (names the path).
 */
export function encodeKey(value: unknown): string {
  return encode(value, 'value', undefined);
}

/**
 * The key of a call: `<name>:<encoded argument list>`. When the encoded list is longer than
 * `maxLength` characters it is replaced by `#<base64url SHA-256 of it>` (43 characters), so
 * keys stay short and still collision-resistant.
 */
export function callKey(
  name: string,
  args: readonly unknown[],
  maxLength = DEFAULT_MAX_KEY_LENGTH,
): string {
  let encoded: string;
  // Fast paths for the common single-primitive call.
  if (args.length === 1) {
    const a = args[0];
    if (typeof a === 'string') encoded = `[${JSON.stringify(a)}]`;
    else if (typeof a === 'number' && !Object.is(a, -0)) encoded = `[n${a}]`;
    else encoded = encode(args, 'args', undefined);
  } else if (args.length === 0) {
    encoded = '[]';
  } else {
    encoded = encode(args, 'args', undefined);
  }
  if (encoded.length > maxLength)
    encoded = `#${createHash('sha256').update(encoded).digest('base64url')}`;
  return `${name}:${encoded}`;
}

function encode(value: unknown, path: string, seen: Set<object> | undefined): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? 'n-0' : `n${value}`;
    case 'bigint':
      return `b${value.toString()}`;
    case 'boolean':
      return value ? 'T' : 'F';
    case 'undefined':
      return 'U';
    case 'function':
      throw new CacheKeyError(
        path,
        'functions cannot be part of a cache key; pass a custom key function',
      );
    case 'symbol':
      throw new CacheKeyError(
        path,
        'symbols cannot be part of a cache key; pass a custom key function',
      );
    default:
      break;
  }
  if (value === null) return 'N';
  const obj = value as object;
  if (obj instanceof Date) return `D${obj.getTime()}`;
  if (obj instanceof RegExp) {
    const re = String(obj);
    // A well-formed source always starts with '/', so the JSON form cannot be confused with it.
    return isWellFormed(re) ? `R${re}` : `R${JSON.stringify(re)}`;
  }
  // A URL keeps its state in internal slots: as an object it would encode as `URL{}` for all.
  if (obj instanceof URL) return `URL(${JSON.stringify(obj.href)})`;
  if (ArrayBuffer.isView(obj)) {
    const tag =
      (obj as unknown as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] ?? 'DataView';
    return `${keySafeName(tag)}(${Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64')})`;
  }
  if (obj instanceof ArrayBuffer) return `ArrayBuffer(${Buffer.from(obj).toString('base64')})`;
  if (typeof SharedArrayBuffer !== 'undefined' && obj instanceof SharedArrayBuffer) {
    return `SharedArrayBuffer(${Buffer.from(obj).toString('base64')})`;
  }
  const s = seen ?? new Set<object>();
  if (s.has(obj)) throw new CacheKeyError(path, 'cyclic structures cannot be part of a cache key');
  s.add(obj);
  let out: string;
  if (Array.isArray(obj)) {
    const arr = obj as unknown[];
    const parts = new Array<string>(arr.length);
    for (let i = 0; i < arr.length; i++) parts[i] = encode(arr[i], `${path}[${i}]`, s);
    out = `[${parts.join(',')}]`;
  } else if (obj instanceof Map) {
    const parts: string[] = [];
    for (const [k, v] of obj as Map<unknown, unknown>) {
      const ek = encode(k, `${path}<key>`, s);
      parts.push(`${ek}=>${encode(v, `${path}.get(${ek})`, s)}`);
    }
    parts.sort();
    out = `M{${parts.join(',')}}`;
  } else if (obj instanceof Set) {
    const parts: string[] = [];
    for (const v of obj as Set<unknown>) parts.push(encode(v, `${path}<item>`, s));
    parts.sort();
    out = `S[${parts.join(',')}]`;
  } else {
    const proto = Object.getPrototypeOf(obj) as object | null;
    // Object.keys skips symbol keys: `{ [s]: 1 }` and `{ [s]: 2 }` would share one key.
    for (const sym of Object.getOwnPropertySymbols(obj)) {
      if (Object.prototype.propertyIsEnumerable.call(obj, sym)) {
        throw new CacheKeyError(
          `${path}[${String(sym)}]`,
          'symbol-keyed properties cannot be part of a cache key; pass a custom key function',
        );
      }
    }
    const keys = Object.keys(obj).sort();
    const parts = new Array<string>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      parts[i] =
        `${JSON.stringify(k)}:${encode((obj as Record<string, unknown>)[k], `${path}.${k}`, s)}`;
    }
    const body = `{${parts.join(',')}}`;
    if (proto === null || proto === Object.prototype) out = body;
    else {
      const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
      const name = typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'Object';
      out = `${keySafeName(name)}${body}`;
    }
  }
  s.delete(obj);
  return out;
}
