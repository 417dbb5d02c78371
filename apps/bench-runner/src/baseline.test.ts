import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Measurement } from '@peaktrade/bench-harness';
import { describe, expect, it } from 'vitest';
import { compareToBaseline, readBaseline, toBaseline } from './baseline.js';
import { testMachine } from './test-utils/machine.js';

const machine = testMachine();
const ns = (id: string, value: number): Measurement => ({ id, label: id, value, unit: 'ns' });

describe('compareToBaseline', () => {
  it('calls times of 20% more slower and 20% less faster', () => {
    const before = toBaseline('b', machine, [
      ns('a.slow', 100),
      ns('a.fast', 100),
      ns('a.same', 100),
    ]);
    const rows = compareToBaseline(
      before,
      [ns('a.slow', 120), ns('a.fast', 80), ns('a.same', 101)],
      [],
    );
    expect(rows.map((r) => [r.id, r.verdict])).toEqual([
      ['a.slow', 'slower'],
      ['a.fast', 'faster'],
      ['a.same', 'unchanged'],
    ]);
  });

  it('lists zero, negative and non-finite values as incomparable instead of reading a ratio', () => {
    // Overhead-corrected figures go negative: -0.42 -> -0.2 ns is a ratio of 0.48 but more time.
    const before = toBaseline('b', machine, [
      ns('h.overhead', -0.42),
      ns('h.zero', 0),
      ns('h.toZero', 5),
      ns('h.nan', 5),
    ]);
    const rows = compareToBaseline(
      before,
      [ns('h.overhead', -0.2), ns('h.zero', 3), ns('h.toZero', 0), ns('h.nan', Number.NaN)],
      [],
    );
    expect(rows.map((r) => [r.id, r.verdict])).toEqual([
      ['h.overhead', 'incomparable'],
      ['h.zero', 'incomparable'],
      ['h.toZero', 'incomparable'],
      ['h.nan', 'incomparable'],
    ]);
    expect(rows.every((r) => Number.isNaN(r.ratio))).toBe(true);
  });

  it('saves a run with NaN or infinite figures as a baseline that can be read back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pt-runner-baseline-'));
    try {
      const file = join(dir, 'main.json');
      const saved = toBaseline('main', machine, [
        { ...ns('a.ok', 10), ci: [9, 11] },
        ns('a.nan', Number.NaN),
        { ...ns('a.wideCi', 10), ci: [5, Number.POSITIVE_INFINITY] },
      ]);
      writeFileSync(file, JSON.stringify(saved, null, 2));
      const loaded = readBaseline(file);
      expect(loaded.measurements.map((m) => [m.id, m.value, m.ci])).toEqual([
        ['a.ok', 10, [9, 11]],
        ['a.wideCi', 10, undefined],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
