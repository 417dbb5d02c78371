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
  /**
   * Name used in cache keys and reports, e.g. `http:api.example.com` or `csv:/data`. A loader's
   * cache key is `JSON.stringify([name, symbol])`, so every source that shares a cache (in this
   * process, or another one through a shared L2/L3 tier) must have a name of its own unless it
   * serves the same data. In-flight de-duplication does not use the name: it is per source object.
   */
  readonly name: string;
  /**
   * `true` when `name` is only a generic label that does not tell this source's data apart from
   * another's: a built-in source whose URL or path is a function (or whose SQLite database is in
   * memory) and that was given no `name`. A `DataLoader` with a `cache` refuses to load
   * from such a source (`LoaderOptionError` naming `name`) rather than mix its cache entries with
   * another source's. Leave it unset in your own sources and give them a telling `name`.
   */
  readonly anonymous?: boolean;
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
