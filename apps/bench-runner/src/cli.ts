import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect, parseArgs } from 'node:util';
import { writeFileAtomic } from '@peaktrade/bench-harness';
import { loadConfig } from '@peaktrade/config';
import {
  compareToBaseline,
  fingerprintDiff,
  readBaseline,
  toBaseline,
  type Baseline,
} from './baseline.js';
import { discoverSuites, findWorkspaceRoot, matchesFilter } from './discover.js';
import { evaluate, gatingFailures, targetsInScope } from './evaluate.js';
import { machineInfo } from './machine.js';
import { createProgress } from './progress.js';
import { consoleReport, markdownReport, type RunReport } from './report.js';
import { writeHtmlReport } from './html.js';
import { runStress } from './stress.js';
import { detectRedis, runSuites } from './run.js';
import { parseTargets, targets as defaultTargets, type Target } from './targets.js';

export const HELP = `peaktrade-bench — run every @peaktrade benchmark, check the targets, write reports

Usage:
  peaktrade-bench run [options]
  peaktrade-bench --help

Options:
  --filter <glob>          only suites whose package folder, bench file name (harnessed for
                           harnessed.bench.ts) or path matches; comma-separated globs, * and ?.
                           Targets of suites left out are not checked. Matching nothing is an error.
  --quick                  small time budgets (the CI performance gate; about a minute)
  --report                 write markdown, JSON and HTML into reports/ and regenerate
                           docs/performance_benchmarks.md (after --filter only with --docs)
  --stress                 also run the bounded stress tests
  --all                    full budgets + --stress + --report (not with --quick)
  --json <file>            write the JSON results to <file>
  --compare <file>         compare with a saved baseline (refuses another machine unless --force)
  --force                  with --compare: compare even when the machine fingerprint differs
  --save-baseline <name>   save this run as reports/baselines/<name>.json
                           (name: letters, digits, '.', '_', '-')
  --targets <module>       use another targets module (default export: Target[])
  --packages-dir <dir>     discover suites in <dir>/<pkg>/bench/ (default: packages/)
  --report-dir <dir>       with --report: where it writes (default: [performance.bench] report_dir)
  --docs <file>            with --report: the regenerated benchmarks page
                           (default: docs/performance_benchmarks.md)
  -h, --help               this text

Examples:
  pnpm bench                                  # every suite, targets table
  pnpm bench --quick                          # the CI gate
  pnpm bench --filter 'cache-*' --report      # cache suites, with reports
  pnpm bench --save-baseline main             # remember this run
  pnpm bench --compare reports/baselines/main.json

Exit codes: 0 every gating target met; 1 a gating target missed, a suite failed or a file could
not be written; 2 bad arguments, an unreadable --targets or --compare file, or a refused comparison.
`;

/** The run as JSON: the raw samples go to the HTML report, not here. */
function toJson(report: RunReport): string {
  return JSON.stringify(
    { ...report, suites: report.suites.map(({ raw: _raw, ...rest }) => rest) },
    null,
    2,
  );
}

/** A mistake in how the runner was called: reported without a stack, exit code 2. */
class UsageError extends Error {
  constructor(
    message: string,
    /** Print the whole help text after the message (argument syntax errors). */
    readonly withHelp = false,
  ) {
    super(message);
  }
}

/** One line naming an error and its causes, for messages (no stack). */
function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : inspect(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ');
}

/** Options that take a value, and what the value must be (for the error when it is empty). */
const VALUE_OPTIONS = {
  filter: 'one or more globs',
  json: 'a file path',
  compare: 'a baseline file',
  'save-baseline': 'a baseline name',
  targets: 'a module path',
  'packages-dir': 'a folder',
  'report-dir': 'a folder',
  docs: 'a file path',
} as const;

function parseCli(argv: readonly string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      tokens: true,
      options: {
        filter: { type: 'string', multiple: true },
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
    throw new UsageError((error as Error).message, true);
  }
  // parseArgs keeps only the last of a repeated option: `--json a --json b` would silently drop
  // `a`. Repeated --filter globs add up (as a comma-separated list would); any other repeat is an error.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || token.name === 'filter') continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} was given more than once`);
    seen.add(token.name);
  }
  const { filter, ...rest } = parsed.values;
  return {
    positionals: parsed.positionals,
    values: { ...rest, filter: filter === undefined ? undefined : filter.join(',') },
  };
}

