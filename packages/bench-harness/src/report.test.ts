import { describe, expect, it } from 'vitest';
import { compareResults, createBaseline } from './baseline.js';
import type { BenchResult } from './benchmark.js';
import {
  formatConsole,
  formatJson,
  formatMarkdown,
  formatNs,
  renderHtml,
  type ReportInput,
} from './report.js';
import { createRng, summarize } from './stats.js';
import type { SuiteResult } from './suite.js';

function fake(name: string, center: number, seed = 1): BenchResult {
  const rng = createRng(seed);
  const samples = Float64Array.from({ length: 100 }, () => center * (1 + 0.02 * (rng() - 0.5)));
  const stats = summarize(samples);
  return {
    name,
    samples,
    stats,
    opsPerSec: 1e9 / stats.median,
    timerResolutionNs: 50,
    warnings: [],
    batchSize: 32,
    batching: 'batched',
    async: false,
    iterations: 3200,
    durationMs: 50,
  };
}

const suiteResult: SuiteResult = {
  name: 'lookup',
  baseline: 'map',
  results: { map: fake('map', 200), 'obj<x>': fake('obj<x>', 100, 2) },
  ratios: { map: { ratio: 1, ci95: [0.99, 1.01] }, 'obj<x>': { ratio: 0.5, ci95: [0.49, 0.51] } },
  mode: 'interleaved',
};
const input: ReportInput = {
  title: 'Test report',
  results: [fake('encode', 1234.5)],
  suites: [suiteResult],
  comparisons: [compareResults(fake('encode', 1000, 3), fake('encode', 1200, 4))],
};

describe('reporters', () => {
  it('formats durations with a fitting unit', () => {
    expect(formatNs(12.345)).toBe('12.3 ns');
    expect(formatNs(12_345)).toBe('12.3 µs');
    expect(formatNs(12_345_678)).toBe('12.3 ms');
    expect(formatNs(2.5e9)).toBe('2.50 s');
  });

  it('prints plain console tables without colour and coloured verdicts with it', () => {
    const plain = formatConsole(input, { color: false });
    expect(plain).not.toContain('\x1b[');
    expect(plain).toContain('Benchmarks');
    expect(plain).toContain('encode');
    expect(plain).toContain('Suite lookup (interleaved, baseline map)');
    expect(plain).toContain('0.500×');
    expect(plain).toMatch(/encode\s+1\.19\d×.*slower/);
    const coloured = formatConsole(input, { color: true });
    expect(coloured).toContain('\x1b[31m'); // the slower verdict in red
  });

  it('defaults to plain output in CI', () => {
    const saved = process.env.CI;
    process.env.CI = '1';
    try {
      expect(formatConsole(input)).not.toContain('\x1b[');
    } finally {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });

  it('writes markdown tables', () => {
    const md = formatMarkdown(input);
    expect(md.startsWith('# Test report')).toBe(true);
    expect(md).toContain('| benchmark | median | 95% CI (median) |');
    expect(md).toContain('| --- |');
    expect(md).toContain('## Against baseline');
  });

  it('writes JSON with samples as arrays', () => {
    const parsed = JSON.parse(formatJson(input)) as { results: { samples: number[] }[] };
    expect(parsed.results[0]!.samples).toHaveLength(100);
    expect(typeof parsed.results[0]!.samples[0]).toBe('number');
  });

  it('renders self-contained HTML with one chart per benchmark, suite and trend, escaping names', () => {
    const history = [
      createBaseline({ results: [fake('encode', 1000)], createdAt: new Date('2026-01-01') }),
      createBaseline({ results: [fake('encode', 1100)], createdAt: new Date('2026-02-01') }),
    ];
    const html = renderHtml({ ...input, history });
    expect(html).not.toMatch(/<script|https?:\/\/|<link/);
    expect(html.match(/data-kind="distribution"/g)).toHaveLength(3);
    expect(html.match(/data-kind="ratios"/g)).toHaveLength(1);
    expect(html.match(/data-kind="trend"/g)).toHaveLength(1);
    expect(html).toContain('obj&lt;x&gt;');
    expect(html).not.toContain('obj<x>');
    expect(renderHtml({ history: [] })).toContain('No saved runs yet.');
  });

  it('markdown keeps one table row per result when names hold pipes, backslashes or line breaks', () => {
    const md = formatMarkdown({
      results: [fake('a|b', 100), fake('back\\|slash', 100, 2), fake('two\nlines', 100, 3)],
    });
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'));
    // The header, then one row per result, each with the header's 7 cells.
    expect(rows).toHaveLength(4);
    const cells = (row: string): number => row.split(/(?<!\\)(?:\\\\)*\|/).length - 2;
    for (const row of rows) expect(cells(row)).toBe(7);
    expect(rows[1]).toContain('| a\\|b |');
    expect(rows[2]).toContain('| back\\\\\\|slash |');
    expect(rows[3]).toContain('| two lines |');
  });
});
