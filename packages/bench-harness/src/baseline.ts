import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { z } from 'zod';
import { writeFileAtomic } from './atomic.js';
import { batchingIncomparable, type BenchResult } from './benchmark.js';
import { BaselineFormatError, BenchOptionError, FingerprintMismatchError } from './errors.js';
import { bootstrapRatioCI, DEFAULT_SEED, mannWhitneyU, median, type SampleStats } from './stats.js';
import type { SuiteRatio, SuiteResult } from './suite.js';

/** Identity of the machine and runtime a result was measured on. */
export interface MachineFingerprint {
  /** {@link cpuDescription}: `os.cpus()[0].model` (or `unknown`), plus family/model/stepping on Linux x86. */
  readonly cpuModel: string;
  /** Logical CPU count. */
  readonly cores: number;
  /** `process.version`, e.g. `v20.20.2`. */
  readonly nodeVersion: string;
  /** `process.versions.v8`. */
  readonly v8Version: string;
  readonly platform: string;
  readonly arch: string;
  /** Node flags that change performance (`process.execArgv`, without loaders and `--inspect*`). */
  readonly flags: readonly string[];
}

/** Fingerprint fields whose difference makes a comparison meaningless. */
const FINGERPRINT_FIELDS = [
  'cpuModel',
  'cores',
  'nodeVersion',
  'v8Version',
  'platform',
  'arch',
  'flags',
] as const;

/**
 * The CPU's model name, with its x86 family, model and stepping from `/proc/cpuinfo` on Linux
 * when they are there: cloud VMs often name quite different processors alike ("AMD EPYC" for
 * both a Zen 3 and a Zen 5 host), and figures from one must not pass for the other's.
 *
 * @param readCpuinfo reads `/proc/cpuinfo` (a parameter for tests); a failed read leaves the name alone.
 */
export function cpuDescription(
  readCpuinfo: () => string = () => readFileSync('/proc/cpuinfo', 'utf8'),
  name: string = cpus()[0]?.model.trim() || 'unknown',
  platform: string = process.platform,
): string {
  if (platform !== 'linux') return name;
  let text: string;
  try {
    text = readCpuinfo();
  } catch {
    return name;
  }
  const first = text.split(/\n\s*\n/)[0] ?? '';
  const field = (key: string): string | undefined =>
    new RegExp(`^${key}\\s*:\\s*(\\S+)`, 'm').exec(first)?.[1];
  const family = field('cpu family');
  const model = field('model');
  const stepping = field('stepping');
  if (family === undefined || model === undefined) return name;
  return `${name} (family ${family}, model ${model}${stepping === undefined ? '' : `, stepping ${stepping}`})`;
}

/** Fingerprint of this process's machine and runtime. */
export function machineFingerprint(): MachineFingerprint {
  const cpu = cpus();
  return {
    cpuModel: cpuDescription(),
    cores: cpu.length,
    nodeVersion: process.version,
    v8Version: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    flags: process.execArgv
      .filter(
        (a) =>
          !a.startsWith('--inspect') &&
          !/^--(import|require|loader|experimental-loader)\b/.test(a) &&
          !a.startsWith('-r'),
      )
      .filter(
        (a, i, all) =>
          !(i > 0 && /^--(import|require|loader|experimental-loader)$|^-r$/.test(all[i - 1]!)),
      )
      .sort(),
  };
}

const statsSchema = z.object({
  min: z.number(),
  max: z.number(),
  mean: z.number(),
  median: z.number(),
  p75: z.number(),
  p99: z.number(),
  stddev: z.number(),
  mad: z.number(),
  ci95: z.tuple([z.number(), z.number()]),
});

const benchRecordSchema = z.object({
  name: z.string().min(1),
  samples: z.array(z.number().nonnegative()).min(1),
  stats: statsSchema,
  opsPerSec: z.number(),
  heapBytesPerIter: z.number().optional(),
  gcCount: z.number().int().nonnegative().optional(),
  timerResolutionNs: z.number().positive(),
  warnings: z.array(z.string()),
  batchSize: z.number().int().positive(),
  batching: z.enum(['single', 'batched']),
  async: z.boolean(),
  iterations: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  roundEnds: z.array(z.number().int().nonnegative()).optional(),
});

