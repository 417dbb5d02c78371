import { mdCell, type Measurement } from '@peaktrade/bench-harness';
import type { SuiteOutcome, TargetResult } from './evaluate.js';
import { machineLine, memcpyNote, type MachineInfo } from './machine.js';
import { formatValue } from './units.js';

/** Everything a run produced, as written to JSON and used by every reporter. */
export interface RunReport {
  readonly schema: 1;
  readonly machine: MachineInfo;
  readonly mode: {
    readonly quick: boolean;
    readonly stress: boolean;
    readonly timeMs: number;
    readonly redis: boolean;
  };
  readonly suites: readonly SuiteOutcome[];
  readonly targets: readonly TargetResult[];
  readonly stress: readonly StressOutcome[];
  readonly failures: readonly string[];
  readonly durationMs: number;
}

/** One bounded stress run and what it checked. */
export interface StressOutcome {
  readonly name: string;
  readonly checked: string;
  /** Every check held (or the run was skipped, which fails nothing). */
  readonly ok: boolean;
  /** The run did not happen (a service it needs is missing); `detail` says why. */
  readonly skipped?: boolean;
  readonly detail: string;
  readonly durationMs: number;
}

const VERDICT_TEXT: Record<TargetResult['verdict'], string> = {
  pass: 'PASS',
  fail: 'FAIL',
  skipped: 'SKIP',
  missing: 'MISSING',
};

function targetRows(report: RunReport): string[][] {
  return report.targets.map((r) => [
    r.target.label,
    `${r.target.op} ${formatValue(r.target.value, r.target.unit)}`,
    r.achieved === undefined ? '—' : formatValue(r.achieved, r.target.unit),
    VERDICT_TEXT[r.verdict],
    r.target.gate,
    r.target.source,
  ]);
}

const TARGET_HEADER = ['Target', 'Goal', 'Achieved', 'Verdict', 'Gate', 'Source'];

/** Plain-text table with aligned columns; colours verdicts when `color` is true. */
export function consoleReport(report: RunReport, color: boolean): string {
  const paint = (text: string, code: number) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const rows = targetRows(report);
  const widths = TARGET_HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[], colorize = false) =>
    cells
      .map((cell, i) => {
        const padded = cell.padEnd(widths[i]!);
        if (!colorize || i !== 3) return padded;
        return paint(
          padded,
          cell === 'PASS' ? 32 : cell === 'FAIL' || cell === 'MISSING' ? 31 : 33,
        );
      })
      .join('  ');
  const lines = [
    '',
    `Performance targets — ${machineLine(report.machine)}`,
    fmt(TARGET_HEADER),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map((r) => fmt(r, true)),
  ];
  const skipped = report.suites.filter((s) => s.status === 'skipped');
  for (const s of skipped) lines.push(`skipped suite ${s.name}: ${s.reason ?? ''}`);
  for (const s of report.stress)
    lines.push(
      s.skipped
        ? `stress skipped: ${s.name} — ${s.detail}`
        : `stress ${s.ok ? 'held' : 'FAILED'}: ${s.name} — ${s.checked}: ${s.detail}`,
    );
  const passed = report.targets.filter((r) => r.verdict === 'pass').length;
  lines.push(
    '',
    `${passed}/${report.targets.length} targets met · ${report.suites.length} suites in ${(report.durationMs / 1000).toFixed(1)}s${report.mode.quick ? ' (quick)' : ''}`,
  );
  if (report.failures.length > 0) {
    lines.push(paint('Gate FAILED:', 31), ...report.failures.map((f) => `  - ${f}`));
  } else lines.push(paint('Gate passed: every gating target met.', 32));
  return lines.join('\n');
}

function mdTable(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ].join('\n');
}

function measurementRows(measurements: readonly Measurement[]): string[][] {
  return measurements.map((m) => [
    `\`${m.id}\``,
    m.label,
    formatValue(m.value, m.unit),
    m.ci ? `${formatValue(m.ci[0], m.unit)} – ${formatValue(m.ci[1], m.unit)}` : '',
    m.detail ?? '',
  ]);
}

/** Markdown report: targets, then every suite's measurements. */
export function markdownReport(report: RunReport, title = 'Peak Trade benchmark report'): string {
  const parts = [
    `# ${title}`,
    '',
    `- Machine: ${machineLine(report.machine)}`,
    `- Mode: ${report.mode.quick ? 'quick' : 'full'}${report.mode.stress ? ' + stress' : ''}, ${report.mode.timeMs} ms per benchmark, Redis ${report.mode.redis ? 'available' : 'not available'}`,
    `- Duration: ${(report.durationMs / 1000).toFixed(1)} s`,
    `- Figures are medians on a shared machine; ratios (×) are against a baseline measured in the same run.`,
    ...(memcpyNote(report.machine) ? [`- ${memcpyNote(report.machine)}`] : []),
    '',
    '## Targets',
    '',
    mdTable(TARGET_HEADER, targetRows(report)),
    '',
    report.failures.length > 0
      ? `**Gate failed:**\n\n${report.failures.map((f) => `- ${f}`).join('\n')}`
      : 'Every gating target was met.',
  ];
  for (const suite of report.suites) {
    parts.push('', `## ${suite.name} (\`${suite.file}\`)`, '');
    if (suite.status !== 'ok') {
      parts.push(`${suite.status === 'skipped' ? 'Skipped' : 'Failed'}: ${suite.reason ?? ''}`);
      continue;
    }
    parts.push(
      `Ran in ${(suite.durationMs / 1000).toFixed(1)} s.`,
      '',
      mdTable(['id', 'what', 'value', '95% CI', 'detail'], measurementRows(suite.measurements)),
    );
  }
  if (report.stress.length > 0) {
    parts.push(
      '',
      '## Stress',
      '',
      mdTable(
        ['run', 'checked', 'held', 'detail', 'time'],
        report.stress.map((s) => [
          s.name,
          s.checked,
          s.skipped ? 'skipped' : s.ok ? 'yes' : 'NO',
          s.detail,
          `${(s.durationMs / 1000).toFixed(1)} s`,
        ]),
      ),
    );
  }
  return `${parts.join('\n')}\n`;
}
