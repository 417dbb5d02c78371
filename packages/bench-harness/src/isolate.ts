import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { batchingIncomparable, type BenchResult } from './benchmark.js';
import type { ChildJob } from './child.js';
import { BenchOptionError, IsolationError } from './errors.js';
import { bootstrapRatioCI, DEFAULT_SEED, median, summarize } from './stats.js';
import { checkSuiteInputs, type SuiteRatio, type SuiteResult } from './suite.js';

/** Options of {@link isolatedSuite}. */
export interface IsolatedSuiteOptions {
  /**
   * Module (path or `file:` URL) exporting the benches, e.g. `import.meta.url` of the calling file.
   * Each child process imports it; TypeScript modules work when the parent runs under a loader
   * (tsx) because children inherit `process.execArgv`.
   */
  readonly module: string | URL;
  /** Export holding `Record<variant, fn>`, or a (possibly async) function returning one. Default `benches`. */
  readonly exportName?: string;
  /** Variant every ratio is measured against. */
  readonly baseline: string;
  /** Variants to run; default every key the parent's `benches` has, else required. */
  readonly variants?: readonly string[];
  /** Child processes per variant, run one at a time in A,B / B,A order. Default 6. */
  readonly processes?: number;
  /** Total measured time per variant in ms, split across its processes (each gets ≥ 100 ms). Default 500. */
  readonly timeMs?: number;
  /** Node flags for children. Default: this process's `execArgv` minus `--inspect*`. */
  readonly execArgv?: readonly string[];
  /** Bootstrap seed. */
  readonly seed?: number;
  /** Milliseconds before a child is killed and the run fails. Default 60 000. */
  readonly childTimeoutMs?: number;
}

