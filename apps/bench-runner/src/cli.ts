import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '@peaktrade/config';
import { compareToBaseline, fingerprintDiff, readBaseline, toBaseline } from './baseline.js';
import { discoverSuites, findWorkspaceRoot, matchesFilter } from './discover.js';
import { evaluate, gatingFailures } from './evaluate.js';
import { machineInfo } from './machine.js';
import { createProgress } from './progress.js';
import { consoleReport, markdownReport, type RunReport } from './report.js';
import { writeHtmlReport } from './html.js';
import { runStress } from './stress.js';
import { detectRedis, runSuites } from './run.js';
import { targets as defaultTargets, type Target } from './targets.js';

export const HELP = `peaktrade-bench — run every @peaktrade benchmark, check the targets, write reports

Usage:
  peaktrade-bench run [options]
  peaktrade-bench --help

Options:
  --filter <glob>          only suites whose package or name matches (comma-separated globs)
  --quick                  small time budgets (the CI performance gate; about a minute)
  --report                 write markdown, JSON and HTML into reports/ and regenerate
                           docs/performance_benchmarks.md
  --stress                 also run the bounded stress tests
  --all                    full budgets + --stress + --report
  --json <file>            write the JSON results to <file>
  --compare <file>         compare with a saved baseline (refuses another machine unless --force)
  --force                  compare even when the machine fingerprint differs
  --save-baseline <name>   save this run as reports/baselines/<name>.json
  --targets <module>       use another targets module (default export: Target[])
  --packages-dir <dir>     discover suites in <dir>/<pkg>/bench/ (default: packages/)
  --report-dir <dir>       where --report writes (default: [performance.bench] report_dir)
  --docs <file>            the regenerated benchmarks page (default: docs/performance_benchmarks.md)
  --help                   this text

Examples:
  pnpm bench                                  # every suite, targets table
  pnpm bench --quick                          # the CI gate
  pnpm bench --filter 'cache-*' --report      # cache suites, with reports
  pnpm bench --save-baseline main             # remember this run
  pnpm bench --compare reports/baselines/main.json

Exit codes: 0 every gating target met; 1 a gating target missed or a suite failed;
2 bad arguments or a refused comparison.
`;

/** The run as JSON: the raw samples go to the HTML report, not here. */
function toJson(report: RunReport): string {
  return JSON.stringify(
    { ...report, suites: report.suites.map(({ raw: _raw, ...rest }) => rest) },
    null,
    2,
  );
}

