/** Linear sub-buckets per power of two: relative bucket width is 1/16 (≈ 6 %). */
const SUB_BITS = 4;
const SUB = 1 << SUB_BITS;
/** Largest power of two tracked (2^47 ns ≈ 39 h); longer values land in the last bucket. */
const MAX_EXP = 47;
/** Number of buckets of a {@link LogLinearHistogram}. */
export const HISTOGRAM_BUCKETS = SUB * (MAX_EXP - SUB_BITS + 2);

/** Bucket index of a non-negative value (ns). Values below 16 get exact buckets. */
export function bucketIndex(value: number): number {
  if (!(value >= SUB)) return value > 0 ? Math.floor(value) : 0;
  if (value < 2147483648) {
    // fast path: integer bit ops, no Math.pow
    const v = value | 0;
    const e = 31 - Math.clz32(v);
    return SUB * (e - SUB_BITS + 1) + ((v >>> (e - SUB_BITS)) - SUB);
  }
  const e = Math.floor(Math.log2(value));
  if (e > MAX_EXP) return HISTOGRAM_BUCKETS - 1;
  const sub = Math.floor(value / 2 ** (e - SUB_BITS));
  return SUB * (e - SUB_BITS + 1) + (sub - SUB);
}

/** Inclusive lower bound and width of bucket `index`. */
export function bucketBounds(index: number): { low: number; width: number } {
  if (index < SUB) return { low: index, width: 1 };
  const e = Math.floor(index / SUB) + SUB_BITS - 1;
  const sub = (index % SUB) + SUB;
  const width = 2 ** (e - SUB_BITS);
  return { low: sub * width, width };
}

/**
 * Log-linear histogram of durations in nanoseconds (HdrHistogram-style, fixed 720 buckets,
 * about 6 % relative resolution). Recording is allocation-free.
 */
export class LogLinearHistogram {
  readonly #counts = new Uint32Array(HISTOGRAM_BUCKETS);
  #total = 0;

  /** Record one value in ns. */
  record(valueNs: number): void {
    this.#counts[bucketIndex(valueNs)]!++;
    this.#total++;
  }

  /** Number of recorded values. */
  get count(): number {
    return this.#total;
  }

  /**
   * The `q`-quantile (0..1) in ns: the midpoint of the bucket holding the rank-`ceil(q·n)` value,
   * clamped to `[min, max]` when given. 0 when empty.
   */
  quantile(q: number, min = 0, max = Number.POSITIVE_INFINITY): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#total));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const { low, width } = bucketBounds(i);
        const mid = width === 1 ? low : low + width / 2;
        return Math.min(max, Math.max(min, mid));
      }
    }
    return max;
  }

  /** Forget every value. */
  reset(): void {
    this.#counts.fill(0);
    this.#total = 0;
  }
}
