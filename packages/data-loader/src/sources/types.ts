import type { OhlcvColumns } from '../columns.js';

/** What a source's load call receives. */
export interface SourceContext {
  /** Aborts when the attempt times out or the caller cancels. */
  readonly signal: AbortSignal;
}

/**
 * A place bars come from. `load` returns the columns for one symbol; the loader adds
 * concurrency and rate limits, retries, timeouts, de-duplication, validation and caching.
 */
export interface Source {
  /** Name used in cache keys and reports, e.g. `http:api.example.com` or `csv:/data`. */
  readonly name: string;
  /** Whether retrying a failed load is safe. Reads are; default true. */
  readonly idempotent?: boolean;
  /** Rate-limit bucket of a symbol (e.g. the URL's host). Default: the source name. */
  rateKey?(symbol: string): string;
  load(symbol: string, ctx: SourceContext): Promise<OhlcvColumns>;
  /** Optional batched form: loads several symbols in one call (DataLoader-style). */
  loadBatch?(
    symbols: readonly string[],
    ctx: SourceContext,
  ): Promise<Map<string, OhlcvColumns | Error>>;
}
