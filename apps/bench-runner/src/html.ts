import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  createBaseline,
  loadBaseline,
  machineFingerprint,
  renderHtml,
  saveBaseline,
  writeFileAtomic,
  type Baseline,
  type BenchResult,
  type SuiteResult,
} from '@peaktrade/bench-harness';
import type { RunReport } from './report.js';

/** Saved runs kept for the trend chart. */
const HISTORY_RUNS = 30;

/** What {@link writeHtmlReport} wrote, and the history files it had to leave out. */
export interface HtmlReportWritten {
  readonly file: string;
  /** Why each saved run that could not be read into the trend was left out (names the file). */
  readonly skippedHistory: readonly string[];
}

/**
 * Write the bench-harness HTML report of a run: a distribution chart per benchmark, ratio bars
 * per suite, and a trend across the runs saved in `historyDir` (this run is added to it).
 * Benchmark names are prefixed with their suite's name so they stay unique across packages.
 * Files are written atomically.
 */
export function writeHtmlReport(
  report: RunReport,
  file: string,
  historyDir: string,
): Promise<HtmlReportWritten> {
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
  const skippedHistory: string[] = [];
  for (const name of readdirSync(historyDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .slice(-HISTORY_RUNS)) {
    try {
      history.push(loadBaseline(join(historyDir, name)));
    } catch (error) {
      // Left out of the trend, not fatal; the caller says so (an older schema, a damaged file).
      skippedHistory.push((error as Error).message);
    }
  }
  const html = renderHtml({
    title: `Peak Trade benchmarks, ${report.machine.date.slice(0, 10)}`,
    results,
    suites,
    history,
    fingerprint: machineFingerprint(),
  });
  writeFileAtomic(file, html);
  return Promise.resolve({ file, skippedHistory });
}