/** Parse argv and run. Resolves the process exit code. */
export async function main(argv: readonly string[], cwd = process.cwd()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        filter: { type: 'string' },
        quick: { type: 'boolean', default: false },
        report: { type: 'boolean', default: false },
        stress: { type: 'boolean', default: false },
        all: { type: 'boolean', default: false },
        json: { type: 'string' },
        compare: { type: 'string' },
        force: { type: 'boolean', default: false },
        'save-baseline': { type: 'string' },
        targets: { type: 'string' },
        'packages-dir': { type: 'string' },
        'report-dir': { type: 'string' },
        docs: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const command = positionals[0] ?? 'run';
  if (command !== 'run' || positionals.length > 1) {
    process.stderr.write(`Unknown command: ${positionals.join(' ')}\n\n${HELP}`);
    return 2;
  }
  const all = values.all;
  const quick = values.quick && !all;
  const stress = values.stress || all;
  const wantReport = values.report || all;

  const root = findWorkspaceRoot(cwd);
  const config = loadConfig({ cwd: root });
  const bench = config.performance.bench;
  const timeMs = quick ? bench.quick_time_ms : bench.time_ms;
  const redisUrl = config.performance.cache.l2_enabled
    ? await detectRedis(process.env.REDIS_URL ?? config.performance.cache.redis_url)
    : undefined;

  let targets: readonly Target[] = defaultTargets;
  if (values.targets) {
    const file = isAbsolute(values.targets) ? values.targets : resolve(cwd, values.targets);
    const mod = (await import(pathToFileURL(file).href)) as { default?: readonly Target[] };
    if (!Array.isArray(mod.default)) {
      process.stderr.write(
        `--targets ${values.targets}: the module must default-export an array of targets\n`,
      );
      return 2;
    }
    targets = mod.default;
  }
  const baseline = values.compare ? readBaseline(resolve(cwd, values.compare)) : undefined;
  const machine = machineInfo();
  if (baseline) {
    const diff = fingerprintDiff(baseline, machine);
    if (diff.length > 0 && !values.force) {
      process.stderr.write(
        `Refusing to compare with ${values.compare}: it was measured on another machine (${diff
          .map((f) => `${f}: ${String(baseline.machine[f])} vs ${String(machine[f])}`)
          .join('; ')}). Pass --force to compare anyway.\n`,
      );
      return 2;
    }
  }

  const packagesDir = values['packages-dir'] ? resolve(cwd, values['packages-dir']) : undefined;
  const files = discoverSuites(root, packagesDir).filter((f) =>
    matchesFilter(values.filter, f.pkg, f.relative),
  );
  if (files.length === 0) {
    process.stderr.write(
      `No bench suites matched${values.filter ? ` --filter ${values.filter}` : ''}.\n`,
    );
    return 2;
  }
  process.stderr.write(
    `peaktrade-bench: ${files.length} suites, ${timeMs} ms per benchmark${quick ? ' (quick)' : ''}, Redis ${redisUrl ? `at ${redisUrl}` : 'not available: L2 suites will be skipped'}\n`,
  );

  const started = performance.now();
  const progress = createProgress();
  const suites = await runSuites(
    files,
    { quick, stress, timeMs, redisUrl, suiteTimeoutMs: quick ? 120_000 : 600_000 },
    progress,
  );
  const stressResults = stress
    ? await runStress({ redisUrl, quick, log: (m) => progress.log('stress', m), tmpRoot: root })
    : [];
  progress.close();
  // With --filter, targets of packages that did not run are out of scope, not missing.
  const inScope = values.filter
    ? targets.filter((t) => files.some((f) => t.measurement.startsWith(`${f.pkg}.`)))
    : targets;
  const results = evaluate(inScope, suites);
  const failures = gatingFailures(results, suites);
  for (const s of stressResults) if (!s.ok) failures.push(`stress ${s.name}: ${s.detail}`);
  const report: RunReport = {
    schema: 1,
    machine,
    mode: { quick, stress, timeMs, redis: redisUrl !== undefined },
    suites,
    targets: results,
    stress: stressResults,
    failures,
    durationMs: performance.now() - started,
  };
  process.stdout.write(
    `${consoleReport(report, process.stdout.isTTY === true && !process.env.CI)}\n`,
  );

  const measurements = suites.flatMap((s) => s.measurements);
  if (baseline) {
    const rows = compareToBaseline(baseline, measurements, targets);
    process.stdout.write(`\nCompared with baseline "${baseline.name}" (${baseline.savedAt}):\n`);
    for (const c of rows) {
      process.stdout.write(
        `  ${c.verdict.padEnd(9)} ${c.id}  ${c.before.toPrecision(4)} -> ${c.after.toPrecision(4)} ${c.unit}  (×${c.ratio.toFixed(3)})\n`,
      );
    }
  }
  const written: string[] = [];
  const write = (file: string, text: string) => {
    mkdirSync(resolve(file, '..'), { recursive: true });
    writeFileSync(file, text);
    written.push(relative(cwd, file) || file);
  };
  if (values.json) write(resolve(cwd, values.json), toJson(report));
  if (values['save-baseline']) {
    write(
      join(root, bench.report_dir, 'baselines', `${values['save-baseline']}.json`),
      JSON.stringify(toBaseline(values['save-baseline'], machine, measurements), null, 2),
    );
  }
  if (wantReport) {
    const dir = values['report-dir']
      ? resolve(cwd, values['report-dir'])
      : join(root, bench.report_dir);
    const stamp = machine.date.replace(/[:.]/g, '-');
    write(join(dir, `bench-${stamp}.md`), markdownReport(report));
    write(join(dir, `bench-${stamp}.json`), toJson(report));
    const html = await writeHtmlReport(
      report,
      join(dir, `bench-${stamp}.html`),
      join(dir, 'history'),
    );
    written.push(relative(cwd, html) || html);
    write(
      values.docs ? resolve(cwd, values.docs) : join(root, 'docs', 'performance_benchmarks.md'),
      markdownReport(report, 'Performance benchmarks'),
    );
  }
  for (const file of written) process.stdout.write(`wrote ${file}\n`);
  return failures.length > 0 ? 1 : 0;
}
