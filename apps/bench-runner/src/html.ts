import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createBaseline,
  loadBaseline,
  machineFingerprint,
  renderHtml,
  saveBaseline,
  type Baseline,
  type BenchResult,
  type SuiteResult,
} from '@peaktrade/bench-harness';
import type { RunReport } from './report.js';

/** Saved runs kept for the trend chart. */
const HISTORY_RUNS = 30;

/**
 * Write the bench-harness HTML report of a run: a distribution chart per benchmark, ratio bars
 * per suite, and a trend across the runs saved in `historyDir` (this run is added to it).
 * Benchmark names are prefixed with their suite's name so they stay unique across packages.
 */
export function writeHtmlReport(
  report: RunReport,
  file: string,
  historyDir: string,
): Promise<string> {
  const results: BenchResult[] = [];
  const suites: SuiteResult[] = [];
  for (const outcome of report.suites) {
    for (const entry of outcome.raw ?? []) {
      if (entry.kind === 'benchmark')
        results.push({ ...entry.result, name: `${outcome.name}: ${entry.result.name}` });
      else suites.push({ ...entry.result, name: `${outcome.name}: ${entry.result.name}` });
    }
  }
  mkdirSync(historyDir, { recursive: true });
  const stamp = report.machine.date.replace(/[:.]/g, '-');
  saveBaseline(
    join(historyDir, `run-${stamp}.json`),
    createBaseline({ results, suites, label: report.mode.quick ? 'quick' : 'full' }),
  );
  const history: Baseline[] = [];
  for (const name of readdirSync(historyDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .slice(-HISTORY_RUNS)) {
    try {
      history.push(loadBaseline(join(historyDir, name)));
    } catch {
      // A history file from an older schema is left out of the trend, not fatal.
    }
  }
  const html = renderHtml({
    title: `Peak Trade benchmarks, ${report.machine.date.slice(0, 10)}`,
    results,
    suites,
    history,
    fingerprint: machineFingerprint(),
  });
  writeFileSync(file, html);
  return Promise.resolve(file);
}
