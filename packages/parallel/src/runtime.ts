/**
 * Task execution shared by the worker entry (`worker.ts`) and inline mode. Everything a task
 * message carries is plain data; functions are found by module URL + export name.
 */
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { TaskLoadError, serializeError, type SerializedError } from './errors.js';
import type { AnyTaskFn, TaskRef } from './task-ref.js';
import { packList, unpackList, type WireList } from './wire.js';

/** What a task function receives besides its input. */
export interface TaskContext {
  /** Shared columns named by the dispatch (`shared` option), as `Float64Array`s; read-only. */
  readonly data: Readonly<Record<string, Float64Array>> | undefined;
  /** The `context` value given to `mapCpu` (structured-cloned once per chunk), else undefined. */
  readonly options: unknown;
}

/** What each pool worker receives as `workerData` (see `WorkerPoolOptions.spinMicros`). */
export interface WorkerSetup {
  /**
   * Shared counters of the pool: [{@link DOORBELL}] is incremented by the pool right after it hands
   * a task to piscina; [{@link BUSY}] counts the pool's tasks handed to piscina and not yet
   * settled (kept by the pool, so a crash or an abort cannot leave it off); [{@link SPINNING}]
   * counts workers polling the doorbell (cleared by the pool when a worker exits); [{@link RESULTS}]
   * is incremented by a worker right after it posts a task's result, for the pool's thread to poll.
   */
  readonly state: Int32Array;
  /** How long a worker polls the doorbell after sending a result, in µs (0: not at all). */
  readonly spinMicros: number;
  /** CPUs this process may use (a worker polls only while one is left for the pool's thread). */
  readonly cpus: number;
}
/** Index of the doorbell in {@link WorkerSetup.state}. */
export const DOORBELL = 0;
/** Index of the busy-worker count in {@link WorkerSetup.state}. */
export const BUSY = 1;
/** Index of the polling-worker count in {@link WorkerSetup.state}. */
export const SPINNING = 2;
/** Index of the posted-results count in {@link WorkerSetup.state}. */
export const RESULTS = 3;
/** Length of {@link WorkerSetup.state}. */
export const STATE_LENGTH = 4;

/** @internal A message from the pool to a worker. */
export type TaskMessage =
  | {
      readonly kind: 'call';
      readonly module: string;
      readonly export: string;
      readonly shared: string | null;
      readonly input: unknown;
    }
  | {
      readonly kind: 'map';
      readonly module: string;
      readonly export: string;
      readonly shared: string | null;
      /** The chunk's items, in their thread-crossing form (`packList`). */
      readonly items: WireList;
      readonly start: number;
      readonly options: unknown;
    }
  | {
      readonly kind: 'backtest';
      readonly module: string;
      readonly export: string;
      readonly shared: string;
      /** The chunk's strategies, in their thread-crossing form (`packList`). */
      readonly strategies: WireList;
      readonly start: number;
      readonly options: unknown;
      readonly failFast: boolean;
    };

/**
 * @internal A backtest chunk's outcomes as they come back from a worker: values by position, and
 * errors by position only when some strategy failed (`null` otherwise), so the common all-ok
 * chunk clones one array of results and no wrapper object per strategy. Under `failFast` the
 * arrays stop at the first failure.
 */
export interface WireOutcomes {
  /** In their thread-crossing form (`packList`). */
  readonly values: WireList;
  readonly errors: (WireError | undefined)[] | null;
}

/** @internal A strategy's error in {@link WireOutcomes}; `unsent`: its result could not be cloned back. */
export type WireError = SerializedError & { readonly unsent?: true };

/** @internal A worker's reply. Task errors are returned, never thrown, so a rejection always means a crash or an abort. */
export type TaskReply =
  | { readonly ok: true; readonly value: unknown; readonly runNs: number }
  | {
      readonly ok: false;
      readonly error: SerializedError;
      /** The module could not be loaded (or lacks the export). */
      readonly load: boolean;
      /** The task ran but its result could not be cloned back; `error` is the DataCloneError. */
      readonly unsent: boolean;
      /** The item (`map`) or strategy (`backtest`) concerned, else -1. */
      readonly index: number;
      readonly runNs: number;
    };

/** @internal Resolves a shared-columns id to views. */
export type SharedResolver = (
  id: string,
) => Readonly<Record<string, Float64Array>> | Promise<Readonly<Record<string, Float64Array>>>;

