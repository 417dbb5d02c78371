import { MIN_MEASURED_SAMPLES, Runner, type BenchFn, type BenchResult } from './benchmark.js';
import { recordResult } from './recorder.js';
import { BenchOptionError } from './errors.js';
import { isolatedSuite, type IsolatedSuiteOptions } from './isolate.js';
import { bootstrapRatioCI, DEFAULT_SEED } from './stats.js';

/** A variant's ratio to the suite's baseline. */
export interface SuiteRatio {
  /** `median(variant) / median(baseline)`: 0.5 means twice as fast as the baseline. */
  ratio: number;
  /** Percentile bootstrap 95% CI of the ratio. */
  ci95: [number, number];
}

/** What {@link suite} measured. */
export interface SuiteResult {
  readonly name: string;
  /** Name of the baseline variant. */
  readonly baseline: string;
  /** Each variant's result, including the baseline's. */
  readonly results: Record<string, BenchResult>;
  /** Each variant's ratio to the baseline (the baseline's own is 1). */
  readonly ratios: Record<string, SuiteRatio>;
  /** How the variants were run: `interleaved` in this process, or `isolated` in child processes. */
  readonly mode?: 'interleaved' | 'isolated';
  /** Variants whose runs landed in different batching modes and cannot be compared (isolated runs). */
  readonly incomparable?: readonly string[];
  /** Per-variant medians of each child process, ns per call (isolated runs only). */
  readonly processMedians?: Record<string, number[]>;
}

/** Options of {@link suite}. */
export interface SuiteOptions {
  /** Name of the variant every ratio is measured against. Must be a key of `benches`. */
  readonly baseline: string;
  /** Time budget per variant in ms. Default 500. */
  readonly timeMs?: number;
  /** Interleaved rounds (A, B, B, A, A, B, ...) per variant. Default 10. */
  readonly rounds?: number;
  /** Arguments passed to every call of every variant. */
  readonly args?: readonly unknown[];
  /** Bootstrap seed. */
  readonly seed?: number;
  /**
   * Run every variant in fresh child processes instead (see {@link isolatedSuite}). Functions cannot
   * cross processes, so `module` must export the same benches (`exportName`, default `benches`).
   */
  readonly isolate?: Omit<IsolatedSuiteOptions, 'baseline' | 'timeMs' | 'variants' | 'seed'>;
}

/** Validates suite-level inputs shared by the in-process and isolated suites. @internal */
export function checkSuiteInputs(
  name: unknown,
  variants: readonly string[],
  baseline: unknown,
): void {
  if (typeof name !== 'string' || name.length === 0)
    throw new BenchOptionError('name', name, 'a non-empty string');
  if (variants.length === 0)
    throw new BenchOptionError('benches', variants, 'at least one variant');
  if (typeof baseline !== 'string' || !variants.includes(baseline)) {
    throw new BenchOptionError(
      'baseline',
      baseline,
      `one of the variants: ${variants.map((v) => JSON.stringify(v)).join(', ')}`,
    );
  }
}

/** Ratios of every result against the baseline's, with bootstrap CIs. @internal */
export function computeRatios(
  results: Record<string, BenchResult>,
  baseline: string,
  seed: number,
): Record<string, SuiteRatio> {
  const base = results[baseline]!;
  const ratios: Record<string, SuiteRatio> = {};
  for (const [name, r] of Object.entries(results)) {
    ratios[name] = {
      ratio: r.stats.median / base.stats.median,
      ci95: bootstrapRatioCI(r.samples, base.samples, { seed }),
    };
  }
  return ratios;
}

/**
 * Compares variants in the same process. Every variant is calibrated and warmed up, then measured
 * in `rounds` interleaved rounds (order alternating A,B / B,A) so that drift (thermal, noisy
 * neighbours, GC state) hits all variants alike. Returns each result and its ratio to `baseline`.
 *
 * With `isolate`, variants run in child processes instead ({@link isolatedSuite}).
 *
 * @throws {BenchOptionError} for an unknown baseline, empty `benches` or invalid options.
 */
export async function suite(
  name: string,
  benches: Record<string, BenchFn>,
  opts: SuiteOptions,
): Promise<SuiteResult> {
  const variants = Object.keys(benches ?? {});
  checkSuiteInputs(name, variants, opts?.baseline);
  if (opts.isolate !== undefined) {
    const isolated = await isolatedSuite(name, {
      ...opts.isolate,
      baseline: opts.baseline,
      variants,
      ...(opts.timeMs !== undefined ? { timeMs: opts.timeMs } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    });
    recordResult({ kind: 'suite', result: isolated });
    return isolated;
  }
  const rounds = opts.rounds ?? 10;
  if (!Number.isSafeInteger(rounds) || rounds < 1)
    throw new BenchOptionError('rounds', opts.rounds, 'an integer ≥ 1');
  const seed = opts.seed ?? DEFAULT_SEED;
  const runners = variants.map(
    (v) =>
      new Runner(
        benches[v]!,
        {
          name: v,
          ...(opts.timeMs !== undefined ? { timeMs: opts.timeMs } : {}),
          ...(opts.args !== undefined ? { args: opts.args } : {}),
          seed,
        },
        `benches.${v}.`,
      ),
  );
  const budgets: number[] = [];
  for (const r of runners) {
    await r.prepare();
    budgets.push(r.remainingNs());
  }
  const minPerRound = Math.max(1, Math.ceil(MIN_MEASURED_SAMPLES / rounds));
  for (let round = 0; round < rounds; round++) {
    const order =
      round % 2 === 0 ? runners.map((_, i) => i) : runners.map((_, i) => runners.length - 1 - i);
    for (const i of order) await runners[i]!.measure(budgets[i]! / rounds, minPerRound);
  }
  const results: Record<string, BenchResult> = {};
  for (const r of runners) results[r.name] = r.result();
  const result: SuiteResult = {
    name,
    baseline: opts.baseline,
    results,
    ratios: computeRatios(results, opts.baseline, seed),
    mode: 'interleaved',
  };
  recordResult({ kind: 'suite', result });
  return result;
}
