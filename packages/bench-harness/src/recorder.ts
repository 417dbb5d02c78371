import type { BenchResult } from './benchmark.js';
import type { SuiteResult } from './suite.js';

/** A result measured in this process, as handed to {@link onResult} listeners. */
export type RecordedResult =
  | { readonly kind: 'benchmark'; readonly result: BenchResult }
  | { readonly kind: 'suite'; readonly result: SuiteResult };

const listeners = new Set<(entry: RecordedResult) => void>();

/**
 * Be told of every `benchmark()` and `suite()` result measured in this process from now on.
 * The bench runner uses it to build the HTML report from the raw samples without the bench
 * files passing them around. Returns the unsubscribe function.
 */
export function onResult(listener: (entry: RecordedResult) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Hand a finished result to the listeners (no-op when there are none). */
export function recordResult(entry: RecordedResult): void {
  for (const listener of listeners) listener(entry);
}
