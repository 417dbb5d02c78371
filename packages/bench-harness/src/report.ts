import type { BenchResult } from './benchmark.js';
import type { Baseline, Comparison, MachineFingerprint, Verdict } from './baseline.js';
import type { SuiteResult } from './suite.js';

/** Everything a reporter can show. Every field is optional. */
export interface ReportInput {
  /** Report title. Default `Benchmark report`. */
  readonly title?: string;
  /** Stand-alone benchmark results. */
  readonly results?: readonly BenchResult[];
  /** Suites (their variants' distributions are shown too). */
  readonly suites?: readonly SuiteResult[];
  /** Verdicts against a baseline. */
  readonly comparisons?: readonly Comparison[];
  /** Saved runs, any order, for the trend chart (the HTML report sorts them by date). */
  readonly history?: readonly Baseline[];
  /** Machine the results come from. */
  readonly fingerprint?: MachineFingerprint;
}

/** Formats a duration given in ns with a unit that keeps 3 significant digits (`12.3 µs`). */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  const abs = Math.abs(ns);
  if (abs < 1e3) return `${ns.toPrecision(3)} ns`;
  if (abs < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (abs < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}

function formatOps(ops: number): string {
  if (!Number.isFinite(ops)) return String(ops);
  if (ops >= 1e9) return `${(ops / 1e9).toFixed(2)} G/s`;
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)} M/s`;
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(2)} k/s`;
  return `${ops.toFixed(1)} /s`;
}

const ratioText = (r: number): string => `${r.toFixed(3)}×`;
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

interface Table {
  readonly title: string;
  readonly head: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Per-row colour of the last column (console only). */
  readonly tone?: readonly (Tone | undefined)[];
}

type Tone = 'red' | 'green' | 'yellow' | 'gray';
const ANSI: Record<Tone, string> = {
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  gray: '\x1b[90m',
};
const VERDICT_TONE: Record<Verdict, Tone> = {
  slower: 'red',
  faster: 'green',
  unchanged: 'gray',
  incomparable: 'yellow',
};

function resultRow(r: BenchResult, name = r.name): string[] {
  return [
    name,
    formatNs(r.stats.median),
    `${formatNs(r.stats.ci95[0])} … ${formatNs(r.stats.ci95[1])}`,
    pct(r.stats.mad / r.stats.median),
    formatOps(r.opsPerSec),
    `${r.samples.length}×${r.batchSize}`,
    r.warnings.length > 0 ? `⚠ ${r.warnings.length}` : '',
  ];
}

function tables(input: ReportInput): Table[] {
  const out: Table[] = [];
  const head = [
    'benchmark',
    'median',
    '95% CI (median)',
    'MAD',
    'ops/s',
    'samples×batch',
    'warnings',
  ];
  if (input.results && input.results.length > 0) {
    out.push({ title: 'Benchmarks', head, rows: input.results.map((r) => resultRow(r)) });
  }
  for (const s of input.suites ?? []) {
    const rows = Object.entries(s.results).map(([v, r]) => {
      const ratio = s.ratios[v]!;
      const flag = s.incomparable?.includes(v)
        ? ' (incomparable)'
        : v === s.baseline
          ? ' (baseline)'
          : '';
      return [
        v + flag,
        formatNs(r.stats.median),
        ratioText(ratio.ratio),
        `${ratio.ci95[0].toFixed(3)} … ${ratio.ci95[1].toFixed(3)}`,
        pct(r.stats.mad / r.stats.median),
        `${r.samples.length}×${r.batchSize}`,
      ];
    });
    out.push({
      title: `Suite ${s.name} (${s.mode ?? 'interleaved'}, baseline ${s.baseline})`,
      head: ['variant', 'median', 'ratio', '95% CI (ratio)', 'MAD', 'samples×batch'],
      rows,
    });
  }
  if (input.comparisons && input.comparisons.length > 0) {
    out.push({
      title: 'Against baseline',
      head: ['benchmark', 'ratio', '95% CI', 'noise floor', 'p (U test)', 'verdict'],
      rows: input.comparisons.map((c) => [
        c.name,
        ratioText(c.ratio),
        `${c.ci95[0].toFixed(3)} … ${c.ci95[1].toFixed(3)}`,
        pct(c.noiseFloor),
        c.pValue.toPrecision(2),
        c.verdict,
      ]),
      tone: input.comparisons.map((c) => VERDICT_TONE[c.verdict]),
    });
  }
  return out;
}

/** Options of {@link formatConsole}. */
export interface ConsoleFormatOptions {
  /** ANSI colours. Default: on when stdout is a TTY, `CI` is unset and `NO_COLOR` is unset. */
  readonly color?: boolean;
}

