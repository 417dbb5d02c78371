import type { NPlusOneFinding, SlowQuery } from './profiler.js';
import type { StatementStats } from './stats.js';

/** Output formats of {@link formatReport}. */
export type ReportFormat = 'table' | 'json' | 'markdown';

/** What a report may be sorted by. */
export type ReportSortKey = 'totalNs' | 'meanNs' | 'calls' | 'p95Ns' | 'rows';

/** Report options. */
export interface ReportOptions {
  /** Sort key, largest first. Default `totalNs`. */
  readonly sortBy?: ReportSortKey;
  /** Keep only the first N statements. Default all. */
  readonly limit?: number;
  /** Truncate fingerprints in the table/markdown to this many characters. Default 80. */
  readonly maxSqlLength?: number;
}

/** Everything a report shows. */
export interface ReportData {
  readonly statements: readonly StatementStats[];
  readonly slowQueries: readonly SlowQuery[];
  readonly nPlusOne: readonly NPlusOneFinding[];
  readonly slowCount: number;
}

function us(ns: number): string {
  return (ns / 1000).toFixed(ns < 10_000 ? 2 : 1);
}
function ms(ns: number): string {
  return (ns / 1e6).toFixed(3);
}
function cut(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
function flags(s: StatementStats): string {
  if (!s.plan) return '';
  if (s.plan.error !== undefined) return 'explain-failed';
  return [...new Set(s.plan.issues.map((i) => i.kind))].join(',');
}

const HEAD = [
  'calls',
  'rows',
  'total ms',
  'mean µs',
  'p50 µs',
  'p95 µs',
  'max µs',
  'sd µs',
  'flags',
  'statement',
];

function rowsOf(data: ReportData, opts: ReportOptions): string[][] {
  const key = opts.sortBy ?? 'totalNs';
  const list = [...data.statements]
    .sort((a, b) => b[key] - a[key])
    .slice(0, opts.limit ?? Infinity);
  const n = opts.maxSqlLength ?? 80;
  return list.map((s) => [
    String(s.calls),
    String(s.rows),
    ms(s.totalNs),
    us(s.meanNs),
    us(s.p50Ns),
    us(s.p95Ns),
    us(s.maxNs),
    us(s.stddevNs),
    flags(s),
    cut(s.fingerprint, n),
  ]);
}

function textTable(head: readonly string[], rows: readonly string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) =>
        i < cells.length - 1 && i < 8 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function suggestionsOf(data: ReportData): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of data.statements)
    for (const g of s.plan?.suggestions ?? []) {
      if (seen.has(g.sql)) continue;
      seen.add(g.sql);
      out.push(`${g.sql}  -- ${g.reason}`);
    }
  return out;
}

/**
 * Render profiler data: `table` is a fixed-width text table for the console, `markdown` a GitHub
 * table plus plan issues, index suggestions, N+1 findings and slow queries, `json` the raw figures
 * (times in ns).
 */
export function formatReport(
  data: ReportData,
  format: ReportFormat = 'table',
  opts: ReportOptions = {},
): string {
  if (format === 'json') {
    const key = opts.sortBy ?? 'totalNs';
    const statements = [...data.statements]
      .sort((a, b) => b[key] - a[key])
      .slice(0, opts.limit ?? Infinity);
    return JSON.stringify(
      {
        statements,
        slowQueries: data.slowQueries,
        slowCount: data.slowCount,
        nPlusOne: data.nPlusOne,
      },
      (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
      2,
    );
  }
  const rows = rowsOf(data, opts);
  const sugg = suggestionsOf(data);
  if (format === 'table') {
    const parts = [textTable(HEAD, rows)];
    if (sugg.length > 0) parts.push('', 'Suggested indexes:', ...sugg.map((s) => `  ${s}`));
    if (data.nPlusOne.length > 0)
      parts.push(
        '',
        'N+1 detections:',
        ...data.nPlusOne.map((f) => `  ${f.count}× (threshold ${f.threshold}) ${f.fingerprint}`),
      );
    if (data.slowCount > 0)
      parts.push('', `Slow executions: ${data.slowCount} (${data.slowQueries.length} logged)`);
    return parts.join('\n');
  }
  if (format !== 'markdown')
    throw new TypeError(
      `Invalid report format ${JSON.stringify(format)}; expected 'table', 'json' or 'markdown'`,
    );
  const esc = (s: string): string => s.replaceAll('|', '\\|');
  const md = [
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map((_, i) => (i < 8 ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((r) => `| ${r.map((c, i) => (i === 9 ? `\`${esc(c)}\`` : esc(c))).join(' | ')} |`),
  ];
  const issues = data.statements.flatMap((s) =>
    (s.plan?.issues ?? []).map(
      (i) => `- **${i.kind}** \`${esc(cut(s.fingerprint, 120))}\`: ${i.message} (\`${i.detail}\`)`,
    ),
  );
  if (issues.length > 0) md.push('', '### Plan issues', '', ...issues);
  if (sugg.length > 0) md.push('', '### Suggested indexes', '', '```sql', ...sugg, '```');
  if (data.nPlusOne.length > 0)
    md.push(
      '',
      '### N+1 detections',
      '',
      ...data.nPlusOne.map(
        (f) => `- ${f.count}× (threshold ${f.threshold}): \`${esc(f.fingerprint)}\``,
      ),
    );
  if (data.slowCount > 0)
    md.push(
      '',
      `### Slow queries (${data.slowCount}, ${data.slowQueries.length} logged)`,
      '',
      ...data.slowQueries.map((q) => `- ${ms(q.durationNs)} ms \`${esc(q.sql)}\``),
    );
  return md.join('\n');
}