const suiteRecordSchema = z.object({
  name: z.string().min(1),
  baseline: z.string().min(1),
  mode: z.enum(['interleaved', 'isolated']).optional(),
  variants: z.array(z.string()),
  ratios: z.record(
    z.string(),
    z.object({ ratio: z.number(), ci95: z.tuple([z.number(), z.number()]) }),
  ),
  incomparable: z.array(z.string()).optional(),
});

const fingerprintSchema = z.object({
  cpuModel: z.string(),
  cores: z.number().int().positive(),
  nodeVersion: z.string(),
  v8Version: z.string(),
  platform: z.string(),
  arch: z.string(),
  flags: z.array(z.string()),
});

/** Current baseline schema version. */
export const BASELINE_VERSION = 1;

/** Zod schema of a baseline file (version {@link BASELINE_VERSION}). */
export const baselineSchema = z.object({
  schema: z.literal('peaktrade-bench-baseline'),
  version: z.literal(BASELINE_VERSION),
  createdAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO date'),
  label: z.string().optional(),
  fingerprint: fingerprintSchema,
  /** Benchmarks by name; suite variants are stored as `<suite>/<variant>`. */
  benchmarks: z.record(z.string(), benchRecordSchema),
  suites: z.array(suiteRecordSchema),
});

/** A stored benchmark result: a {@link BenchResult} with `samples` as a plain array. */
export interface BenchRecord extends Omit<BenchResult, 'samples' | 'stats'> {
  samples: number[];
  stats: SampleStats;
}

/** A stored suite: its ratios; its variants' results are in `benchmarks` as `<suite>/<variant>`. */
export interface SuiteRecord {
  name: string;
  baseline: string;
  mode?: 'interleaved' | 'isolated' | undefined;
  variants: string[];
  ratios: Record<string, SuiteRatio>;
  incomparable?: string[] | undefined;
}

/** A saved run: versioned, with the machine fingerprint. */
export interface Baseline {
  schema: 'peaktrade-bench-baseline';
  version: 1;
  /** ISO timestamp. */
  createdAt: string;
  label?: string | undefined;
  fingerprint: MachineFingerprint;
  benchmarks: Record<string, BenchRecord>;
  suites: SuiteRecord[];
}

/** What {@link createBaseline} takes. */
export interface BaselineInput {
  readonly results?: readonly BenchResult[];
  readonly suites?: readonly SuiteResult[];
  readonly label?: string;
  /** Defaults to {@link machineFingerprint}(). */
  readonly fingerprint?: MachineFingerprint;
  /** Defaults to now. */
  readonly createdAt?: Date;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function toRecord(r: BenchResult, name = r.name): BenchRecord {
  const rec: Mutable<BenchRecord> = {
    name,
    samples: Array.from(r.samples),
    stats: { ...r.stats, ci95: [r.stats.ci95[0], r.stats.ci95[1]] },
    opsPerSec: r.opsPerSec,
    timerResolutionNs: r.timerResolutionNs,
    warnings: [...r.warnings],
    batchSize: r.batchSize,
    batching: r.batching,
    async: r.async,
    iterations: r.iterations,
    durationMs: r.durationMs,
  };
  if (r.heapBytesPerIter !== undefined) rec.heapBytesPerIter = r.heapBytesPerIter;
  if (r.gcCount !== undefined) rec.gcCount = r.gcCount;
  if (r.roundEnds !== undefined) rec.roundEnds = [...r.roundEnds];
  return rec;
}

/** Builds a {@link Baseline} from results and suites of this run. */
export function createBaseline(input: BaselineInput): Baseline {
  const benchmarks: Record<string, BenchRecord> = {};
  for (const r of input.results ?? []) benchmarks[r.name] = toRecord(r);
  const suites: SuiteRecord[] = [];
  for (const s of input.suites ?? []) {
    for (const [v, r] of Object.entries(s.results))
      benchmarks[`${s.name}/${v}`] = toRecord(r, `${s.name}/${v}`);
    suites.push({
      name: s.name,
      baseline: s.baseline,
      mode: s.mode,
      variants: Object.keys(s.results),
      ratios: s.ratios,
      incomparable: s.incomparable ? [...s.incomparable] : undefined,
    });
  }
  const b: Baseline = {
    schema: 'peaktrade-bench-baseline',
    version: BASELINE_VERSION,
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    fingerprint: input.fingerprint ?? machineFingerprint(),
    benchmarks,
    suites,
  };
  if (input.label !== undefined) b.label = input.label;
  return b;
}

/** Validates parsed JSON as a {@link Baseline}. @throws {BaselineFormatError} naming every bad path. */
export function parseBaseline(json: unknown, source = '(value)'): Baseline {
  const parsed = baselineSchema.safeParse(json);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new BaselineFormatError(source, detail, { cause: parsed.error });
  }
  return parsed.data as Baseline;
}

