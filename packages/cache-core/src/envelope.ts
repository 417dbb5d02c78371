/**
 * What MultiLevelCache stores: the value plus its logical lifetime, so that grace,
 * stale-if-error, negative caching and expireByTag work the same in every tier.
 *
 * Tiers receive envelopes as ordinary values (byte tiers serialize them like any object) with
 * a physical TTL (`TierSetOptions.ttlMs`) equal to the time until {@link envelopeRetainUntil},
 * i.e. `ttl + max(grace, staleIfError)`. A tier that implements `expireByTag` should rewrite the
 * matching envelopes with {@link expireEnvelope} (or delete them when it returns undefined).
 *
 * All times are epoch milliseconds (`Date.now()`), so envelopes written by one process are
 * understood by another (clocks assumed roughly in sync).
 */
export interface CacheEnvelope<V = unknown> {
  /** Marker and format version (always 1). */
  readonly __pt: 1;
  /** The value; undefined for a negative entry. */
  readonly v: V | undefined;
  /** Logical expiry (epoch ms): fresh before it. 0: never expires. */
  readonly e: number;
  /** Grace end (epoch ms): between `e` and `g` the value is served stale while one refresh runs. */
  readonly g: number;
  /** Stale-if-error end (epoch ms): before it a stale value replaces a failed load. */
  readonly s: number;
  /** 1 for a negative entry (the loader found nothing). */
  readonly n?: 1;
  /** Tags given when the entry was written. */
  readonly t?: readonly string[];
}

/** Whether a value read from a tier is a {@link CacheEnvelope}. */
export function isCacheEnvelope(value: unknown): value is CacheEnvelope {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { __pt?: unknown }).__pt === 1 &&
    typeof (value as { e?: unknown }).e === 'number'
  );
}

/** The last moment (epoch ms) the envelope is useful at all, 0 for never-expiring entries. */
export function envelopeRetainUntil(envelope: CacheEnvelope): number {
  if (envelope.e === 0) return 0;
  return Math.max(envelope.e, envelope.g, envelope.s);
}

/**
 * A copy of `envelope` that is logically expired at `nowMs` (for `expireByTag`): its grace
 * and stale-if-error windows are kept in length and restart at `nowMs`. Undefined when nothing
 * of it would remain usable (no window, or a never-expiring entry): delete it instead.
 * An entry already expired is returned unchanged.
 */
export function expireEnvelope<V>(
  envelope: CacheEnvelope<V>,
  nowMs: number,
): CacheEnvelope<V> | undefined {
  const { e, g, s } = envelope;
  if (e === 0) return undefined;
  if (e <= nowMs) return Math.max(g, s) > nowMs ? envelope : undefined;
  const graceMs = g - e;
  const staleMs = s - e;
  if (graceMs <= 0 && staleMs <= 0) return undefined;
  return { ...envelope, e: nowMs, g: nowMs + graceMs, s: nowMs + staleMs };
}
