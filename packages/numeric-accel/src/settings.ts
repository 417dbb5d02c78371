import { isMainThread } from 'node:worker_threads';
import { AccelRangeError } from './errors.js';
import { cpuTopology } from './topology.js';
import { wasmFailure } from './wasm/backend.js';

/** Which kernel implementation to use: `auto` picks WASM only for kernels where it measured ≥ 1.3× faster. */
export type AccelBackend = 'auto' | 'js' | 'wasm';

/** Options of {@link configureAccel}. */
export interface AccelOptions {
  /** Default worker-pool size (`@peaktrade/parallel` reads it); an integer ≥ 1. Default: `cpuTopology().effectiveParallelism`. */
  readonly threads?: number;
  /** Kernel backend (default `'auto'`). `'wasm'` forces WebAssembly for every kernel that has a WASM version. */
  readonly backend?: AccelBackend;
}

/** The settings in force, as {@link accelSettings} returns them. */
export interface AccelSettings {
  /** Default worker-pool size for `@peaktrade/parallel`. */
  readonly threads: number;
  /** The backend in force (`'wasm'` falls back to `'js'`, with a warning, where WebAssembly SIMD is unavailable). */
  readonly backend: AccelBackend;
}

/** What {@link configureAccel} applied. */
export interface AccelConfigResult extends AccelSettings {
  /** `UV_THREADPOOL_SIZE` of this process's libuv pool as far as we can tell (the value at module load, default 4). */
  readonly uvThreadpoolSize: number;
  /** Why part of the request could not take effect (empty when everything applied). */
  readonly warnings: readonly string[];
}

const UV_DEFAULT = 4;
const UV_MAX = 1024;

/**
 * The pool size libuv derives from a `UV_THREADPOOL_SIZE` value: unset → 4; otherwise C `atoi` (leading blanks,
 * an optional sign, then the leading digits: `'7x'` → 7, `'2.9'` → 2, `'abc'` or `''` → 0), 0 → 1, and the
 * result taken as unsigned and capped at 1024 (so a negative value gives 1024).
 * @internal
 */
export function uvPoolSize(value: string | undefined): number {
  if (value === undefined) return UV_DEFAULT;
  const m = /^[\t\n\v\f\r ]*([+-]?)(\d*)/.exec(value)!;
  const digits = m[2]!.replace(/^0+/, '');
  if (digits === '') return 1;
  if (m[1] === '-') return UV_MAX;
  return digits.length > 4 ? UV_MAX : Math.min(UV_MAX, Number(digits));
}

// libuv reads UV_THREADPOOL_SIZE once, when its pool starts; record what it saw (or will see) at load time.
const uvAtLoad = uvPoolSize(process.env.UV_THREADPOOL_SIZE);

let current: AccelSettings | undefined;
const listeners = new Set<(s: AccelSettings) => void>();

function defaults(): AccelSettings {
  return Object.freeze({ threads: cpuTopology().effectiveParallelism, backend: 'auto' as const });
}

/**
 * The settings in force: `threads` is the default pool size `@peaktrade/parallel` uses, `backend` the kernel
 * backend. Before any {@link configureAccel} call these are the defaults (topology's effective parallelism, `auto`).
 */
export function accelSettings(): AccelSettings {
  current ??= defaults();
  return current;
}

/**
 * Sets the default pool size and kernel backend, and returns what took effect with warnings for what did not.
 * `threads` also sets `process.env.UV_THREADPOOL_SIZE` (for child processes, and for this process if libuv's pool
 * has not started yet). libuv starts its pool on the first fs/dns/crypto/zlib async call, and Node's ESM loader
 * makes such calls while loading modules, so for an ESM program this process's pool is already running: a warning
 * says so and tells you to set the variable before Node starts. Passing `{}` restores the defaults.
 * @throws AccelRangeError for a `threads` that is not an integer in [1, 1024] or an unknown backend.
 */
export function configureAccel(options: AccelOptions = {}): AccelConfigResult {
  if (options === null || typeof options !== 'object')
    throw new AccelRangeError('options', options, 'an object');
  const warnings: string[] = [];
  const threads = options.threads;
  if (
    threads !== undefined &&
    (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > UV_MAX)
  ) {
    throw new AccelRangeError('options.threads', threads, `an integer in [1, ${UV_MAX}]`);
  }
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'js' && backend !== 'wasm') {
    throw new AccelRangeError('options.backend', backend, "'auto', 'js' or 'wasm'");
  }
  const base = defaults();
  const effectiveThreads = threads ?? base.threads;
  if (threads !== undefined) {
    const topo = cpuTopology();
    if (threads > topo.logicalCores) {
      warnings.push(
        `threads=${threads} exceeds the ${topo.logicalCores} logical CPUs; CPU-bound pools will oversubscribe`,
      );
    } else if (topo.cpuQuota !== undefined && threads > topo.effectiveParallelism) {
      warnings.push(
        `threads=${threads} exceeds the cgroup CPU quota of ${topo.cpuQuota} CPUs; work will be throttled`,
      );
    }
    if (String(threads) !== process.env.UV_THREADPOOL_SIZE) {
      process.env.UV_THREADPOOL_SIZE = String(threads);
      if (threads !== uvAtLoad) {
        warnings.push(
          `UV_THREADPOOL_SIZE=${threads} was set for child processes, but this ${isMainThread ? 'process' : "worker's process"} ` +
            `keeps its libuv pool of ${uvAtLoad} threads if the pool has already started (any fs/dns/crypto/zlib async call ` +
            `or ESM loading starts it); set UV_THREADPOOL_SIZE=${threads} in the environment before Node starts to size it`,
        );
      }
    }
  }
  let effectiveBackend: AccelBackend = backend;
  if (backend === 'wasm') {
    const why = wasmFailure();
    if (why !== '') {
      warnings.push(`backend 'wasm' is unavailable here (${why}); using 'js'`);
      effectiveBackend = 'js';
    }
  }
  current = Object.freeze({ threads: effectiveThreads, backend: effectiveBackend });
  for (const l of listeners) l(current);
  return { ...current, uvThreadpoolSize: uvAtLoad, warnings };
}

/** @internal the requested backend, read on every kernel call (a module variable, no allocation). */
export function currentBackend(): AccelBackend {
  return current?.backend ?? 'auto';
}

/** @internal backend modules register here to learn about changes. */
export function onSettingsChange(listener: (s: AccelSettings) => void): void {
  listeners.add(listener);
}
