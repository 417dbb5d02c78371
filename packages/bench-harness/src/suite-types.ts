/**
 * The contract between package benchmark files (`packages/<pkg>/bench/*.bench.ts`) and
 * apps/bench-runner. A bench file default-exports `defineBenchSuite({...})`; the runner
 * discovers the files, calls `run(ctx)` and checks the returned measurements against the
 * targets it keeps in one typed file (keyed by `Measurement.id`).
 */

/** What the runner hands to a suite. */
export interface BenchContext {
  /** `--quick`: use small time budgets (the whole run must stay under 60 s). */
  readonly quick: boolean;
  /** `--stress` was given (suites may add bounded stress measurements). */
  readonly stress: boolean;
  /** Time budget per benchmark in milliseconds (from config, smaller under --quick). */
  readonly timeMs: number;
  /** Redis URL when Redis answered, undefined otherwise (suites with requires: ['redis'] are skipped). */
  readonly redisUrl: string | undefined;
  /** A scratch folder for files (SQLite, data files); removed after the suite. */
  readonly tmpDir: string;
  /** Progress line for humans (plain in CI, live on a TTY). */
  log(message: string): void;
}

/** Units a measurement can be stated in. Times are medians unless `label` says otherwise. */
export type MeasurementUnit =
  'ns' | 'us' | 'ms' | 's' | 'x' | 'ops/s' | 'rows/s' | 'bytes' | 'MB' | '%' | 'count';

/** One figure a suite measured. Ratios (`unit: 'x'`) are measured against a baseline in the same run. */
export interface Measurement {
  /** Stable id, `<package>.<what>`, e.g. `backtest.10k.median`. Targets refer to it. */
  readonly id: string;
  /** Human label for tables. */
  readonly label: string;
  /** The measured value in `unit`. */
  readonly value: number;
  readonly unit: MeasurementUnit;
  /** Confidence interval of `value`, when the harness computed one. */
  readonly ci?: readonly [low: number, high: number];
  /** What it was measured against and how (baseline name, sizes, conditions). */
  readonly detail?: string;
}

/** A benchmark suite as a bench file default-exports it. */
export interface BenchSuiteDefinition {
  /** Suite name, usually the package name without scope, e.g. `serialize`. */
  readonly name: string;
  /** One-line description. */
  readonly description?: string;
  /** Services the suite needs; without them the runner reports it as skipped with the reason. */
  readonly requires?: readonly 'redis'[];
  /** Run every benchmark and return the measurements. */
  run(ctx: BenchContext): Promise<readonly Measurement[]>;
}

/** Identity helper that types a bench file's default export. */
export function defineBenchSuite(definition: BenchSuiteDefinition): BenchSuiteDefinition {
  return definition;
}
