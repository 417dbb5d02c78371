import { expect } from 'vitest';
import type { Metrics, Trade } from '../src/types.js';

/** |a − b| ≤ 1e-9 · max(|a|, |b|), with a 1e-12 absolute floor for values that are ~0 in both. */
export function relClose(a: number, b: number, rel = 1e-9): boolean {
  if (a === b) return true;
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) || Math.abs(a - b) <= 1e-12;
}

export function expectMetricsClose(actual: Metrics, expected: Metrics, label = ''): void {
  for (const k of Object.keys(expected) as (keyof Metrics)[]) {
    const a = actual[k];
    const e = expected[k];
    if (!relClose(a, e)) {
      expect.fail(`${label} metric ${k}: engine ${a} vs naive ${e} (diff ${a - e})`);
    }
  }
}

export function expectTradesMatch(
  actual: readonly Trade[],
  expected: readonly Trade[],
  label = '',
): void {
  expect(
    actual.map((t) => [t.side, t.entryIndex, t.exitIndex, t.exitReason]),
    `${label} trades`,
  ).toEqual(expected.map((t) => [t.side, t.entryIndex, t.exitIndex, t.exitReason]));
  actual.forEach((t, i) => {
    const e = expected[i]!;
    for (const k of [
      'entryTime',
      'exitTime',
      'entryPrice',
      'exitPrice',
      'units',
      'pnl',
      'returnPct',
      'fees',
    ] as const) {
      if (!relClose(t[k], e[k]))
        expect.fail(`${label} trade ${i} ${k}: engine ${t[k]} vs naive ${e[k]}`);
    }
  });
}

export function expectSeriesClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label = '',
): void {
  expect(actual.length, `${label} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!relClose(actual[i]!, expected[i]!))
      expect.fail(`${label}[${i}]: engine ${actual[i]} vs naive ${expected[i]}`);
  }
}
