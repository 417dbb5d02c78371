import { nowNs } from './clock.js';
import { BenchOptionError } from './errors.js';

/** What {@link memcpyAlignmentProbe} measured. */
export interface MemcpyProbe {
  /** Bytes per copy. */
  readonly bytes: number;
  /** Fastest and slowest median copy rate over the relative offsets tried, GB/s. */
  readonly fastestGBps: number;
  readonly slowestGBps: number;
  /** slowest time / fastest time: about 1 where alignment does not matter. */
  readonly penalty: number;
  /** The destination offset (relative to the source's) of the slowest copy, bytes. */
  readonly slowestOffset: number;
}

/**
 * Times `TypedArray.prototype.set` copies of `bytes` (default 256 KiB) inside one buffer, to
 * destinations a whole number of pages after the source plus 0, 8, ..., 56 bytes, and reports how much
 * the slowest offset is behind the fastest.
 *
 * On some machines large copies slow down many times at particular relative offsets: glibc before
 * 2.39 copies with `rep movsb` on AMD Zen 3/4, which is 10–20× slower when the destination sits 1–31
 * bytes past the source modulo 4096 (as if the copy overlapped). That holds for copies from a few KiB
 * up to about the L2 cache size; larger ones use non-temporal stores. Benchmarks that copy large
 * buffers (serialization, file loading) then depend on where the allocator put them, so the runner
 * prints this beside its figures. Seen on a 2-vCPU AMD EPYC (family 25, model 1) VM with glibc 2.36,
 * Node 20.20.2, 2026-11-27: 10–17× at 256 KiB (about 30 GB/s against 2–3 GB/s). About 5 ms.
 */
export function memcpyAlignmentProbe(bytes = 1 << 18, reps = 7): MemcpyProbe {
  if (!Number.isSafeInteger(bytes) || bytes < 64 || bytes > 1 << 30)
    throw new BenchOptionError('bytes', bytes, 'an integer from 64 to 2^30');
  if (!Number.isSafeInteger(reps) || reps < 1 || reps > 1000)
    throw new BenchOptionError('reps', reps, 'an integer from 1 to 1000');
  // Source and destinations in one buffer, so their relative position is known exactly: the
  // destination starts a whole number of pages after the source's end, plus the offset tried.
  const span = Math.ceil(bytes / 4096) * 4096 + 4096;
  const buf = new Uint8Array(span + bytes + 64);
  buf.fill(1);
  const from = buf.subarray(0, bytes);
  let fastest = Number.POSITIVE_INFINITY;
  let slowest = 0;
  let slowestOffset = 0;
  const times = new Float64Array(reps);
  for (let offset = 0; offset < 64; offset += 8) {
    const to = buf.subarray(span + offset, span + offset + bytes);
    to.set(from); // first touch of this alignment
    for (let r = 0; r < reps; r++) {
      const t0 = nowNs();
      to.set(from);
      times[r] = nowNs() - t0;
    }
    times.sort();
    const median = times[reps >> 1]!;
    if (median < fastest) fastest = median;
    if (median > slowest) {
      slowest = median;
      slowestOffset = offset;
    }
  }
  return {
    bytes,
    fastestGBps: bytes / Math.max(fastest, 1),
    slowestGBps: bytes / Math.max(slowest, 1),
    penalty: slowest / Math.max(fastest, 1),
    slowestOffset,
  };
}