/**
 * Writes `baseline` (or builds one from `input`) as pretty JSON to `file`, creating folders. The
 * write is atomic ({@link writeFileAtomic}): a failed save leaves the previous file intact.
 */
export function saveBaseline(file: string, baseline: Baseline | BaselineInput): Baseline {
  const b = 'schema' in baseline ? baseline : createBaseline(baseline);
  writeFileAtomic(file, `${JSON.stringify(b, null, 2)}\n`);
  return b;
}

/** Reads and validates a baseline file. @throws {BaselineFormatError} for unreadable, non-JSON or invalid files. */
export function loadBaseline(file: string): Baseline {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new BaselineFormatError(file, 'cannot read the file', { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BaselineFormatError(file, 'not valid JSON', { cause: error });
  }
  return parseBaseline(json, file);
}

/** Regression verdict of one benchmark against its baseline. */
export type Verdict = 'faster' | 'slower' | 'unchanged' | 'incomparable';

/** One benchmark compared with its baseline. */
export interface Comparison {
  readonly name: string;
  /** `median(current) / median(baseline)`; > 1 is slower. */
  readonly ratio: number;
  /** Percentile bootstrap 95% CI of the ratio. */
  readonly ci95: [number, number];
  readonly verdict: Verdict;
  /** Relative change the verdict ignores, learned from both runs' dispersion (0.03 = 3%). */
  readonly noiseFloor: number;
  /** Two-sided Mann–Whitney U p-value of current vs baseline samples. */
  readonly pValue: number;
  /** Why the verdict is what it is, in words. */
  readonly reason: string;
}

/** Options of {@link compareResults} and {@link compareToBaseline}. */
export interface CompareOptions {
  /** Significance level of the Mann–Whitney U test. Default 0.01. */
  readonly alpha?: number;
  /** Smallest noise floor, whatever the dispersion. Default 0.02 (2%). */
  readonly minNoiseFloor?: number;
  /** Multiplier on the learned noise. Default 3 ({@link compareResults}), 4 ({@link compareSuiteVariant}). */
  readonly noiseMultiplier?: number;
  /** Compare even when machine fingerprints differ. Default false. */
  readonly force?: boolean;
  /** Bootstrap seed. */
  readonly seed?: number;
}

type Sampled = Pick<BenchResult, 'name' | 'batching' | 'stats' | 'timerResolutionNs'> & {
  readonly samples: ArrayLike<number>;
  readonly roundEnds?: readonly number[] | undefined;
};

const DRIFT_BLOCKS = 16;

/**
 * Relative drift within one run: the samples (in time order) are cut into 16 blocks and the
 * robust spread (1.4826 × MAD) of the block medians is divided by their median. It captures slow
 * changes during a run (noisy neighbours, frequency scaling) that per-sample dispersion misses.
 */
export function relativeDrift(samples: ArrayLike<number>): number {
  const n = samples.length;
  if (n < DRIFT_BLOCKS * 2) {
    // Too few samples for blocks: fall back to the relative MAD.
    const m = median(samples);
    const dev = Array.from(samples, (v) => Math.abs(v - m));
    return (1.4826 * median(dev)) / m;
  }
  const meds: number[] = [];
  for (let b = 0; b < DRIFT_BLOCKS; b++) {
    const lo = Math.floor((b * n) / DRIFT_BLOCKS);
    const hi = Math.floor(((b + 1) * n) / DRIFT_BLOCKS);
    meds.push(median(Array.prototype.slice.call(samples, lo, hi) as number[]));
  }
  const m = median(meds);
  return (1.4826 * median(meds.map((v) => Math.abs(v - m)))) / m;
}

/**
 * Compares a current result with a baseline result. The verdict is `slower` (or `faster`) only when
 * all three hold: the ratio's distance from 1 exceeds the noise floor, the ratio's 95% CI excludes 1,
 * and the one-sided Mann–Whitney U test rejects at `alpha`. The noise floor is
 * `max(minNoiseFloor, noiseMultiplier × √(driftBase² + driftCurrent²))` ({@link relativeDrift}).
 * Results in different batching modes are `incomparable` when the call is short enough for the
 * mode to change the figure ({@link batchingIncomparable}), and so are results whose median is
 * zero, negative, infinite or NaN (the ratio means nothing then).
 */
export function compareResults(
  base: Sampled,
  current: Sampled,
  options: CompareOptions = {},
): Comparison {
  const k = noiseMultiplier(options, 3);
  const drift = Math.hypot(relativeDrift(base.samples), relativeDrift(current.samples));
  return verdictFor(base, current, k * drift, options);
}

/**
 * Compares two variants of an interleaved {@link SuiteResult} (e.g. a candidate against the code it
 * replaces). Drift that hits both variants alike cancels in rounds that ran side by side, so the
 * noise floor is learned from the dispersion of the per-round ratios
 * `median(variant in round i) / median(baseline in round i)` over R rounds:
 * `max(minNoiseFloor, noiseMultiplier × 1.4826 × MAD(log ratios) / √R)` (default multiplier 4 here:
 * four standard errors of the pooled ratio). Otherwise as {@link compareResults}.
 *
 * @throws {BenchOptionError} when a variant is missing or the results have no common rounds.
 */
export function compareSuiteVariant(
  suiteResult: SuiteResult,
  variant: string,
  options: CompareOptions & { readonly against?: string } = {},
): Comparison {
  const againstName = options.against ?? suiteResult.baseline;
  const cur = suiteResult.results[variant];
  const base = suiteResult.results[againstName];
  const names = Object.keys(suiteResult.results)
    .map((v) => JSON.stringify(v))
    .join(', ');
  if (cur === undefined) throw new BenchOptionError('variant', variant, `one of ${names}`);
  if (base === undefined) throw new BenchOptionError('against', againstName, `one of ${names}`);
  const rc = cur.roundEnds ?? [cur.samples.length];
  const rb = base.roundEnds ?? [base.samples.length];
  const rounds = Math.min(rc.length, rb.length);
  if (rounds < 3) {
    // Too few rounds to learn from: fall back to per-run drift.
    return compareResults(base, cur, options);
  }
  const logs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const c = median(
      Array.prototype.slice.call(cur.samples, i === 0 ? 0 : rc[i - 1], rc[i]) as number[],
    );
    const b = median(
      Array.prototype.slice.call(base.samples, i === 0 ? 0 : rb[i - 1], rb[i]) as number[],
    );
    if (c > 0 && b > 0) logs.push(Math.log(c / b));
  }
  const m = median(logs);
  const spread = 1.4826 * median(logs.map((v) => Math.abs(v - m)));
  // The standard error of a ratio pooled over `rounds` rounds, times a generous multiplier.
  return verdictFor(
    base,
    cur,
    (noiseMultiplier(options, 4) * spread) / Math.sqrt(logs.length),
    options,
  );
}