function childScript(): string {
  const here = new URL('./child.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return fileURLToPath(here);
  // Running from src/ (tests): use the built child.
  const built = new URL('../dist/child.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return fileURLToPath(built);
  throw new IsolationError(
    `cannot find the child entry (looked for ${here.href} and ${built.href}); run pnpm build`,
  );
}

type ChildMessage =
  { ok: true; result: BenchResult } | { ok: false; message: string; stack: string };

/** Runs one job in a fresh child process. @internal */
export function runInChild(
  job: ChildJob,
  execArgv: readonly string[],
  timeoutMs: number,
): Promise<BenchResult> {
  return new Promise((resolve, reject) => {
    const child = fork(childScript(), [], {
      execArgv: [...execArgv],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled = false;
    const finish = (err: Error | undefined, result?: BenchResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill();
      if (err) reject(err);
      else resolve(result!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new IsolationError(`child for "${job.variant}" did not finish within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    child.once('message', (msg: ChildMessage) => {
      if (msg.ok) finish(undefined, msg.result);
      else {
        const cause = Object.assign(new Error(msg.message), { stack: msg.stack });
        finish(
          new IsolationError(
            `variant "${job.variant}" failed in its child process: ${msg.message}`,
            { cause },
          ),
        );
      }
    });
    child.once('error', (e) =>
      finish(new IsolationError(`could not start a child for "${job.variant}"`, { cause: e })),
    );
    child.once('exit', (code, signal) =>
      finish(
        new IsolationError(
          `child for "${job.variant}" exited (code ${code}, signal ${signal}) before reporting`,
        ),
      ),
    );
    child.send(job);
  });
}

/**
 * Runs each variant in fresh child processes, interleaved A,B / B,A across `processes` rounds, so
 * drift and per-process JIT luck cancel out. Results pool every child's samples; ratios use the
 * median of each variant's per-process medians, with a bootstrap CI over processes. A variant whose
 * children landed in different batching modes (some `single`, some `batched`) for a call short
 * enough for that to matter ({@link batchingIncomparable}) is listed in `incomparable` and warned
 * about: its ratio is not a regression signal.
 *
 * @throws {BenchOptionError} for invalid options; {@link IsolationError} when a child fails.
 */
export async function isolatedSuite(
  name: string,
  opts: IsolatedSuiteOptions,
): Promise<SuiteResult> {
  if (opts === null || typeof opts !== 'object')
    throw new BenchOptionError('options', opts, 'an object');
  const variants = opts.variants ?? [];
  checkSuiteInputs(name, variants, opts.baseline);
  const module = opts.module instanceof URL ? opts.module.href : opts.module;
  if (typeof module !== 'string' || module.length === 0) {
    throw new BenchOptionError(
      'isolate.module',
      opts.module,
      'a module path or file: URL exporting the benches',
    );
  }
  const processes = opts.processes ?? 6;
  if (!Number.isSafeInteger(processes) || processes < 1) {
    throw new BenchOptionError('isolate.processes', opts.processes, 'an integer ≥ 1');
  }
  const timeMs = opts.timeMs ?? 500;
  if (!Number.isFinite(timeMs) || timeMs <= 0)
    throw new BenchOptionError('timeMs', opts.timeMs, 'a number of ms > 0');
  const seed = opts.seed ?? DEFAULT_SEED;
  const execArgv = opts.execArgv ?? process.execArgv.filter((a) => !a.startsWith('--inspect'));
  const timeoutMs = opts.childTimeoutMs ?? 60_000;
  const perProcessMs = Math.max(100, timeMs / processes);

  const runs = new Map<string, BenchResult[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < processes; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const job: ChildJob = {
        module,
        exportName: opts.exportName ?? 'benches',
        variant,
        timeMs: perProcessMs,
        seed,
      };
      runs.get(variant)!.push(await runInChild(job, execArgv, timeoutMs));
    }
  }

  const results: Record<string, BenchResult> = {};
  const processMedians: Record<string, number[]> = {};
  const incomparable: string[] = [];
  for (const variant of variants) {
    const list = runs.get(variant)!;
    const total = list.reduce((n, r) => n + r.samples.length, 0);
    const samples = new Float64Array(total);
    let off = 0;
    for (const r of list) {
      samples.set(r.samples, off);
      off += r.samples.length;
    }
    const warnings = [...new Set(list.flatMap((r) => r.warnings))];
    if (list.some((r) => batchingIncomparable(r, list[0]!))) {
      incomparable.push(variant);
      warnings.unshift(
        `incomparable: child processes landed in different batching modes (${list.map((r) => `${r.batching}×${r.batchSize}`).join(', ')})`,
      );
    }
    const medians = list.map((r) => r.stats.median);
    processMedians[variant] = medians;
    const stats = summarize(samples, { seed });
    const first = list[0]!;
    results[variant] = {
      name: variant,
      samples,
      stats,
      opsPerSec: 1e9 / stats.median,
      timerResolutionNs: Math.max(...list.map((r) => r.timerResolutionNs)),
      warnings,
      batchSize: first.batchSize,
      batching: first.batching,
      async: first.async,
      iterations: list.reduce((n, r) => n + r.iterations, 0),
      durationMs: list.reduce((n, r) => n + r.durationMs, 0),
    };
  }
  const ratios: Record<string, SuiteRatio> = {};
  const base = processMedians[opts.baseline]!;
  for (const variant of variants) {
    const meds = processMedians[variant]!;
    ratios[variant] = {
      ratio: median(meds) / median(base),
      ci95: bootstrapRatioCI(meds, base, { seed }),
    };
  }
  return {
    name,
    baseline: opts.baseline,
    results,
    ratios,
    mode: 'isolated',
    incomparable,
    processMedians,
  };
}

/** Relative spread of per-process medians: `MAD(medians) / median(medians)` (the process-level MAD-CV). */
export function processMadCv(medians: readonly number[]): number {
  const m = median(medians);
  const dev = medians.map((v) => Math.abs(v - m));
  return median(dev) / m;
}
