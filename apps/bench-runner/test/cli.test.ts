import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// Not a dependency of this app: imported by path for its private redis-server helper.

const appDir = fileURLToPath(new URL('..', import.meta.url));
const bin = join(appDir, 'bin', 'peaktrade-bench.js');

function bench(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: appDir,
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
      const saved = bench([
        ...demoOnly,
        '--targets',
        'test/fixtures/easy-targets.mjs',
        '--save-baseline',
        name,
      ]);
      expect(saved.code).toBe(0);
      const file = join(appDir, '..', '..', 'reports', 'baselines', `${name}.json`);
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
      rmSync(file);
    },
    4 * RUN_MS,
  );
});
