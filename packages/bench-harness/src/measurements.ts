import type { BenchResult } from './benchmark.js';
import type { SuiteResult } from './suite.js';
import { BenchOptionError } from './errors.js';
import type { Measurement, MeasurementUnit } from './suite-types.js';

/** Time units {@link timeMeasurement} converts to. */
export type TimeUnit = 'ns' | 'us' | 'ms' | 's';

const NS_PER: Record<TimeUnit, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };

/**
 * A {@link Measurement} of a benchmark's median time per call in `unit` (default `us`), with the
 * bootstrap 95% CI of the median.
 */
export function timeMeasurement(
  id: string,
  label: string,
  result: BenchResult,
  unit: TimeUnit = 'us',
): Measurement {
  const div = NS_PER[unit];
  if (div === undefined) throw new BenchOptionError('unit', unit, "one of 'ns', 'us', 'ms', 's'");
  return {
    id,
    label,
    value: result.stats.median / div,
    unit,
    ci: [result.stats.ci95[0] / div, result.stats.ci95[1] / div],
    detail: `median of ${result.samples.length} samples × ${result.batchSize} calls (${result.batching})`,
  };
}

/** A {@link Measurement} of a benchmark's throughput (calls per second at the median), CI from the median's. */
export function opsMeasurement(
  id: string,
  label: string,
  result: BenchResult,
  unit: MeasurementUnit = 'ops/s',
): Measurement {
  return {
    id,
    label,
    value: result.opsPerSec,
    unit,
    ci: [1e9 / result.stats.ci95[1], 1e9 / result.stats.ci95[0]],
    detail: `1e9 / median ns per call, ${result.samples.length} samples`,
  };
}

/**
 * A ratio {@link Measurement} (`unit: 'x'`): `median(variant) / median(baseline)` of a suite, with
 * its bootstrap CI. 0.5 means the variant takes half the baseline's time.
 *
 * @throws {BenchOptionError} when `variant` is not in the suite.
 */
export function ratioMeasurement(
  id: string,
  label: string,
  suiteResult: SuiteResult,
  variant: string,
): Measurement {
  const r = suiteResult.ratios[variant];
  if (r === undefined) {
    throw new BenchOptionError(
      'variant',
      variant,
      `one of ${Object.keys(suiteResult.ratios)
        .map((v) => JSON.stringify(v))
        .join(', ')}`,
    );
  }
  const incomparable = suiteResult.incomparable?.includes(variant)
    ? '; INCOMPARABLE batching modes'
    : '';
  return {
    id,
    label,
    value: r.ratio,
    unit: 'x',
    ci: [r.ci95[0], r.ci95[1]],
    detail: `median(${variant}) / median(${suiteResult.baseline}), ${suiteResult.mode ?? 'interleaved'}${incomparable}`,
  };
}
