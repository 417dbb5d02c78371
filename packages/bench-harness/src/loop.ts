/**
 * The measurement loop. Like mitata's, it is generated code: one loop per benchmark, so the call
 * site of the benchmarked function stays monomorphic and the JIT can inline it; fast functions run
 * in batches (unrolled by 4) between two clock reads, so the timer cost is spread over the batch.
 * Unlike mitata's, it keeps samples in time order in a caller-owned Float64Array, can be resumed
 * (interleaved suites call it once per round) and stops on a time budget.
 */
import { blackBox, nowNs } from './clock.js';

/** Heap probe: bytes in use on the V8 heap. */
export type HeapProbe = () => number;

/** Running totals a loop updates when it tracks heap use. */
export interface HeapTally {
  /** Sum of non-negative per-sample heap deltas, bytes. */
  bytes: number;
  /** Samples that contributed (a GC inside a sample makes its delta negative; it is skipped). */
  count: number;
}

/**
 * A compiled loop. Writes up to `maxSamples` samples (ns per call) into `out` starting at `offset`,
 * stopping once at least `minSamples` were taken and `budgetNs` of measured time has passed.
 * Resolves to the number of samples written.
 */
export type CompiledLoop = (
  out: Float64Array,
  offset: number,
  minSamples: number,
  maxSamples: number,
  budgetNs: number,
  heap: HeapTally | undefined,
) => unknown;

const UNROLL = 4;
let loopSerial = 0;

/**
 * Builds a loop for `fn` calling it `batch` times per sample with fixed `args`.
 * `isAsync` loops `await` every call.
 */
export function compileLoop(
  fn: (...args: never[]) => unknown,
  args: readonly unknown[],
  batch: number,
  isAsync: boolean,
  heapProbe: HeapProbe | undefined,
): CompiledLoop {
  const argList = args.map((_, i) => `$a${i}`).join(', ');
  const call = `${isAsync ? 'await ' : ''}$fn(${argList})`;
  const unroll = batch >= UNROLL && batch % UNROLL === 0 ? UNROLL : 1;
  const inner = batch / unroll;
  const body = Array.from({ length: unroll }, () => `r = ${call};`).join(' ');
  // A unique marker per loop: V8 caches `new Function` by source text and could then share type
  // feedback between benchmarks, turning the call site polymorphic.
  const src = `/* peaktrade bench loop ${++loopSerial} */
    return ${isAsync ? 'async ' : ''}function loop(out, offset, minSamples, maxSamples, budgetNs, heap) {
      let r; let t = 0; let s = 0;
      for (; s < maxSamples; s++) {
        if (s >= minSamples && t >= budgetNs) break;
        ${heapProbe ? 'const h0 = $heap();' : ''}
        const t0 = $now();
        ${inner === 1 ? body : `for (let i = 0; i < ${inner}; i++) { ${body} }`}
        const t1 = $now();
        ${heapProbe ? 'const dh = $heap() - h0; if (dh >= 0) { heap.bytes += dh; heap.count++; }' : ''}
        const d = t1 - t0;
        t += d;
        out[offset + s] = d / ${batch};
      }
      $sink(r);
      return s;
    }`;
  // Generated code is the point: a fresh function per benchmark keeps its call site monomorphic.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(
    '$fn',
    '$now',
    '$sink',
    '$heap',
    ...args.map((_, i) => `$a${i}`),
    src,
  ) as (...deps: unknown[]) => CompiledLoop;
  return factory(fn, nowNs, blackBox, heapProbe, ...args);
}