type CliValues = ReturnType<typeof parseCli>['values'];

/** Reject empty values, contradictions and options that would have no effect. */
function checkValues(values: CliValues): void {
  for (const [name, what] of Object.entries(VALUE_OPTIONS)) {
    const value = values[name as keyof typeof VALUE_OPTIONS];
    if (value !== undefined && value.trim() === '')
      throw new UsageError(`--${name} needs ${what}; it was given an empty value`);
  }
  if (values.filter !== undefined && values.filter.split(',').every((g) => g.trim() === ''))
    throw new UsageError(`--filter ${JSON.stringify(values.filter)} holds no glob`);
  const name = values['save-baseline'];
  if (name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new UsageError(
      `--save-baseline ${JSON.stringify(name)}: a baseline name is a plain file name (letters, digits, '.', '_', '-'; not starting with '.'), saved as reports/baselines/<name>.json`,
    );
  }
  if (values.quick && values.all) {
    throw new UsageError(
      '--quick and --all contradict each other: --all runs the full time budgets; for a quick run with everything, use --quick --stress --report',
    );
  }
  if (values.force && values.compare === undefined)
    throw new UsageError('--force only applies to --compare, which was not given');
  for (const option of ['report-dir', 'docs'] as const) {
    if (values[option] !== undefined && !values.report && !values.all)
      throw new UsageError(`--${option} has no effect without --report (or --all)`);
  }
}

/** Fail early, before minutes of measuring, on an output path that is a folder. */
function checkOutputFile(option: string, file: string | undefined, cwd: string): void {
  if (file === undefined) return;
  const path = resolve(cwd, file);
  if (existsSync(path) && statSync(path).isDirectory())
    throw new UsageError(`--${option} ${file}: that is a folder; give a file path`);
}

async function loadTargets(file: string, cwd: string): Promise<Target[]> {
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  if (!existsSync(path)) throw new UsageError(`--targets ${file}: no such file (${path})`);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new UsageError(`--targets ${file}: cannot load the module: ${describeError(error)}`);
  }
  if (!Array.isArray(mod.default))
    throw new UsageError(`--targets ${file}: the module must default-export an array of targets`);
  try {
    return parseTargets(mod.default);
  } catch (error) {
    throw new UsageError(`--targets ${file}: ${(error as Error).message}`);
  }
}

/** Parse argv and run. Resolves the process exit code; never rejects. */
export async function main(argv: readonly string[], cwd = process.cwd()): Promise<number> {
  try {
    return await runCli(argv, cwd);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(
        `peaktrade-bench: ${error.message}\n${error.withHelp ? `\n${HELP}` : 'Run peaktrade-bench --help for the options.\n'}`,
      );
      return 2;
    }
    process.stderr.write(`peaktrade-bench: ${describeError(error)}\n`);
    return 1;
  }
}

