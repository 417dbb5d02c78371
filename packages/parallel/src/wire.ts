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
 * by the same `postMessage`. Lists whose items structured clone would keep as shared objects (an
 * item listed twice, or reachable from a value) and lists it would reject (proxies, arguments
 * objects, or an item whose getter throws) cross as they are.
 */
import { types } from 'node:util';

/** One key's values. */
type Column =
  | { readonly t: 'i32'; readonly v: Int32Array }
  | { readonly t: 'f64'; readonly v: Float64Array }
  | { readonly t: 'str'; readonly dict: readonly string[]; readonly idx: Uint32Array }
  | { readonly t: 'any'; readonly v: readonly unknown[] };

/** @internal A list in its thread-crossing form. */
export type WireList =
  | { readonly form: 'plain'; readonly items: readonly unknown[] }
  | { readonly form: 'i32'; readonly values: Int32Array }
  | { readonly form: 'f64'; readonly values: Float64Array }
  | {
      readonly form: 'objects';
      readonly length: number;
      readonly keys: readonly string[];
      readonly columns: readonly Column[];
    };

/** Below this many items the plain form is as cheap as any. */
const MIN_ITEMS = 8;
/**
 * Keys, elements and entries per item that {@link sharesItems} looks at before it gives up: enough
 * for small nested specs, while items carrying big nested values (whose clone costs far more than
 * their keys) cross as they are instead of being walked.
 */
const WALK_SLOTS_PER_ITEM = 64;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  // Structured clone rejects proxies and arguments objects, yet their prototype can be
  // Object.prototype (a proxy's from its trap, which would run here). Read into columns they would
  // arrive as plain objects; as they are, postMessage reports them.
  if (types.isProxy(value) || types.isArgumentsObject(value)) return false;
  return Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * Whether structured clone would give some item as the same object as another value. It keeps one
 * clone per object, so an item listed twice, or reachable from a value inside the items (a cycle,
 * a back-reference, the list itself), arrives as that one object; columns rebuild every item as a
 * new object, and a nested reference would arrive as a separate copy of the item. The values of
 * `any` columns are walked the way structured clone walks them (own enumerable keys, map and set
 * entries). A value the walk cannot see into as structured clone does (a proxy, an error's
 * fields) or more than {@link WALK_SLOTS_PER_ITEM} slots per item count as shared: the plain form
 * is always right, only slower.
 */
function sharesItems(
  list: readonly unknown[],
  items: readonly object[],
  columns: readonly Column[],
): boolean {
  const own = new Set<unknown>(items);
  if (own.size !== items.length) return true;
  own.add(list);
  let budget = WALK_SLOTS_PER_ITEM * items.length;
  const stack: object[] = [];
  const push = (value: unknown): void => {
    if (typeof value === 'object' && value !== null) stack.push(value);
  };
  for (const c of columns) if (c.t === 'any') for (const value of c.v) push(value);
  if (stack.length === 0) return false;
  const seen = new Set<object>();
  while (stack.length > 0) {
    const value = stack.pop()!;
    if (own.has(value)) return true;
    if (seen.has(value)) continue;
    seen.add(value);
    if (--budget < 0 || types.isProxy(value) || types.isNativeError(value)) return true;
    if (
      ArrayBuffer.isView(value) ||
      types.isAnyArrayBuffer(value) ||
      types.isDate(value) ||
      types.isRegExp(value) ||
      types.isBoxedPrimitive(value)
    ) {
      continue;
    }
    // The built-in iteration, as structured clone's: a subclass's own forEach is not called.
    if (types.isMap(value)) {
      budget -= value.size;
      if (budget < 0) return true;
      Map.prototype.forEach.call(value, (v: unknown, k: unknown) => (push(k), push(v)));
      continue;
    }
    if (types.isSet(value)) {
      budget -= value.size;
      if (budget < 0) return true;
      Set.prototype.forEach.call(value, push);
      continue;
    }
    // Checked before Object.keys, which would list every index of a long array.
    if (Array.isArray(value) && value.length > budget) return true;
    const keys = Object.keys(value);
    budget -= keys.length;
    if (budget < 0) return true;
    for (const key of keys) push((value as Record<string, unknown>)[key]);
  }
  return false;
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
    return allInt32(v) ? { t: 'i32', v: Int32Array.from(v) } : { t: 'f64', v };
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

/**
 * Whether every value is an integer that fits 32 bits (and none is -0). Such numbers cross as an
 * Int32Array and arrive as small integers, as structured clone delivers them; read back from a
 * Float64Array they would arrive as doubles, and code working on them (a strategy's window
 * lengths, say) gets compiled for doubles: a backtest ran about 17 % slower with its specs rebuilt
 * from a Float64Array (200 sma-cross strategies over 100k bars, 118 vs 101 ms on a 2-vCPU Intel
 * Xeon VM, 2026-11-27), and code that had seen both kinds stayed at the slower speed.
 */
function allInt32(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if ((x | 0) !== x || (x === 0 && 1 / x < 0)) return false;
  }
  return true;
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
    return allInt32(values)
      ? { form: 'i32', values: Int32Array.from(values) }
      : { form: 'f64', values };
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
  let columns: Column[];
  try {
    columns = keys.map((key) => column(objects, key));
  } catch {
    // A getter threw while its value was read into a column. Not swallowed: the list crosses as
    // it is, so structured clone reads that getter again, on its way to the other thread, and
    // the send fails as it would without columns (the pool then names the item; see
    // NotCloneableError), instead of an error from here that names nothing.
    return { form: 'plain', items };
  }
  if (sharesItems(items, objects, columns)) return { form: 'plain', items };
  return { form: 'objects', length: n, keys, columns };
}

/** @internal The list `packList` was given (after the crossing: clones of its items). */
export function unpackList(wire: WireList): unknown[] {
  if (wire.form === 'plain') return wire.items as unknown[];
  if (wire.form === 'f64' || wire.form === 'i32') return Array.from(wire.values);
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
