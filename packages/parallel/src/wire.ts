/**
 * @internal Compact thread-crossing form of a list, for chunks of strategies and their results.
 *
 * `postMessage` clones an array of small objects one object at a time, writing every key of every
 * object; for 100k `{ kind, fast, slow }` specs that was most of the per-strategy cost of
 * `parallelBacktest`. When every item is a plain object with the same keys in the same order, the
 * list crosses as columns instead: numbers as one `Float64Array` per key (cloned as one block of
 * bytes), strings as a dictionary plus indices, anything else as an array per key. A list of
 * numbers crosses as one `Float64Array`. Any other list crosses as it is.
 *
 * The receiver gets what structured clone would have given it: plain objects with the same keys in
 * the same order and equal values (`-0`, `NaN` and the infinities included), nested values cloned
 * by the same `postMessage`.
 */

/** One key's values. */
type Column =
  | { readonly t: 'f64'; readonly v: Float64Array }
  | { readonly t: 'str'; readonly dict: readonly string[]; readonly idx: Uint32Array }
  | { readonly t: 'any'; readonly v: readonly unknown[] };

/** @internal A list in its thread-crossing form. */
export type WireList =
  | { readonly form: 'plain'; readonly items: readonly unknown[] }
  | { readonly form: 'f64'; readonly values: Float64Array }
  | {
      readonly form: 'objects';
      readonly length: number;
      readonly keys: readonly string[];
      readonly columns: readonly Column[];
    };

/** Below this many items the plain form is as cheap as any. */
const MIN_ITEMS = 8;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.getPrototypeOf(value) === Object.prototype;
}

function column(items: readonly Record<string, unknown>[], key: string): Column {
  const n = items.length;
  const first = items[0]![key];
  if (typeof first === 'number') {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = items[i]![key];
      if (typeof x !== 'number') return anyColumn(items, key);
      v[i] = x;
    }
    return { t: 'f64', v };
  }
  if (typeof first === 'string') {
    const ids = new Map<string, number>();
    const dict: string[] = [];
    const idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const x = items[i]![key];
      if (typeof x !== 'string') return anyColumn(items, key);
      let id = ids.get(x);
      if (id === undefined) {
        id = dict.length;
        ids.set(x, id);
        dict.push(x);
      }
      idx[i] = id;
    }
    return { t: 'str', dict, idx };
  }
  return anyColumn(items, key);
}

function anyColumn(items: readonly Record<string, unknown>[], key: string): Column {
  return { t: 'any', v: items.map((item) => item[key]) };
}

/** @internal The thread-crossing form of `items` (see the module comment). */
export function packList(items: readonly unknown[]): WireList {
  const n = items.length;
  if (n < MIN_ITEMS) return { form: 'plain', items };
  const head = items[0];
  if (typeof head === 'number') {
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = items[i];
      if (typeof x !== 'number') return { form: 'plain', items };
      values[i] = x;
    }
    return { form: 'f64', values };
  }
  if (!isPlainObject(head)) return { form: 'plain', items };
  const keys = Object.keys(head);
  // An own "__proto__" key would become a prototype when rebuilt by assignment.
  if (keys.length === 0 || keys.includes('__proto__')) return { form: 'plain', items };
  for (let i = 1; i < n; i++) {
    const item = items[i];
    if (!isPlainObject(item)) return { form: 'plain', items };
    const own = Object.keys(item);
    if (own.length !== keys.length) return { form: 'plain', items };
    for (let k = 0; k < keys.length; k++) if (own[k] !== keys[k]) return { form: 'plain', items };
  }
  const objects = items as readonly Record<string, unknown>[];
  return { form: 'objects', length: n, keys, columns: keys.map((key) => column(objects, key)) };
}

/** @internal The list `packList` was given (after the crossing: clones of its items). */
export function unpackList(wire: WireList): unknown[] {
  if (wire.form === 'plain') return wire.items as unknown[];
  if (wire.form === 'f64') return Array.from(wire.values);
  const { length, keys, columns } = wire;
  const out = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    const o: Record<string, unknown> = {};
    for (let k = 0; k < keys.length; k++) {
      const c = columns[k]!;
      o[keys[k]!] = c.t === 'str' ? c.dict[c.idx[i]!] : c.v[i];
    }
    out[i] = o;
  }
  return out;
}