async function runCli(argv: readonly string[], cwd: string): Promise<number> {
  const { values, positionals } = parseCli(argv);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const command = positionals[0] ?? 'run';
  if (command !== 'run' || positionals.length > 1)
    throw new UsageError(`Unknown command: ${positionals.join(' ')}`, true);
  checkValues(values);
  const all = values.all;
  const quick = values.quick;
  const stress = values.stress || all;
  const wantReport = values.report || all;

  let root: string;
  try {
    root = findWorkspaceRoot(cwd);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const packagesDir = values['packages-dir'] ? resolve(cwd, values['packages-dir']) : undefined;
  if (
    packagesDir !== undefined &&
    !(existsSync(packagesDir) && statSync(packagesDir).isDirectory())
  )
    throw new UsageError(
      `--packages-dir ${values['packages-dir']}: no such folder (${packagesDir})`,
    );
  checkOutputFile('json', values.json, cwd);
  checkOutputFile('docs', values.docs, cwd);
  const targets: readonly Target[] = values.targets
    ? await loadTargets(values.targets, cwd)
    : defaultTargets;
  let baseline: Baseline | undefined;
  if (values.compare) {
    try {
      baseline = readBaseline(resolve(cwd, values.compare));
    } catch (error) {
      throw new UsageError(`--compare: ${(error as Error).message}`);
    }
  }
  const machine = machineInfo();
  if (baseline) {
    const diff = fingerprintDiff(baseline, machine);
    const what = diff
      .map((f) => `${f}: ${String(baseline.machine[f])} vs ${String(machine[f])}`)
      .join('; ');
    if (diff.length > 0 && !values.force) {
      process.stderr.write(
        `Refusing to compare with ${values.compare}: it was measured on another machine (${what}). Pass --force to compare anyway.\n`,
      );
      return 2;
    }
    if (diff.length > 0) {
      process.stderr.write(
        `Warning: comparing with ${values.compare}, measured on another machine (${what}); differences may come from the machine, not the code.\n`,
      );
    }
  }

  const discovered = discoverSuites(root, packagesDir);
  if (discovered.length === 0) {
    throw new UsageError(
      `No bench suites found in ${packagesDir ?? join(root, 'packages')} (looked for <pkg>/bench/*.bench.ts)`,
    );
  }
  const files = discovered.filter((f) => matchesFilter(values.filter, f.pkg, f.stem, f.relative));
  if (files.length === 0) {
    throw new UsageError(
      `No bench suites matched --filter ${values.filter ?? ''} (suites: ${discovered
        .map((f) => (f.stem === f.pkg ? f.pkg : `${f.pkg}/${f.stem}`))
        .join(', ')})`,
    );
  }

  const config = loadConfig({ cwd: root });
  const bench = config.performance.bench;
  const timeMs = quick ? bench.quick_time_ms : bench.time_ms;
  const redisUrl = config.performance.cache.l2_enabled
    ? await detectRedis(process.env.REDIS_URL ?? config.performance.cache.redis_url)
    : undefined;
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
  // With --filter, targets of suites that did not run are out of scope, not missing.
  const inScope = values.filter ? targetsInScope(targets, suites) : targets;
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
      const ratio = Number.isNaN(c.ratio)
        ? 'no ratio: a value is not positive'
        : `×${c.ratio.toFixed(3)}`;
      process.stdout.write(
        `  ${c.verdict.padEnd(12)} ${c.id}  ${c.before.toPrecision(4)} -> ${c.after.toPrecision(4)} ${c.unit}  (${ratio})\n`,
      );
    }
  }
  const written: string[] = [];
  const writeErrors: string[] = [];
  const shown = (file: string) => relative(cwd, file) || file;
  // Each file is replaced whole or not at all; one that cannot be written does not stop the rest.
  const write = (file: string, text: string) => {
    try {
      writeFileAtomic(file, text);
      written.push(shown(file));
    } catch (error) {
      writeErrors.push(`cannot write ${shown(file)}: ${describeError(error)}`);
    }
  };
  if (values.json) write(resolve(cwd, values.json), toJson(report));
  if (values['save-baseline']) {
    write(
      join(root, bench.report_dir, 'baselines', `${values['save-baseline']}.json`),
      JSON.stringify(toBaseline(values['save-baseline'], machine, measurements), null, 2),
    );
  }
  const notes: string[] = [];
  if (wantReport) {
    const dir = values['report-dir']
      ? resolve(cwd, values['report-dir'])
      : join(root, bench.report_dir);
    const stamp = machine.date.replace(/[:.]/g, '-');
    write(join(dir, `bench-${stamp}.md`), markdownReport(report));
    write(join(dir, `bench-${stamp}.json`), toJson(report));
    const htmlFile = join(dir, `bench-${stamp}.html`);
    try {
      const html = await writeHtmlReport(report, htmlFile, join(dir, 'history'));
      written.push(shown(html.file));
      for (const why of html.skippedHistory) notes.push(`left out of the HTML trend: ${why}`);
    } catch (error) {
      writeErrors.push(`cannot write ${shown(htmlFile)}: ${describeError(error)}`);
    }
    // A filtered run covers some suites only: its page would replace the whole benchmarks page.
    if (values.docs)
      write(resolve(cwd, values.docs), markdownReport(report, 'Performance benchmarks'));
    else if (values.filter)
      notes.push(
        'docs/performance_benchmarks.md left as it was: a --filter run covers only some suites (pass --docs <file> to write its page)',
      );
    else
      write(
        join(root, 'docs', 'performance_benchmarks.md'),
        markdownReport(report, 'Performance benchmarks'),
      );
  }
  for (const file of written) process.stdout.write(`wrote ${file}\n`);
  for (const note of notes) process.stdout.write(`note: ${note}\n`);
  for (const problem of writeErrors) process.stderr.write(`peaktrade-bench: ${problem}\n`);
  return failures.length > 0 || writeErrors.length > 0 ? 1 : 0;
}