/** Plain-text tables for a terminal, coloured verdicts on a TTY (plain in CI or with `NO_COLOR`). */
export function formatConsole(input: ReportInput, options: ConsoleFormatOptions = {}): string {
  const color =
    options.color ?? (process.stdout.isTTY === true && !process.env.CI && !process.env.NO_COLOR);
  const lines: string[] = [];
  for (const t of tables(input)) {
    const widths = t.head.map((h, i) =>
      Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)),
    );
    const fmtRow = (cells: readonly string[]): string =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd();
    lines.push(color ? `\x1b[1m${t.title}\x1b[0m` : t.title);
    lines.push(fmtRow(t.head));
    lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
    t.rows.forEach((r, i) => {
      let line = fmtRow(r);
      const tone = t.tone?.[i];
      if (color && tone) line = `${ANSI[tone]}${line}\x1b[0m`;
      lines.push(line);
    });
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * Text for one GitHub-flavoured markdown table cell: a line break would end the row, so line breaks
 * become spaces; `|` would end the cell, so it is escaped, and backslashes right before one are
 * doubled (else `a\|b` would turn into `a\\|`, whose pipe splits the cell after all).
 */
export function mdCell(text: string): string {
  return text
    .replace(/\s*(?:\r\n|\r|\n)\s*/g, ' ')
    .replace(/\\+(?=\|)/g, (run) => run + run)
    .replace(/\|/g, '\\|');
}

/** GitHub-flavoured markdown tables; cells are escaped, so names may hold `|` and line breaks. */
export function formatMarkdown(input: ReportInput): string {
  const parts: string[] = [`# ${input.title ?? 'Benchmark report'}`, ''];
  if (input.fingerprint) parts.push(`Machine: ${fingerprintText(input.fingerprint)}`, '');
  for (const t of tables(input)) {
    parts.push(
      `## ${t.title}`,
      '',
      `| ${t.head.map(mdCell).join(' | ')} |`,
      `| ${t.head.map(() => '---').join(' | ')} |`,
    );
    for (const r of t.rows) parts.push(`| ${r.map(mdCell).join(' | ')} |`);
    parts.push('');
  }
  return parts.join('\n');
}

/** JSON text of the report input; `Float64Array` samples become arrays. */
export function formatJson(input: ReportInput, space = 2): string {
  return JSON.stringify(
    input,
    (_k, v: unknown) => (v instanceof Float64Array ? Array.from(v) : v),
    space,
  );
}

function fingerprintText(f: MachineFingerprint): string {
  return `${f.cpuModel}, ${f.cores} cores, Node ${f.nodeVersion} (${f.platform}-${f.arch})${f.flags.length ? `, flags ${f.flags.join(' ')}` : ''}`;
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const W = 560;
const H = 180;
const PAD = { l: 64, r: 16, t: 16, b: 32 };

/** Histogram of one benchmark's samples, with the median and its CI marked. */
function distributionSvg(r: BenchResult, label: string): string {
  const xs = r.samples;
  const lo = r.stats.min;
  // Clip the far tail so one preempted sample does not squash the picture.
  const hi = Math.max(r.stats.p99, lo * 1.0001 + 1e-9);
  const bins = 30;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < xs.length; i++) {
    const v = Math.min(xs[i]!, hi);
    counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]! += 1;
  }
  const maxC = Math.max(...counts);
  const pw = W - PAD.l - PAD.r;
  const ph = H - PAD.t - PAD.b;
  const x = (v: number): number => PAD.l + ((v - lo) / (hi - lo)) * pw;
  const bars = counts
    .map((c, i) => {
      const bh = maxC > 0 ? (c / maxC) * ph : 0;
      const from = lo + ((hi - lo) * i) / bins;
      return `<rect class="mark" x="${(PAD.l + (pw * i) / bins).toFixed(1)}" y="${(PAD.t + ph - bh).toFixed(1)}" width="${(pw / bins - 1).toFixed(1)}" height="${Math.max(bh, c > 0 ? 1 : 0).toFixed(1)}" fill="#4e79a7"><title>${escapeHtml(formatNs(from))}: ${c} samples</title></rect>`;
    })
    .join('');
  const med = x(Math.min(r.stats.median, hi));
  const ci = `<rect x="${x(Math.min(r.stats.ci95[0], hi)).toFixed(1)}" y="${PAD.t}" width="${Math.max(1, x(Math.min(r.stats.ci95[1], hi)) - x(Math.min(r.stats.ci95[0], hi))).toFixed(1)}" height="${ph}" fill="#f28e2b" opacity="0.25"/>`;
  return `<svg class="chart" data-kind="distribution" data-name="${escapeHtml(label)}" data-points="${xs.length}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(label)} distribution">
${ci}${bars}<line x1="${med.toFixed(1)}" x2="${med.toFixed(1)}" y1="${PAD.t}" y2="${PAD.t + ph}" stroke="#e15759" stroke-width="2"/>
<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${PAD.t + ph}" y2="${PAD.t + ph}" stroke="#555"/>
<text x="${PAD.l}" y="${H - 10}" font-size="11">${escapeHtml(formatNs(lo))}</text><text x="${W - PAD.r}" y="${H - 10}" font-size="11" text-anchor="end">${escapeHtml(formatNs(hi))} (p99)</text>
<text x="${med.toFixed(1)}" y="${PAD.t - 4}" font-size="11" text-anchor="middle">median ${escapeHtml(formatNs(r.stats.median))}</text></svg>`;
}

