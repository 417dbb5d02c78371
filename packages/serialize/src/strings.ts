/**
 * Strings that are not well-formed UTF-16. MessagePack's str type holds UTF-8, and UTF-8 has no encoding
 * for a lone surrogate (a code unit U+D800..U+DFFF that is not half of a high-low pair): msgpackr would
 * write U+FFFD or bytes that no UTF-8 decoder accepts, and the string would decode as a different one.
 * `encode` refuses such strings with {@link UnsupportedTypeError} instead; this module builds that error,
 * naming where the string is.
 * @module
 */
import { UnsupportedTypeError } from './errors.js';

/**
 * Thrown by the encoders where they find a string that is not well-formed. The public entry points
 * replace it by an {@link UnsupportedTypeError} that names the string's place in the whole value
 * ({@link locateMalformedString}); it is one itself, so it is never a wrong error if it escapes.
 */
export class MalformedStringError extends UnsupportedTypeError {
  constructor(text: string) {
    super(malformedMessage(text, undefined));
  }
}

/** Index of the first lone surrogate of `s`, or -1 when `s` is well-formed. */
export function firstLoneSurrogate(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

/** `s` quoted and escaped (JSON.stringify escapes lone surrogates), shortened to about 40 code units. */
function quote(s: string): string {
  return s.length <= 40
    ? JSON.stringify(s)
    : `${JSON.stringify(s.slice(0, 40))}… (${s.length} code units)`;
}

function malformedMessage(text: string, where: string | undefined): string {
  const at = firstLoneSurrogate(text);
  const unit =
    at < 0 ? '' : ` U+${text.charCodeAt(at).toString(16).toUpperCase()} at index ${at} of`;
  return (
    `cannot encode a string that is not well-formed UTF-16: lone surrogate${unit} the ` +
    `${where ?? `string ${quote(text)}`}; MessagePack strings are UTF-8, which has no encoding for a ` +
    `lone surrogate (String.prototype.toWellFormed() replaces each with U+FFFD, if that loss is acceptable)`
  );
}

/** A string that is not well-formed, and a description of where it is. */
export interface Found {
  readonly text: string;
  readonly where: string;
}

/** A plain object (the only other kind `encode` walks into). */
function isPlain(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function member(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Where the first string that is not well-formed sits in `root`, in the order the encoder writes it
 * ("object key "a\udc00" at $.rows[3]", "string at $.rows[3].name", "Map key #0 at $.m", ...), or
 * undefined if there is none. Only runs once an encode has failed, so it may walk the whole value.
 */
export function locateMalformedString(root: unknown): Found | undefined {
  const onPath = new Set<object>();
  const walk = (v: unknown, path: string, depth: number): Found | undefined => {
    if (typeof v === 'string')
      return v.isWellFormed() ? undefined : { text: v, where: `string ${quote(v)} at ${path}` };
    if (
      v === null ||
      typeof v !== 'object' ||
      depth > 600 /* past MAX_DEPTH: encode refused it already */ ||
      onPath.has(v)
    )
      return undefined;
    if (ArrayBuffer.isView(v) || v instanceof Date || v instanceof ArrayBuffer) return undefined;
    onPath.add(v);
    try {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const found = walk(v[i], `${path}[${i}]`, depth + 1);
          if (found !== undefined) return found;
        }
      } else if (v instanceof Map) {
        let i = 0;
        for (const [k, x] of v as Map<unknown, unknown>) {
          if (typeof k === 'string' && !k.isWellFormed())
            return { text: k, where: `Map key #${i} ${quote(k)} at ${path}` };
          const found =
            walk(k, `${path}{Map key #${i}}`, depth + 1) ??
            walk(x, `${path}{Map value #${i}}`, depth + 1);
          if (found !== undefined) return found;
          i++;
        }
      } else if (v instanceof Set) {
        let i = 0;
        for (const m of v as Set<unknown>) {
          const found = walk(m, `${path}{Set member #${i}}`, depth + 1);
          if (found !== undefined) return found;
          i++;
        }
      } else if (isPlain(v)) {
        const obj = v as Record<string, unknown>;
        for (const key in obj) {
          if (!key.isWellFormed())
            return { text: key, where: `object key ${quote(key)} at ${path}` };
          const found = walk(obj[key], member(path, key), depth + 1);
          if (found !== undefined) return found;
        }
      }
    } finally {
      onPath.delete(v);
    }
    return undefined;
  };
  return walk(root, '$', 0);
}

/**
 * `err` itself, unless it is a {@link MalformedStringError}: then a new {@link UnsupportedTypeError}
 * whose message says where in `root` the string is.
 */
export function withStringLocation(err: unknown, root: unknown): unknown {
  if (!(err instanceof MalformedStringError)) return err;
  const found = locateMalformedString(root);
  return found === undefined
    ? err
    : new UnsupportedTypeError(malformedMessage(found.text, found.where));
}