type Fn = (...args: unknown[]) => unknown;

const modules = new Map<string, Promise<Record<string, unknown>>>();

class LoadFailure extends Error {}

async function loadFn(moduleUrl: string, exportName: string): Promise<Fn> {
  let mod = modules.get(moduleUrl);
  if (mod === undefined) {
    mod = import(moduleUrl) as Promise<Record<string, unknown>>;
    modules.set(moduleUrl, mod);
    mod.catch(() => modules.delete(moduleUrl));
  }
  let ns: Record<string, unknown>;
  try {
    ns = await mod;
  } catch (cause) {
    throw new LoadFailure(
      `Cannot import task module ${moduleUrl}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  const fn = ns[exportName];
  if (typeof fn !== 'function') {
    const names = Object.keys(ns).filter((k) => typeof ns[k] === 'function');
    throw new LoadFailure(
      `Task module ${moduleUrl} has no exported function '${exportName}' (exported functions: ${names.length > 0 ? names.join(', ') : 'none'})`,
    );
  }
  return fn as Fn;
}

/**
 * Import a task module and return the function a {@link TaskRef} names, the way pool workers do
 * (module cache per thread). For custom backends' remote workers that want the same resolution.
 * @throws {TaskLoadError} the module cannot be imported or the export is not a function.
 */
export async function loadTask<F extends AnyTaskFn>(ref: TaskRef<F>): Promise<F> {
  try {
    return (await loadFn(ref.module, ref.export)) as F;
  } catch (error) {
    if (error instanceof LoadFailure) throw new TaskLoadError(error.message);
    throw error;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function failure(error: unknown, index: number, t0: number): TaskReply {
  const load = error instanceof LoadFailure;
  const serialized = load
    ? { name: 'TaskLoadError', message: error.message }
    : serializeError(error);
  return {
    ok: false,
    error: serialized,
    load,
    unsent: false,
    index,
    runNs: Math.round((performance.now() - t0) * 1e6),
  };
}

/** @internal Run one task message. Never throws for task errors; returns them in the reply. */
export async function execute(
  message: TaskMessage,
  resolveShared: SharedResolver,
): Promise<TaskReply> {
  const t0 = performance.now();
  let index = -1;
  try {
    const fn = await loadFn(message.module, message.export);
    const data = message.shared === null ? undefined : await resolveShared(message.shared);
    switch (message.kind) {
      case 'call': {
        let value = fn(message.input, { data, options: undefined } satisfies TaskContext);
        if (isThenable(value)) value = await value;
        return { ok: true, value, runNs: Math.round((performance.now() - t0) * 1e6) };
      }
      case 'map': {
        const { start } = message;
        const items = unpackList(message.items);
        const ctx: TaskContext = { data, options: message.options };
        const out = new Array<unknown>(items.length);
        for (let i = 0; i < items.length; i++) {
          index = start + i;
          let value = fn(items[i], index, ctx);
          if (isThenable(value)) value = await value;
          out[i] = value;
        }
        return {
          ok: true,
          value: packList(out),
          runNs: Math.round((performance.now() - t0) * 1e6),
        };
      }
      case 'backtest': {
        const { options, failFast } = message;
        const strategies = unpackList(message.strategies);
        const values = new Array<unknown>(strategies.length);
        let errors: (WireError | undefined)[] | null = null;
        for (let i = 0; i < strategies.length; i++) {
          try {
            let value = fn(data, strategies[i], options);
            if (isThenable(value)) value = await value;
            values[i] = value;
          } catch (error) {
            errors ??= new Array<WireError | undefined>(strategies.length);
            errors[i] = serializeError(error);
            if (failFast) {
              values.length = i + 1;
              errors.length = i + 1;
              break;
            }
          }
        }
        const out: WireOutcomes = { values: packList(values), errors };
        return { ok: true, value: out, runNs: Math.round((performance.now() - t0) * 1e6) };
      }
    }
  } catch (error) {
    return failure(error, index, t0);
  }
}

/** @internal Whether structured clone accepts `value` (all of it readable, nothing it rejects). Cold paths only. */
export function clones(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** The error structured clone throws for `value`, or undefined when it clones. Cold paths only. */
function cloneFailure(value: unknown): unknown {
  try {
    structuredClone(value);
    return undefined;
  } catch (error) {
    return error;
  }
}

/** @internal True for the `DataCloneError` that `postMessage` / `structuredClone` throw on this thread. */
export function isDataCloneError(error: unknown): error is DOMException {
  return error instanceof DOMException && error.name === 'DataCloneError';
}

/** @internal How the pool names an item or strategy of a chunk message. */
export function itemNoun(kind: TaskMessage['kind']): string {
  return kind === 'backtest' ? 'strategy' : 'item';
}

/**
 * @internal A message could not be cloned to a worker (`error`): find which part, by cloning its
 * items one by one, then its options. Only run after a failure, never on the normal path.
 */
export function locateUncloneableInput(
  message: TaskMessage,
  error: unknown,
): { part: string; index: number | undefined; cause: unknown } {
  if (message.kind === 'call') return { part: 'the input', index: undefined, cause: error };
  const items = unpackList(message.kind === 'map' ? message.items : message.strategies);
  for (let i = 0; i < items.length; i++) {
    const cause = cloneFailure(items[i]);
    if (cause !== undefined) {
      const index = message.start + i;
      return { part: `${itemNoun(message.kind)} #${index}`, index, cause };
    }
  }
  const cause = cloneFailure(message.options);
  if (cause !== undefined) {
    return {
      part: message.kind === 'map' ? 'context' : 'backtestOptions',
      index: undefined,
      cause,
    };
  }
  return { part: 'the input', index: undefined, cause: error };
}