/** Horizontal ratio bars with CI whiskers and a reference line at 1×. */
function ratioSvg(s: SuiteResult): string {
  const entries = Object.entries(s.ratios);
  const rowH = 26;
  const h = PAD.t + PAD.b + rowH * entries.length;
  const maxR = Math.max(1.1, ...entries.map(([, r]) => r.ci95[1]).filter(Number.isFinite)) * 1.05;
  const pw = W - 160 - PAD.r;
  const x = (v: number): number => 160 + (Math.max(0, v) / maxR) * pw;
  const rows = entries
    .map(([v, r], i) => {
      const y = PAD.t + i * rowH;
      const bad = s.incomparable?.includes(v);
      return `<text x="152" y="${y + 16}" font-size="12" text-anchor="end">${escapeHtml(v)}</text>
<rect class="mark" x="160" y="${y + 4}" width="${Math.max(1, x(r.ratio) - 160).toFixed(1)}" height="${rowH - 8}" fill="${bad ? '#bab0ac' : v === s.baseline ? '#76b7b2' : '#4e79a7'}"><title>${escapeHtml(v)}: ${ratioText(r.ratio)} [${r.ci95[0].toFixed(3)}, ${r.ci95[1].toFixed(3)}]</title></rect>
<line x1="${x(r.ci95[0]).toFixed(1)}" x2="${x(r.ci95[1]).toFixed(1)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="#222" stroke-width="2"/>
<text x="${(x(r.ratio) + 4).toFixed(1)}" y="${y + 16}" font-size="11">${ratioText(r.ratio)}</text>`;
    })
    .join('');
  return `<svg class="chart" data-kind="ratios" data-name="${escapeHtml(s.name)}" data-points="${entries.length}" viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img" aria-label="${escapeHtml(s.name)} ratios">
${rows}<line x1="${x(1).toFixed(1)}" x2="${x(1).toFixed(1)}" y1="${PAD.t - 4}" y2="${h - PAD.b + 4}" stroke="#e15759" stroke-dasharray="4 3"/>
<text x="${x(1).toFixed(1)}" y="${h - 8}" font-size="11" text-anchor="middle">1× (${escapeHtml(s.baseline)})</text></svg>`;
}

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** Median of each benchmark across saved runs (x: run, y: median normalised to its first run). */
function trendSvg(history: readonly Baseline[]): string | undefined {
  const runs = [...history].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.benchmarks)))].slice(
    0,
    PALETTE.length,
  );
  if (runs.length === 0 || names.length === 0) return undefined;
  const series = names.map((n) => {
    const pts = runs
      .map((r, i) => ({ i, v: r.benchmarks[n]?.stats.median }))
      .filter((p): p is { i: number; v: number } => p.v !== undefined);
    const first = pts[0]?.v ?? 1;
    return { n, pts: pts.map((p) => ({ i: p.i, rel: p.v / first, v: p.v })) };
  });
  const rels = series.flatMap((s) => s.pts.map((p) => p.rel));
  const lo = Math.min(0.9, ...rels);
  const hi = Math.max(1.1, ...rels);
  const pw = W - PAD.l - PAD.r;
  const ph = H - PAD.t - PAD.b;
  const x = (i: number): number =>
    PAD.l + (runs.length === 1 ? pw / 2 : (i / (runs.length - 1)) * pw);
  const y = (v: number): number => PAD.t + ph - ((v - lo) / (hi - lo)) * ph;
  let npts = 0;
  const body = series
    .map((s, k) => {
      const c = PALETTE[k % PALETTE.length]!;
      npts += s.pts.length;
      const line =
        s.pts.length > 1
          ? `<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.pts.map((p) => `${x(p.i).toFixed(1)},${y(p.rel).toFixed(1)}`).join(' ')}"/>`
          : '';
      const dots = s.pts
        .map(
          (p) =>
            `<circle class="mark" cx="${x(p.i).toFixed(1)}" cy="${y(p.rel).toFixed(1)}" r="4" fill="${c}"><title>${escapeHtml(s.n)} @ ${escapeHtml(runs[p.i]!.createdAt)}: ${escapeHtml(formatNs(p.v))}</title></circle>`,
        )
        .join('');
      return line + dots;
    })
    .join('');
  const legend = series
    .map(
      (s, k) =>
        `<span class="key"><i style="background:${PALETTE[k % PALETTE.length]}"></i>${escapeHtml(s.n)}</span>`,
    )
    .join(' ');
  const axis = `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(1).toFixed(1)}" y2="${y(1).toFixed(1)}" stroke="#999" stroke-dasharray="4 3"/>
<text x="${PAD.l - 6}" y="${(y(1) + 4).toFixed(1)}" font-size="11" text-anchor="end">1.00×</text>
<text x="${PAD.l - 6}" y="${PAD.t + 10}" font-size="11" text-anchor="end">${hi.toFixed(2)}×</text>
<text x="${PAD.l - 6}" y="${PAD.t + ph}" font-size="11" text-anchor="end">${lo.toFixed(2)}×</text>
<text x="${PAD.l}" y="${H - 8}" font-size="11">${escapeHtml(runs[0]!.createdAt.slice(0, 16))}</text>
<text x="${W - PAD.r}" y="${H - 8}" font-size="11" text-anchor="end">${escapeHtml(runs[runs.length - 1]!.createdAt.slice(0, 16))}</text>`;
  return `<svg class="chart" data-kind="trend" data-points="${npts}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="trend across saved runs">${axis}${body}</svg><p class="legend">${legend}</p>`;
}

