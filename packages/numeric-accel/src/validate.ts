import { constants as bufferConstants } from 'node:buffer';
import { AccelRangeError } from './errors.js';

/** Throws unless `x` is a Float64Array. */
export function checkArray(x: unknown, name: string): asserts x is Float64Array {
  if (!(x instanceof Float64Array)) throw new AccelRangeError(name, x, 'a Float64Array');
}

/** Throws unless `b` has the same length as `a`. */
export function checkSameLength(
  a: Float64Array,
  b: Float64Array,
  nameA: string,
  nameB: string,
): void {
  if (a.length !== b.length) {
    throw new AccelRangeError(
      nameB,
      b,
      `a Float64Array of the same length as ${nameA} (${a.length})`,
    );
  }
}

/**
 * Returns the output array: `out` when given (checked: Float64Array of length `n`, and when
 * `noAlias` is set, not overlapping `x`), else a fresh `Float64Array(n)`, not zero-filled when it
 * is large (see {@link freshOutput}).
 */
export function outArray(out: Float64Array | undefined, n: number, x?: Float64Array): Float64Array {
  if (out === undefined) return freshOutput(n);
  if (!(out instanceof Float64Array))
    throw new AccelRangeError('options.out', out, 'a Float64Array');
  if (out.length !== n)
    throw new AccelRangeError('options.out', out, `a Float64Array of length ${n}`);
  if (x !== undefined && overlaps(out, x)) {
    throw new AccelRangeError(
      'options.out',
      out,
      'a Float64Array that does not overlap the input (this kernel reads behind its write position)',
    );
  }
  return out;
}

/** From this many elements (64 KiB) on, {@link freshOutput} skips the zero fill. */
const UNFILLED_FROM = 8192;

/**
 * A new Float64Array of `n` elements for a kernel to write. From {@link UNFILLED_FROM} elements on
 * its memory is not zero-filled: every kernel writes every element of its output (a test runs each
 * one on an output full of garbage and compares), and the fill was a pass over memory of its own.
 * For 1M elements it took 0.9–1.0 ms, about one JS sum over the same length (2-vCPU AMD EPYC VM,
 * family 25, Node 20.20.2, 2026-11-27, medians of 300). Smaller arrays stay ordinary allocations,
 * which V8 makes faster than a separate backing store.
 */
export function freshOutput(n: number): Float64Array {
  if (n < UNFILLED_FROM || n * 8 > bufferConstants.MAX_LENGTH) return new Float64Array(n);
  return new Float64Array(Buffer.allocUnsafeSlow(n * 8).buffer, 0, n);
}

/**
 * Like {@link outArray} for kernels that can run in place: `out` may be `x` itself (or another view of exactly
 * the same memory), but must not overlap it partially, since a shifted view would be overwritten before it is read.
 */
export function outArrayInPlace(
  out: Float64Array | undefined,
  n: number,
  x: Float64Array,
  xName = 'the input',
): Float64Array {
  const checked = outArray(out, n);
  if (overlaps(checked, x) && !sameMemory(checked, x)) {
    throw new AccelRangeError(
      'options.out',
      out,
      `${xName} itself or a Float64Array that does not overlap it (a shifted view of ${xName} would be overwritten before it is read)`,
    );
  }
  return checked;
}

/** Whether `a` and `b` are views of exactly the same memory (same buffer, offset and length): an in-place call. */
export function sameMemory(a: Float64Array, b: Float64Array): boolean {
  return (
    a === b ||
    (a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength)
  );
}

/** Whether the two arrays share any byte of memory. */
export function overlaps(a: Float64Array, b: Float64Array): boolean {
  if (a.buffer !== b.buffer) return false;
  const a0 = a.byteOffset;
  const a1 = a0 + a.byteLength;
  const b0 = b.byteOffset;
  const b1 = b0 + b.byteLength;
  return a0 < b1 && b0 < a1;
}

/** Integer in [min, max]; `undefined` → `dflt`. */
export function intOption(
  value: unknown,
  name: string,
  dflt: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    // name the upper limit too, so a huge integer (1e300) is not told it must be "an integer ≥ 1"
    const range =
      max !== Number.MAX_SAFE_INTEGER
        ? `an integer in [${min}, ${max}]`
        : min === -Number.MAX_SAFE_INTEGER
          ? 'a safe integer (|value| ≤ 2^53 − 1)'
          : `an integer ≥ ${min} (at most 2^53 − 1)`;
    throw new AccelRangeError(name, value, range);
  }
  return value;
}

/** Finite number satisfying `ok`; `undefined` → `dflt`. */
export function numOption(
  value: unknown,
  name: string,
  dflt: number,
  ok: (v: number) => boolean,
  allowed: string,
): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !ok(value)) throw new AccelRangeError(name, value, allowed);
  return value;
}

/** Boolean option; `undefined` → `dflt`. */
export function boolOption(value: unknown, name: string, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (typeof value !== 'boolean') throw new AccelRangeError(name, value, 'a boolean');
  return value;
}

/** Resolves `{ window, minPeriods }` like pandas: window ≥ 1, 0 ≤ minPeriods ≤ window, default minPeriods = window. */
export function windowOptions(opts: { window?: unknown; minPeriods?: unknown } | undefined): {
  window: number;
  minPeriods: number;
} {
  if (opts === undefined || opts === null || typeof opts !== 'object') {
    throw new AccelRangeError('options', opts, 'an object with an integer window ≥ 1');
  }
  const window = opts.window;
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 1) {
    throw new AccelRangeError('options.window', window, 'an integer ≥ 1');
  }
  const minPeriods = intOption(opts.minPeriods, 'options.minPeriods', window, 0, window);
  return { window, minPeriods };
}
