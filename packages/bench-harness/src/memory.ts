import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { exposedGc } from './clock.js';
import { BenchFunctionError, BenchOptionError } from './errors.js';

/** What {@link measureMemory} observed. Bytes are relative to the heap after a full GC before the call. */
export interface MemoryResult {
  /** Largest V8 heap growth seen during the call (before each GC and at the end), bytes. */
  readonly peakHeapBytes: number;
  /** Heap growth that survives a full GC after the call while its return value is still held, bytes. */
  readonly retainedHeapBytes: number;
  /** The process's peak resident set size so far (`resourceUsage().maxRSS`), bytes. */
  readonly peakRssBytes: number;
  /** Growth of the process's peak RSS during the call, bytes (0 when an earlier peak was higher). */
  readonly peakRssGrowthBytes: number;
  /** External (ArrayBuffer and native) memory growth after the call, bytes. */
  readonly externalBytes: number;
  /** Garbage collections during the call. */
  readonly gcCount: number;
  /** How `gc()` was obtained: `--expose-gc`, or enabled at run time through V8 flags. */
  readonly gcSource: 'expose-gc' | 'runtime-flag';
}

/** Options of {@link measureMemory}. */
export interface MeasureMemoryOptions {
  /** Name used in error messages. Default `measureMemory`. */
  readonly name?: string;
  /** Arguments passed to the call. */
  readonly args?: readonly unknown[];
}

let _retainedSink: unknown;
let runtimeGc: (() => void) | undefined;

function obtainGc(): { gc: () => void; source: 'expose-gc' | 'runtime-flag' } {
  const g = exposedGc();
  if (g) return { gc: g, source: 'expose-gc' };
  if (!runtimeGc) {
    // Turn the flag on, then fetch `gc` from a fresh context where V8 installs it.
    setFlagsFromString('--expose-gc');
    runtimeGc = runInNewContext('gc') as () => void;
  }
  return { gc: runtimeGc, source: 'runtime-flag' };
}

/**
 * Calls `fn` once (awaiting a returned promise) and reports peak heap, retained heap after GC and
 * peak RSS: the counterpart of Python's tracemalloc. Peak heap comes from V8's GC profiler (heap
 * size before every collection during the call) and the heap at the end of the call. Works without
 * `--expose-gc` (the flag is enabled at run time).
 *
 * @throws {BenchFunctionError} when `fn` throws; the error is its `cause`.
 */
export async function measureMemory(
  fn: (...args: never[]) => unknown,
  options: MeasureMemoryOptions = {},
): Promise<MemoryResult> {
  if (typeof fn !== 'function') throw new BenchOptionError('fn', fn, 'a function');
  const name = options.name ?? 'measureMemory';
  const args: readonly unknown[] = options.args ?? [];
  if (!Array.isArray(args))
    throw new BenchOptionError('args', options.args, 'an array of arguments');
  const { gc, source } = obtainGc();
  gc();
  gc();
  const before = process.memoryUsage();
  const rssPeakBefore = process.resourceUsage().maxRSS * 1024;
  const profiler = new GCProfiler();
  profiler.start();
  let held: unknown;
  let atEnd: number;
  let stats;
  try {
    held = (fn as (...a: readonly unknown[]) => unknown)(...(args as unknown[]));
    if (held instanceof Promise) held = await held;
  } catch (error) {
    throw new BenchFunctionError(name, { cause: error });
  } finally {
    atEnd = process.memoryUsage().heapUsed;
    stats = profiler.stop();
  }
  let peak = atEnd;
  for (const s of stats?.statistics ?? [])
    peak = Math.max(peak, s.beforeGC.heapStatistics.usedHeapSize);
  gc();
  gc();
  const after = process.memoryUsage();
  const rssPeakAfter = process.resourceUsage().maxRSS * 1024;
  // Keep the result reachable until after the post-call GC, so it counts as retained.
  _retainedSink = held;
  _retainedSink = undefined;
  return {
    peakHeapBytes: Math.max(0, peak - before.heapUsed),
    retainedHeapBytes: Math.max(0, after.heapUsed - before.heapUsed),
    peakRssBytes: rssPeakAfter,
    peakRssGrowthBytes: Math.max(0, rssPeakAfter - rssPeakBefore),
    // process.memoryUsage().external already includes arrayBuffers; adding both counts buffers twice.
    externalBytes: Math.max(0, after.external - before.external),
    gcCount: stats?.statistics.length ?? 0,
    gcSource: source,
  };
}