/**
 * A self-contained HTML report (inline CSS and SVG, no scripts, no network): summary tables, a
 * distribution chart per benchmark, ratio bars per suite and, with `history`, a trend across
 * saved runs. Every chart is an `<svg class="chart">` whose `data-points` counts its data.
 */
export function renderHtml(input: ReportInput): string {
  const title = input.title ?? 'Benchmark report';
  const sections: string[] = [];
  if (input.fingerprint)
    sections.push(
      `<p class="machine">Machine: ${escapeHtml(fingerprintText(input.fingerprint))}</p>`,
    );
  for (const t of tables(input)) {
    const head = t.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
    const rows = t.rows
      .map(
        (r, i) =>
          `<tr${t.tone?.[i] ? ` class="${t.tone[i]}"` : ''}>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`,
      )
      .join('\n');
    sections.push(
      `<h2>${escapeHtml(t.title)}</h2><table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`,
    );
  }
  const dists: string[] = [];
  for (const r of input.results ?? [])
    dists.push(
      `<figure>${distributionSvg(r, r.name)}<figcaption>${escapeHtml(r.name)}</figcaption></figure>`,
    );
  for (const s of input.suites ?? []) {
    sections.push(
      `<h2>Ratios: ${escapeHtml(s.name)}</h2><figure>${ratioSvg(s)}<figcaption>median(variant) / median(${escapeHtml(s.baseline)}), bars with 95% CI whiskers</figcaption></figure>`,
    );
    for (const [v, r] of Object.entries(s.results)) {
      dists.push(
        `<figure>${distributionSvg(r, `${s.name}/${v}`)}<figcaption>${escapeHtml(`${s.name}/${v}`)}</figcaption></figure>`,
      );
    }
  }
  if (dists.length > 0)
    sections.push(
      `<h2>Distributions</h2><p>ns per call; red line: median, shaded: its 95% CI; samples above p99 are clipped to it.</p><div class="grid">${dists.join('\n')}</div>`,
    );
  if (input.history !== undefined) {
    const trend = trendSvg(input.history);
    sections.push(
      trend
        ? `<h2>Trend across saved runs</h2><p>Median of each benchmark relative to its first saved run (${input.history.length} runs).</p>${trend}`
        : '<h2>Trend across saved runs</h2><p>No saved runs yet.</p>',
    );
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f4f4f4}tr.red td{color:#b00}tr.green td{color:#070}tr.yellow td{color:#a60}tr.gray td{color:#666}
.grid{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;color:#555}
.legend .key{margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
svg text{fill:#333;font-family:system-ui,sans-serif}
</style></head>
<body><h1>${escapeHtml(title)}</h1>
${sections.join('\n')}
</body></html>
`;
}
