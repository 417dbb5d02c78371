import { taskRef, type AnyTaskFn, type TaskRef } from '../src/index.js';

/** The plain-JS fixture module that test workers import. */
export const TASKS = new URL('./fixtures/tasks.mjs', import.meta.url);

/** A reference to one export of the fixture module. */
export function task<F extends AnyTaskFn = AnyTaskFn>(name: string): TaskRef<F> {
  return taskRef<F>(TASKS, name);
}

/** Columns 0..n-1 (close = i + 0.5) for tests. */
export function makeColumns(
  n: number,
): Record<'time' | 'open' | 'high' | 'low' | 'close' | 'volume', Float64Array> {
  const time = new Float64Array(n);
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  const volume = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    time[i] = 1_700_000_000_000 + i * 60_000;
    open[i] = i;
    high[i] = i + 1;
    low[i] = i - 1;
    close[i] = i + 0.5;
    volume[i] = 100 + (i % 7);
  }
  return { time, open, high, low, close, volume };
}

/** Poll `predicate` every 10 ms until it holds (or fail after `limitMs`). Not a timing assertion. */
export async function until(predicate: () => boolean, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