/** @internal A reply saying the task's result (or that of item `index`) could not be cloned back. */
export function unsentReply(error: unknown, index: number, runNs: number): TaskReply {
  return { ok: false, error: serializeError(error), load: false, unsent: true, index, runNs };
}

/**
 * @internal `reply` could not be cloned back to the pool (`error`): the reply to send instead.
 * A `call` fails as a whole; a `map` chunk fails naming its first item whose result does not clone;
 * in a `backtest` chunk only the strategies whose results do not clone fail (and, with `failFast`,
 * the chunk stops at the first of them), as if they had thrown. Cold path: clones value by value.
 */
export function recoverUnsentReply(
  message: TaskMessage,
  reply: TaskReply,
  error: unknown,
): TaskReply {
  if (!reply.ok || message.kind === 'call') return unsentReply(error, -1, reply.runNs);
  if (message.kind === 'map') {
    const values = unpackList(reply.value as WireList);
    for (let i = 0; i < values.length; i++) {
      const cause = cloneFailure(values[i]);
      if (cause !== undefined) return unsentReply(cause, message.start + i, reply.runNs);
    }
    return unsentReply(error, -1, reply.runNs);
  }
  const wire = reply.value as WireOutcomes;
  const values = unpackList(wire.values);
  let errors = wire.errors;
  let end = values.length;
  let found = false;
  for (let i = 0; i < end; i++) {
    if (errors?.[i] !== undefined) continue;
    const cause = cloneFailure(values[i]);
    if (cause === undefined) continue;
    found = true;
    errors ??= new Array<WireError | undefined>(values.length);
    errors[i] = { ...serializeError(cause), unsent: true };
    values[i] = undefined;
    if (message.failFast) end = i + 1;
  }
  if (!found) return unsentReply(error, -1, reply.runNs);
  values.length = end;
  errors!.length = end;
  const out: WireOutcomes = { values: packList(values), errors };
  return { ok: true, value: out, runNs: reply.runNs };
}

/** Whether structured clone would copy `value` (or reject it) rather than hand it over as it is. */
function needsClone(value: unknown): boolean {
  const type = typeof value;
  return (type === 'object' && value !== null) || type === 'function' || type === 'symbol';
}

/**
 * A list in its thread-crossing form and one more value (`options`), as they would arrive through
 * `postMessage`. Only what still holds the sender's values is cloned, in a single structured
 * clone so that an object reachable from two of them arrives as one object, as it would; numeric
 * and string columns were built fresh by `packList` and are rebuilt into new values by
 * `unpackList`, so they are used as they are, and so is a list of primitives. A numeric chunk
 * with no options clones nothing.
 * @throws what structured clone throws (a `DataCloneError` for a function, say).
 */
