import { do_not_optimize, now as mitataNow } from 'mitata/src/lib.mjs';

/** Monotonic clock in nanoseconds (fractional), mitata's `performance.now()`-based timer. */
export const nowNs: () => number = mitataNow;

/** Keeps `value` observable so the JIT cannot drop the computation that produced it (mitata). */
export const blackBox: (value: unknown) => void = do_not_optimize;

let cachedResolution: number | undefined;

/**
 * Timer resolution in ns: the smallest positive difference between two consecutive clock reads
 * (granularity plus the cost of one read). Measured once per process and cached.
 */
export function timerResolutionNs(): number {
  if (cachedResolution !== undefined) return cachedResolution;
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 2000; round++) {
    const t0 = nowNs();
    let t1 = nowNs();
    while (t1 === t0) t1 = nowNs();
    const d = t1 - t0;
    if (d > 0 && d < best) best = d;
  }
  cachedResolution = best;
  return best;
}

/** The `gc()` function when the process runs with `--expose-gc`, otherwise undefined. */
export function exposedGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: unknown }).gc;
  return typeof g === 'function' ? (g as () => void) : undefined;
}
