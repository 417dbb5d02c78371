import { describe, expect, it } from 'vitest';
import { testMachine } from './test-utils/machine.js';
import { mdCell } from '@peaktrade/bench-harness';
import { consoleReport, markdownReport, type RunReport } from './report.js';

const machine = testMachine();

function report(overrides: Partial<RunReport>): RunReport {
  return {
    schema: 1,
    machine,
    mode: { quick: true, stress: true, timeMs: 50, redis: false },
    suites: [],
    targets: [],
    stress: [],
    failures: [],
    durationMs: 1000,
    ...overrides,
  };
}

/** Cells of a markdown table row: split at pipes not escaped by a backslash. */
function cells(row: string): number {
  return row.split(/(?<!\\)(?:\\\\)*\|/).length - 2;
}

describe('markdown report', () => {
  it('keeps one row per entry when labels and details hold pipes, backslashes or line breaks', () => {
    const md = markdownReport(
      report({
        targets: [
          {
            target: {
              measurement: 'x.a',
              label: 'a | b, \\| c',
              op: '<',
              value: 1,
              unit: 'ms',
              gate: 'gating',
              source: 'test',
            },
            verdict: 'pass',
            achieved: 0.5,
            reason: '',
          },
        ],
        stress: [
          {
            name: 'storm',
            checked: 'one loader call',
            ok: false,
            detail: 'expected 1\nreceived 2 | 3',
            durationMs: 10,
          },
        ],
      }),
    );
    const rows = md.split('\n').filter((l) => l.startsWith('|') && !l.startsWith('|---'));
    // Targets: header + 1 row of 6 cells; stress: header + 1 row of 5 cells.
    expect(rows.map(cells)).toEqual([6, 6, 5, 5]);
    expect(rows[1]).toContain('| a \\| b, \\\\\\| c |');
    expect(rows[3]).toContain('| expected 1 received 2 \\| 3 |');
    expect(mdCell('x\r\ny')).toBe('x y');
  });

  it('reports a stress run that could not happen as skipped, not as held', () => {
    const r = report({
      stress: [
        {
          name: 'Redis outage under load',
          checked: 'reads survive a stalled Redis',
          ok: true,
          skipped: true,
          detail: 'no Redis answered',
          durationMs: 0,
        },
      ],
    });
    const text = consoleReport(r, false);
    expect(text).toContain('stress skipped: Redis outage under load — no Redis answered');
    expect(text).not.toContain('stress held');
    expect(markdownReport(r)).toContain(
      '| Redis outage under load | reads survive a stalled Redis | skipped |',
    );
  });
});