function copyWire(wire: WireList, options: unknown): [WireList, unknown] {
  if (wire.form === 'plain') {
    // A short list of numbers (a 4-item probe chunk, say) has nothing to copy: the list itself
    // is the pool's own (a slice, or the task's output array). Cloning it anyway made inline
    // mapCpu of 100k numbers ~15% slower in CPU time, through the code that reads the copies.
    if (!needsClone(options) && !wire.items.some(needsClone)) return [wire, options];
    const [items, copied] = structuredClone([wire.items, options]);
    return [{ form: 'plain', items }, copied];
  }
  if (wire.form === 'f64' || wire.form === 'i32' || !wire.columns.some((c) => c.t === 'any'))
    return [wire, needsClone(options) ? structuredClone(options) : options];
  const anyColumns = wire.columns.filter((c) => c.t === 'any').map((c) => c.v);
  const [values, copied] = structuredClone([anyColumns, options]);
  let k = 0;
  const columns = wire.columns.map((c) =>
    c.t === 'any' ? { t: 'any' as const, v: values[k++] as unknown[] } : c,
  );
  return [{ ...wire, columns }, copied];
}

/**
 * @internal `message` as a worker would receive it, for inline mode: the caller's values in it are
 * structured-cloned (see `copyWire`), so a task never holds the caller's objects; shared columns
 * travel by id and still resolve to the shared views.
 * @throws {DOMException} `DataCloneError` when structured clone rejects a value, as `postMessage` would.
 */
export function cloneMessage(message: TaskMessage): TaskMessage {
  switch (message.kind) {
    case 'call':
      return needsClone(message.input)
        ? { ...message, input: structuredClone(message.input) }
        : message;
    case 'map': {
      const [items, options] = copyWire(message.items, message.options);
      return { ...message, items, options };
    }
    case 'backtest': {
      const [strategies, options] = copyWire(message.strategies, message.options);
      return { ...message, strategies, options };
    }
  }
}

/** `reply` as the pool would receive it from a worker (only the task's values need a copy). */
function copyReply(message: TaskMessage, reply: TaskReply): TaskReply {
  // A failure holds only the serialized error, built for this reply.
  if (!reply.ok) return reply;
  switch (message.kind) {
    case 'call':
      return needsClone(reply.value) ? { ...reply, value: structuredClone(reply.value) } : reply;
    case 'map':
      return { ...reply, value: copyWire(reply.value as WireList, undefined)[0] };
    case 'backtest': {
      const out = reply.value as WireOutcomes;
      const value: WireOutcomes = {
        values: copyWire(out.values, undefined)[0],
        errors: out.errors,
      };
      return { ...reply, value };
    }
  }
}

/**
 * @internal What the pool receives from `reply` in inline mode: a copy, as a worker's
 * `postMessage` would deliver it, with the same fallback when the result cannot be cloned.
 */
export function cloneReply(message: TaskMessage, reply: TaskReply): TaskReply {
  try {
    return copyReply(message, reply);
  } catch (error) {
    try {
      return copyReply(message, recoverUnsentReply(message, reply, error));
    } catch (again) {
      return unsentReply(again, -1, reply.runNs);
    }
  }
}

/**
 * @internal `value`, thrown somewhere, as an Error whose message says what it was. Errors pass
 * unchanged (also those rebuilt from a worker, which are not native errors), except a
 * `DOMException` (structured clone turns it into `{}` on its way out of a worker): it becomes an
 * Error named `DOMException` with message `"<name>: <message>"`. Anything else (a plain object, a
 * string, `null`) becomes an Error whose message is the value as `util.inspect` shows it.
 * Never throws.
 */
export function toError(value: unknown): Error {
  if (value instanceof Error && !(value instanceof DOMException)) return value;
  if (value instanceof DOMException) {
    const error = new Error(`${String(value.name)}: ${String(value.message)}`);
    // The class, not the DOMException's own name: one named 'AbortError' must not pass for an abort.
    error.name = 'DOMException';
    const frames = typeof value.stack === 'string' ? value.stack.split('\n').slice(1) : [];
    if (frames.length > 0) error.stack = [`${error.name}: ${error.message}`, ...frames].join('\n');
    return error;
  }
  let shown: string;
  try {
    shown = inspect(value, { depth: 4, breakLength: Infinity });
  } catch {
    shown = Object.prototype.toString.call(value);
  }
  return new Error(`Non-Error value thrown: ${shown}`);
}
