// Shared loader and comparison for the pandas golden fixtures (test/fixtures/pandas-golden.json).
import { readFileSync } from 'node:fs';
import * as na from '../src/index.js';

type Json = number | string | null;
export interface GoldenCase {
  kernel: string;
  series: string;
  series2?: string;
  options: Record<string, unknown>;
  expected: Json | Json[] | Record<string, Json>;
  q?: number;
  input?: Json[];
  length?: number;
}
interface Golden {
  meta: Record<string, unknown>;
  series: Record<string, Json[]>;
  cases: GoldenCase[];
}

export const golden = JSON.parse(
  readFileSync(new URL('./fixtures/pandas-golden.json', import.meta.url), 'utf8'),
) as Golden;

export function decode(v: Json): number {
  if (v === null) return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return Number(v);
}
export const toF64 = (a: Json[]): Float64Array => Float64Array.from(a, decode);

/** Runs one fixture case through the kernel. */
export function runCase(c: GoldenCase): number | Float64Array | Record<string, number> {
  let x = c.input !== undefined ? toF64(c.input) : toF64(golden.series[c.series]!);
  if (c.length !== undefined) x = x.subarray(0, c.length);
  const o = c.options as never;
  switch (c.kernel) {
    case 'quantile':
      return na.quantile(x, c.q!, o);
    case 'rollingCorr': {
      const y = toF64(golden.series[c.series2!]!).subarray(0, c.length);
      return na.rollingCorr(x, y, o);
    }
    case 'maxDrawdown':
      return { ...na.maxDrawdown(x) };
    default: {
      const fn = (
        na as unknown as Record<string, (x: Float64Array, o: unknown) => number | Float64Array>
      )[c.kernel];
      if (typeof fn !== 'function') throw new Error(`no kernel ${c.kernel}`);
      return fn(x, o);
    }
  }
}

function ulp(v: number): number {
  const a = Math.abs(v);
  if (a === 0 || !Number.isFinite(a)) return Number.MIN_VALUE;
  return 2 ** (Math.floor(Math.log2(a)) - 52);
}

/** Relative 1e-12 or 4 ulps; NaN == NaN; infinities must match exactly. */
export function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  const d = Math.abs(a - b);
  const m = Math.max(Math.abs(a), Math.abs(b));
  return d <= 1e-12 * m || d <= 4 * ulp(m);
}

/**
 * Condition-number floor for results formed by cancellation (a sum of mixed-sign terms, a variance of a nearly
 * constant window): pass when |a − b| ≤ 1e-12 · scale, where scale is the magnitude of the terms that were
 * summed. Both pandas' result and ours carry an error of that order, so a relative test is meaningless there.
 */
export function closeScaled(a: number, b: number, scale: number): boolean {
  if (close(a, b)) return true;
  if (Number.isNaN(a) || Number.isNaN(b) || !Number.isFinite(a) || !Number.isFinite(b))
    return false;
  return Math.abs(a - b) <= 1e-12 * scale;
}

/** Magnitude of the terms behind each result, per kernel (see closeScaled). */
export function scaleOf(c: GoldenCase): number {
  const x = c.input !== undefined ? toF64(c.input) : toF64(golden.series[c.series]!);
  let maxAbs = 0;
  let sumAbs = 0;
  for (const v of x) {
    // finite values only: an infinity is missing to the rolling kernels and would make every bound vacuous
    if (Number.isFinite(v)) {
      maxAbs = Math.max(maxAbs, Math.abs(v));
      sumAbs += Math.abs(v);
    }
  }
  const w = typeof c.options.window === 'number' ? Math.min(c.options.window, x.length) : x.length;
  switch (c.kernel) {
    case 'sum':
    case 'cumsum':
      return sumAbs;
    case 'rollingSum':
      return w * maxAbs;
    case 'variance':
    case 'rollingVar':
      return maxAbs * maxAbs;
    case 'zscore':
    case 'rollingCorr':
      return 1;
    default:
      return maxAbs;
  }
}