function noiseMultiplier(options: CompareOptions, fallback: number): number {
  const k = options.noiseMultiplier ?? fallback;
  if (typeof k !== 'number' || !Number.isFinite(k) || k < 0)
    throw new BenchOptionError('noiseMultiplier', options.noiseMultiplier, 'a finite number ≥ 0');
  return k;
}

function verdictFor(
  base: Sampled,
  current: Sampled,
  learnedFloor: number,
  options: CompareOptions,
): Comparison {
  const alpha = options.alpha ?? 0.01;
  const minFloor = options.minNoiseFloor ?? 0.02;
  if (!(alpha > 0 && alpha < 1))
    throw new BenchOptionError('alpha', options.alpha, 'a number in (0, 1)');
  if (!(minFloor >= 0))
    throw new BenchOptionError('minNoiseFloor', options.minNoiseFloor, 'a number ≥ 0');
  const baseMedian = median(base.samples);
  const currentMedian = median(current.samples);
  const ratio = currentMedian / baseMedian;
  const ci95 = bootstrapRatioCI(current.samples, base.samples, {
    seed: options.seed ?? DEFAULT_SEED,
  });
  const noiseFloor = Math.max(minFloor, Number.isFinite(learnedFloor) ? learnedFloor : 0);
  const two = mannWhitneyU(current.samples, base.samples, 'two-sided');
  const outcome = (verdict: Verdict, reason: string): Comparison => ({
    name: current.name,
    ratio,
    ci95,
    verdict,
    noiseFloor,
    pValue: two.pValue,
    reason,
  });
  // A ratio says how much slower only between two positive, finite times. A zero median (a
  // hand-made or timer-limited baseline) gives ∞ or NaN, a negative one (overhead-corrected
  // figures) flips the direction: neither may pass for "unchanged", "faster" or "slower".
  const usable = (m: number): boolean => m > 0 && Number.isFinite(m);
  if (!usable(baseMedian) || !usable(currentMedian)) {
    const [which, m] = usable(baseMedian) ? ['current', currentMedian] : ['baseline', baseMedian];
    return outcome(
      'incomparable',
      `the ${which} median is ${m} ns; a ratio needs two positive, finite medians`,
    );
  }
  if (batchingIncomparable(base, current)) {
    return outcome(
      'incomparable',
      `batching mode changed (${base.batching} → ${current.batching}); the figures measure different things`,
    );
  }
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  if (ratio > 1 + noiseFloor && ci95[0] > 1) {
    const p = mannWhitneyU(current.samples, base.samples, 'greater').pValue;
    if (p < alpha) {
      return outcome(
        'slower',
        `${pct(ratio - 1)} slower, above the ${pct(noiseFloor)} noise floor, U-test p=${p.toPrecision(2)}`,
      );
    }
  }
  if (ratio < 1 / (1 + noiseFloor) && ci95[1] < 1) {
    const p = mannWhitneyU(current.samples, base.samples, 'less').pValue;
    if (p < alpha) {
      return outcome(
        'faster',
        `${pct(1 - ratio)} faster, beyond the ${pct(noiseFloor)} noise floor, U-test p=${p.toPrecision(2)}`,
      );
    }
  }
  return outcome(
    'unchanged',
    `change ${pct(ratio - 1)} within the ${pct(noiseFloor)} noise floor or not significant`,
  );
}

