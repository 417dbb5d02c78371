// Worker task module for bench/parallel.bench.ts. Plain JavaScript: Node 20 workers cannot load .ts.
import { threadId } from 'node:worker_threads';

/** Returns its input: measures dispatch alone. */
export function noop(input) {
  return input;
}

/** Reads the last close of the shared dataset (forces the one-time delivery to this worker). */
export function touchShared(_input, ctx) {
  const close = ctx.data.close;
  return [threadId, close[close.length - 1]];
}

/** Reads the last close of columns that arrived by structured clone. */
export function touchCloned(cols) {
  return [threadId, cols.close[cols.close.length - 1]];
}

/** A backtest-shaped function that does nothing: measures per-strategy machinery. */
export function noopBacktest(_data, strategy) {
  return strategy.fast;
}
