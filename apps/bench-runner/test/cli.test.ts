import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
// Not a dependency of this app: imported by path for its private redis-server helper.

const appDir = fileURLToPath(new URL('..', import.meta.url));
const bin = join(appDir, 'bin', 'peaktrade-bench.js');

function bench(args: string[], env: Record<string, string> = {}, cwd = appDir) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    // No Redis for these runs: a closed port stands in for "nothing answers".
    env: { ...process.env, CI: 'true', REDIS_URL: 'redis://127.0.0.1:1', ...env },
    timeout: 120_000,
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

// Each bench() call is a fresh CLI run that measures for real: a few seconds on a quiet machine,
// 15 s or more on a loaded one, so tests get room per run; bench()'s own 120 s timeout still
// ends a hung one.
const RUN_MS = 150_000;

const demoOnly = [
  'run',
  '--packages-dir',
  'test/fixtures/packages',
  '--filter',
  'demo,needs-redis',
];
/** The demo suite alone, against targets it always meets. */
const demoEasy = [
  'run',
  '--packages-dir',
  'test/fixtures/packages',
  '--filter',
  'demo',
  '--targets',
  'test/fixtures/easy-targets.mjs',
];

describe('peaktrade-bench', { timeout: RUN_MS }, () => {
  it('prints help with examples', () => {
    const { code, out } = bench(['--help']);
    expect(code).toBe(0);
    expect(out).toContain('--compare <file>');
    expect(out).toContain('Examples:');
  });

  it('rejects an unknown option with exit code 2', () => {
    const { code, err } = bench(['run', '--frobnicate']);
    expect(code).toBe(2);
    expect(err).toContain('frobnicate');
  });

  it('exits 1 and names the reason when a gating target is missed', () => {
    const { code, out } = bench([...demoOnly, '--targets', 'test/fixtures/impossible-targets.mjs']);
    expect(code).toBe(1);
    expect(out).toContain('Gate FAILED');
    expect(out).toMatch(/Impossible fixture loop.*achieved .* needed < 0 ns/);
  });

  it('exits 0 when gating targets pass, a tracked miss is reported, and Redis suites are skipped with the reason', () => {
    const { code, out, err } = bench([...demoOnly, '--targets', 'test/fixtures/easy-targets.mjs']);
    expect(code).toBe(0);
    expect(out).toMatch(/Fixture loop under a minute\s.*PASS\s+gating/);
    expect(out).toMatch(/Tracked constant above 100\s.*FAIL\s+tracked/);
    expect(out).toMatch(/Redis-only figure\s.*SKIP/);
    expect(out).toContain('skipped suite needs-redis: needs Redis');
    // Plain progress lines in CI.
    expect(err).toMatch(/\[1\/\d\] demo: running/);
  });

  it('fails the run when a suite throws, naming the suite and its error', () => {
    const { code, out } = bench([
      'run',
      '--packages-dir',
      'test/fixtures/packages',
      '--filter',
      'demo,broken',
      '--targets',
      'test/fixtures/easy-targets.mjs',
    ]);
    expect(code).toBe(1);
    expect(out).toContain('suite broken');
    expect(out).toContain('fixture suite exploded on purpose');
    // The cause says why (a harness BenchFunctionError only says which benchmark threw).
    expect(out).toContain('caused by Error: the fixture cause: a disk that is not there');
  });

  it('refuses bad arguments with exit code 2 and a message naming the option, never a stack trace', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'pt-args-'));
    const corrupt = join(tmp, 'corrupt.json');
    writeFileSync(corrupt, '{ "schema": 1, "name": ');
    // Outside every repository folder, should a traversing name get through.
    const escape = `../../../../../../../../../../tmp/pt-escape-${process.pid}`;
    // Each case would run the fixture suites if the check were missing, never the real ones,
    // and never write into the repository (reports and docs are pointed at the temp folder).
    const fixtures = ['run', '--packages-dir', 'test/fixtures/packages'];
    const easy = ['--targets', 'test/fixtures/easy-targets.mjs'];
    const cases: [string[], RegExp][] = [
      [[...fixtures, ...easy, '--filter', 'demo', '--json='], /--json needs a file path/],
      [[...fixtures, ...easy, '--filter='], /--filter needs one or more globs/],
      [[...fixtures, ...easy, '--filter', ' , '], /--filter " , " holds no glob/],
      [[...fixtures, ...easy, '--filter', 'demo', '--compare='], /--compare needs a baseline file/],
      [
        [...fixtures, ...easy, '--filter', 'demo', '--save-baseline', escape],
        /--save-baseline ".*": a baseline name is a plain file name/,
      ],
      [
        [
          ...fixtures,
          ...easy,
          '--filter',
          'demo',
          '--quick',
          '--all',
          '--report-dir',
          tmp,
          '--docs',
          join(tmp, 'docs.md'),
        ],
        /--quick and --all contradict each other/,
      ],
      [[...fixtures, ...easy, '--filter', 'demo', '--force'], /--force only applies to --compare/],
      [
        [...fixtures, ...easy, '--filter', 'demo', '--docs', join(tmp, 'docs.md')],
        /--docs has no effect without --report/,
      ],
      [[...fixtures, ...easy, '--filter', 'demo', '--json', tmp], /--json .*: that is a folder/],
      [
        [...fixtures, '--filter', 'demo', '--targets', 'test/fixtures/no-such-targets.mjs'],
        /--targets test\/fixtures\/no-such-targets\.mjs: no such file/,
      ],
      [
        [...fixtures, '--filter', 'demo', '--targets', 'test/fixtures/bad-targets.mjs'],
        /targets\[0\]\.gate: .*expected one of "gating"\|"tracked".*targets\[1\]\.op/,
      ],
      [
        [...fixtures, ...easy, '--filter', 'demo', '--compare', join(tmp, 'missing.json')],
        /--compare: Cannot read baseline .*missing\.json/,
      ],
      [
        [...fixtures, ...easy, '--filter', 'demo', '--compare', corrupt],
        /--compare: Cannot read baseline .*corrupt\.json/,
      ],
      [
        ['run', '--packages-dir', 'test/fixtures/no-such-folder'],
        /--packages-dir test\/fixtures\/no-such-folder: no such folder/,
      ],
      [
        [...fixtures, ...easy, '--filter', 'nothing-matches'],
        /No bench suites matched --filter nothing-matches \(suites: .*demo, demo\/harnessed/,
      ],
      [['run', 'extra'], /Unknown command: run extra/],
      [
        [
          ...fixtures,
          ...easy,
          '--filter',
          'demo',
          '--json',
          join(tmp, 'a.json'),
          '--json',
          join(tmp, 'b.json'),
        ],
        /--json was given more than once/,
      ],
    ];
    try {
      for (const [args, message] of cases) {
        const { code, err } = bench(args);
        // One object, so a failure shows the arguments and the whole stderr.
        expect({ args, code, stackTrace: /^\s+at /m.test(err), err }).toMatchObject({
          code: 2,
          stackTrace: false,
          err: expect.stringMatching(message),
        });
      }
      expect(existsSync(`/tmp/pt-escape-${process.pid}.json`)).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(`/tmp/pt-escape-${process.pid}.json`, { force: true });
    }
  });

  it('--filter picks a suite by its file name, checks its targets and leaves out those of suites that did not run', () => {
    // The demo folder holds two suites: demo.bench.ts and harnessed.bench.ts. Only the second runs.
    const { code, out } = bench([
      'run',
      '--packages-dir',
      'test/fixtures/packages',
      '--filter',
      'harnessed',
      '--targets',
      'test/fixtures/harnessed-targets.mjs',
    ]);
    expect(out).toMatch(/Harnessed loop under a minute\s.*PASS\s+gating/);
    expect(out).not.toContain('Fixture loop under a minute');
    expect(out).toContain('1/1 targets met');
    expect(code).toBe(0);
  });

  it('adds up repeated --filter options instead of keeping only the last', () => {
    const { code, err } = bench([
      'run',
      '--packages-dir',
      'test/fixtures/packages',
      '--filter',
      'harnessed',
      '--filter',
      'needs-redis',
      '--targets',
      'test/fixtures/easy-targets.mjs',
    ]);
    // One suite from each glob; before, the second --filter replaced the first (1 suite).
    expect(err).toContain('peaktrade-bench: 2 suites');
    expect(code).toBe(0);
  });

  it('fails a suite that returns malformed measurements instead of passing targets on them', () => {
    const { code, out } = bench([
      'run',
      '--packages-dir',
      'test/fixtures/packages',
      '--filter',
      'bad-values',
      '--targets',
      'test/fixtures/bad-values-targets.mjs',
    ]);
    expect(code).toBe(1);
    expect(out).toMatch(/Ratio given as text\s.*MISSING\s+gating/);
    expect(out).toContain('measurements[0] (bad-values.ratio): value must be a number, got "0.1"');
    expect(out).toContain('measurements[1] (bad-values.time): unit must be one of');
    // The well-formed measurement of the same suite is still checked.
    expect(out).toMatch(/Valid count\s.*PASS\s+gating/);
  });

  it('a file that cannot be written whole keeps its previous content, and the run says so and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pt-efbig-'));
    const file = join(dir, 'results.json');
    writeFileSync(file, '{"previous":true}\n');
    // A 1 KiB file-size limit: writing the JSON (several KiB) fails with EFBIG part-way, as a
    // full disk would. Only the parent writes files this large; the suites write none.
    const result = spawnSync(
      'bash',
      [
        '-c',
        'ulimit -f 1 && exec "$@"',
        'bash',
        process.execPath,
        bin,
        'run',
        '--packages-dir',
        'test/fixtures/packages',
        '--filter',
        '*demo.bench.ts',
        '--targets',
        'test/fixtures/easy-targets.mjs',
        '--json',
        file,
      ],
      {
        cwd: appDir,
        encoding: 'utf8',
        env: { ...process.env, CI: 'true', REDIS_URL: 'redis://127.0.0.1:1' },
        timeout: 120_000,
      },
    );
    try {
      expect(result.stdout).toMatch(/Fixture loop under a minute\s.*PASS/);
      expect(result.stderr).toMatch(/cannot write .*results\.json: .*EFBIG/);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.status).toBe(1);
      expect(readFileSync(file, 'utf8')).toBe('{"previous":true}\n');
      expect(readdirSync(dir)).toEqual(['results.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--report after --filter leaves the docs page alone unless --docs is given, and names unreadable history files', () => {
    // A workspace of its own, so the default docs/ and reports/ paths are not the repository's.
    const root = mkdtempSync(join(tmpdir(), 'pt-ws-'));
    writeFileSync(join(root, 'pnpm-workspace.yaml'), "packages: ['packages/*']\n");
    mkdirSync(join(root, 'docs'));
    writeFileSync(
      join(root, 'docs', 'performance_benchmarks.md'),
      '# every suite, from a full run\n',
    );
    mkdirSync(join(root, 'reports', 'history'), { recursive: true });
    writeFileSync(join(root, 'reports', 'history', 'run-damaged.json'), '{ "schema": ');
    try {
      const { code, out } = bench(
        [
          'run',
          '--packages-dir',
          join(appDir, 'test', 'fixtures', 'packages'),
          '--filter',
          'demo',
          '--targets',
          join(appDir, 'test', 'fixtures', 'easy-targets.mjs'),
          '--report',
        ],
        {},
        root,
      );
      expect(code).toBe(0);
      expect(readFileSync(join(root, 'docs', 'performance_benchmarks.md'), 'utf8')).toBe(
        '# every suite, from a full run\n',
      );
      expect(out).toContain('note: docs/performance_benchmarks.md left as it was');
      expect(out).toMatch(/note: left out of the HTML trend: .*run-damaged\.json: not valid JSON/);
      expect(readdirSync(join(root, 'reports')).some((f) => f.endsWith('.md'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('--report writes markdown, JSON and the harness HTML report with charts from the raw samples', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pt-report-'));
    const { code, out } = bench([
      ...demoEasy,
      '--report',
      '--report-dir',
      dir,
      '--docs',
      join(dir, 'benchmarks.md'),
    ]);
    expect(code).toBe(0);
    const files = readdirSync(dir);
    const html = files.find((f) => f.endsWith('.html'));
    const json = files.find((f) => f.endsWith('.json'));
    expect(files.some((f) => f.endsWith('.md') && f.startsWith('bench-'))).toBe(true);
    expect(html).toBeDefined();
    expect(out).toMatch(/wrote .*bench-.*\.html/);
    const page = readFileSync(join(dir, html!), 'utf8');
    expect(page).toContain('harnessed: fixture sum loop');
    expect(page).toContain('harnessed: fixture pair');
    expect(page).toContain('<svg');
    const report = JSON.parse(readFileSync(join(dir, json!), 'utf8'));
    expect(report.suites.map((s: { name: string }) => s.name)).toEqual(['demo', 'harnessed']);
    expect(report.suites.every((s: { raw?: unknown }) => s.raw === undefined)).toBe(true);
    // the machine line carries the memcpy alignment probe (slowest / fastest copy, so >= 1)
    expect(report.machine.memcpyPenalty).toBeGreaterThanOrEqual(1);
    const md = readFileSync(
      join(
        dir,
        files.find((f) => f.endsWith('.md') && f.startsWith('bench-'))!,
      ),
      'utf8',
    );
    expect(md).toContain(`memcpy alignment ${report.machine.memcpyPenalty}×`);
    expect(readFileSync(join(dir, 'benchmarks.md'), 'utf8')).toContain('# Performance benchmarks');
    rmSync(dir, { recursive: true, force: true });
  });

  it('--stress runs every bounded stress test end to end and states what each checked', () => {
    // The Redis-outage stress stalls only its own link to Redis (a relay in front of the server),
    // so it runs against the shared test server without stalling the other test files.
    const { code, out } = bench([...demoEasy, '--stress', '--quick'], {
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    });
    const held = out.split('\n').filter((l) => l.startsWith('stress held: '));
    expect(held.map((l) => l.split(' — ')[0])).toEqual(
      expect.arrayContaining([
        'stress held: getOrSet storm',
        'stress held: mixed load L1 + L3 (+ L2)',
        'stress held: worker-pool saturation',
        'stress held: memory soak',
        'stress held: Redis outage under load',
      ]),
    );
    expect(out).not.toContain('stress FAILED');
    expect(out).toContain('exactly one loader call');
    expect(out).toMatch(/Redis outage under load — .*[1-9]\d* Redis errors absorbed/);
    expect(code).toBe(0);
  }, 300_000);

  it(
    'saves a baseline, compares with it, and refuses another machine unless forced',
    () => {
      const name = `test-${process.pid}`;
      const file = join(appDir, '..', '..', 'reports', 'baselines', `${name}.json`);
      // Removed however the test ends: it lands in the repository's reports/ folder.
      onTestFinished(() => rmSync(file, { force: true }));
      const saved = bench([
        ...demoOnly,
        '--targets',
        'test/fixtures/easy-targets.mjs',
        '--save-baseline',
        name,
      ]);
      expect(saved.code).toBe(0);
      expect(existsSync(file)).toBe(true);
      const same = bench([
        ...demoOnly,
        '--targets',
        'test/fixtures/easy-targets.mjs',
        '--compare',
        file,
      ]);
      expect(same.code).toBe(0);
      expect(same.out).toMatch(/Compared with baseline/);
      expect(same.out).toMatch(/(unchanged|faster|slower|changed)\s+demo\.constant/);

      const other = JSON.parse(readFileSync(file, 'utf8'));
      other.machine.cpuModel = 'Imaginary CPU 9000';
      const otherFile = join(mkdtempSync(join(tmpdir(), 'pt-bl-')), 'other.json');
      writeFileSync(otherFile, JSON.stringify(other));
      const refused = bench([
        ...demoOnly,
        '--targets',
        'test/fixtures/easy-targets.mjs',
        '--compare',
        otherFile,
      ]);
      expect(refused.code).toBe(2);
      expect(refused.err).toContain('Refusing to compare');
      expect(refused.err).toContain('Imaginary CPU 9000');
      const forced = bench([
        ...demoOnly,
        '--targets',
        'test/fixtures/easy-targets.mjs',
        '--compare',
        otherFile,
        '--force',
      ]);
      expect(forced.code).toBe(0);
      expect(forced.out).toContain('Compared with baseline');
      expect(forced.err).toMatch(
        /Warning: comparing with .*measured on another machine \(cpuModel: /,
      );
    },
    4 * RUN_MS,
  );
});
