/**
 * Task execution shared by the worker entry (`worker.ts`) and inline mode. Everything a task
 * message carries is plain data; functions are found by module URL + export name.
 */
import { performance } from 'node:perf_hooks';
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
  readonly errors: (SerializedError | undefined)[] | null;
}

/** @internal A worker's reply. Task errors are returned, never thrown, so a rejection always means a crash or an abort. */
export type TaskReply =
  | { readonly ok: true; readonly value: unknown; readonly runNs: number }
  | {
      readonly ok: false;
      readonly error: SerializedError;
      readonly load: boolean;
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
        let errors: (SerializedError | undefined)[] | null = null;
        for (let i = 0; i < strategies.length; i++) {
          try {
            let value = fn(data, strategies[i], options);
            if (isThenable(value)) value = await value;
            values[i] = value;
          } catch (error) {
            errors ??= new Array<SerializedError | undefined>(strategies.length);
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
