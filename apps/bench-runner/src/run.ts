import { fork } from 'node:child_process';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Measurement, RecordedResult } from '@peaktrade/bench-harness';
import type { SuiteFile } from './discover.js';
import type { SuiteOutcome } from './evaluate.js';
import type { ProgressDisplay } from './progress.js';
import { checkMeasurements } from './measurements.js';
import type { ChildMessage, ChildSettings } from './suite-child.js';

/** Options shared by every suite of a run. */
export interface RunSettings {
  readonly quick: boolean;
  readonly stress: boolean;
  readonly timeMs: number;
  readonly redisUrl: string | undefined;
  /** A suite still running after this many milliseconds is killed and reported as failed. */
  readonly suiteTimeoutMs: number;
}

const childScript = fileURLToPath(new URL('./suite-child.js', import.meta.url));
// Resolved here, so the children find tsx wherever the runner is started from. Only tsx's ESM
// hooks: bench files are ES modules. With its CommonJS hooks loaded as well (plain `tsx`), a
// script decoding 1M bars of a columnar file in memory took 35–50 ms, against 29–35 ms with
// `tsx/esm` and 30–34 ms in plain node (four alternating rounds, 2-vCPU AMD EPYC VM, 2026-11-27;
// cause unknown). The benchmark's own 1M-bar figure did not move in the one run after the change.
const tsxLoader = import.meta.resolve('tsx/esm');

/** Run each suite file in its own child process, one after another (benchmarks must not overlap). */
export async function runSuites(
  files: readonly SuiteFile[],
  settings: RunSettings,
  progress: ProgressDisplay,
): Promise<SuiteOutcome[]> {
  const outcomes: SuiteOutcome[] = [];
  for (const [index, file] of files.entries()) {
    progress.start(index + 1, files.length, file.pkg);
    const outcome = await runOne(file, settings, progress);
    progress.finish(outcome);
    outcomes.push(outcome);
  }
  return outcomes;
}

function runOne(
  file: SuiteFile,
  settings: RunSettings,
  progress: ProgressDisplay,
): Promise<SuiteOutcome> {
  const started = performance.now();
  const childSettings: ChildSettings = {
    file: file.file,
    quick: settings.quick,
    stress: settings.stress,
    timeMs: settings.timeMs,
    redisUrl: settings.redisUrl,
  };
  return new Promise((resolve) => {
    let name = file.pkg;
    let requires: readonly string[] = [];
    let measurements: readonly Measurement[] | undefined;
    let raw: readonly RecordedResult[] = [];
    let error: string | undefined;
    let stderr = '';
    const child = fork(childScript, [JSON.stringify(childSettings)], {
      // No --expose-gc: with it the harness profiles every GC during timing, which slows
      // allocation-heavy benchmarks by 10-20%. Memory figures use measureMemory() instead.
      execArgv: ['--import', tsxLoader],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      // Structured clone over IPC, so Float64Array samples arrive as they are.
      serialization: 'advanced',
      env: { ...process.env, NODE_ENV: 'production' },
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const timer = setTimeout(() => {
      error = `timed out after ${settings.suiteTimeoutMs} ms`;
      child.kill('SIGKILL');
    }, settings.suiteTimeoutMs);
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'meta') {
        name = message.name;
        requires = message.requires;
      } else if (message.type === 'log') progress.log(name, message.message);
      else if (message.type === 'done') {
        // Checked here, not trusted: a bench file is plain JavaScript at run time.
        const checked = checkMeasurements(message.measurements);
        measurements = checked.measurements;
        if (checked.problems.length > 0)
          error = `returned invalid measurements: ${checked.problems.join(' | ')}`;
        raw = message.raw;
      } else error = message.message;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const durationMs = performance.now() - started;
      const base = { name, pkg: file.pkg, file: file.relative, durationMs };
      if (error === undefined && measurements !== undefined) {
        const missing = requires.filter((service) => service === 'redis' && !settings.redisUrl);
        if (missing.length > 0) {
          resolve({
            ...base,
            status: 'skipped',
            reason:
              'needs Redis: none answered (set REDIS_URL or start redis-server on 127.0.0.1:6379)',
            measurements: [],
          });
        } else resolve({ ...base, status: 'ok', measurements, raw });
        return;
      }
      const why =
        error ??
        `exited with ${signal ?? `code ${code}`} before reporting${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
      resolve({
        ...base,
        status: 'error',
        reason: why.split('\n')[0] ?? why,
        measurements: measurements ?? [],
      });
    });
  });
}

/** Resolve the Redis URL to use, or undefined when nothing answers a PING within `timeoutMs`. */
export async function detectRedis(url: string, timeoutMs = 500): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const port = Number(parsed.port || 6379);
  const host = parsed.hostname || '127.0.0.1';
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok ? url : undefined);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    // A password-protected server answers -NOAUTH: it is there, and the suite's client authenticates.
    socket.on('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}