/** Result of {@link compareToBaseline}. */
export interface BaselineComparison {
  /** Fingerprint fields that differ (empty when the machines match). */
  readonly fingerprintDiff: readonly string[];
  /** One entry per benchmark present in both runs. */
  readonly comparisons: readonly Comparison[];
  /** Benchmarks only in the current run. */
  readonly added: readonly string[];
  /** Benchmarks only in the baseline. */
  readonly removed: readonly string[];
}

/** Names of the fingerprint fields that differ between `a` and `b`. */
export function fingerprintDiff(
  a: MachineFingerprint,
  b: MachineFingerprint,
): (keyof MachineFingerprint)[] {
  return FINGERPRINT_FIELDS.filter((f) => JSON.stringify(a[f]) !== JSON.stringify(b[f]));
}

/**
 * Compares every benchmark of `current` with the same-named one in `baseline`.
 * @throws {FingerprintMismatchError} when the machines differ and `force` is not set.
 */
export function compareToBaseline(
  baseline: Baseline,
  current: Baseline,
  options: CompareOptions = {},
): BaselineComparison {
  const diff = fingerprintDiff(baseline.fingerprint, current.fingerprint);
  if (diff.length > 0 && options.force !== true) {
    const detail = diff
      .map(
        (f) =>
          `${f}: ${JSON.stringify(baseline.fingerprint[f])} vs ${JSON.stringify(current.fingerprint[f])}`,
      )
      .join('; ');
    throw new FingerprintMismatchError(diff, detail);
  }
  const comparisons: Comparison[] = [];
  const added: string[] = [];
  for (const [name, cur] of Object.entries(current.benchmarks)) {
    const base = baseline.benchmarks[name];
    if (base === undefined) added.push(name);
    else comparisons.push(compareResults(base, cur, options));
  }
  const removed = Object.keys(baseline.benchmarks).filter(
    (n) => current.benchmarks[n] === undefined,
  );
  return { fingerprintDiff: diff, comparisons, added, removed };
}
