import type { Measurement, RecordedResult } from '@peaktrade/bench-harness';
import type { Target } from './targets.js';
import { convert, formatValue } from './units.js';

/** Outcome of one suite. */
export interface SuiteOutcome {
  readonly name: string;
  readonly pkg: string;
  readonly file: string;
  readonly status: 'ok' | 'skipped' | 'error';
  /** Why it was skipped, or the error message. */
  readonly reason?: string;
  readonly durationMs: number;
  readonly measurements: readonly Measurement[];
  /** Raw benchmark and suite results (with samples) for the HTML report; not written to JSON. */
  readonly raw?: readonly RecordedResult[];
}

/** Verdict of one target. */
export type Verdict = 'pass' | 'fail' | 'skipped' | 'missing';

/** A target with what was achieved. */
export interface TargetResult {
  readonly target: Target;
  readonly verdict: Verdict;
  /** The measured value, converted to the target's unit. */
  readonly achieved?: number;
  /** The measurement as reported (original unit, CI, detail). */
  readonly measurement?: Measurement;
  /** Why the target failed, was skipped or is missing; empty on pass. */
  readonly reason: string;
}

/**
 * Check every target against the measurements of the run.
 * A target whose suite was skipped (a missing service) is `skipped`; one whose measurement
 * never arrived (the suite failed or no suite reports it) is `missing`; one whose measured value
 * is NaN or infinite (a ratio against a zero-time baseline, say) fails. Gating targets that
 * fail or go missing make the run fail.
 */
export function evaluate(
  targets: readonly Target[],
  outcomes: readonly SuiteOutcome[],
): TargetResult[] {
  const byId = new Map<string, { m: Measurement; suite: SuiteOutcome }>();
  for (const suite of outcomes) for (const m of suite.measurements) byId.set(m.id, { m, suite });
  return targets.map((target) => {
    const found = byId.get(target.measurement);
    if (!found) {
      // The suite of that name, else (a suite that failed before naming itself) its package.
      const owner =
        outcomes.find((o) => target.measurement.startsWith(`${o.name}.`)) ??
        outcomes.find((o) => target.measurement.startsWith(`${o.pkg}.`));
      if (owner?.status === 'skipped')
        return {
          target,
          verdict: 'skipped',
          reason: `suite ${owner.name} skipped: ${owner.reason ?? ''}`,
        };
      if (owner?.status === 'error')
        return {
          target,
          verdict: 'missing',
          reason: `suite ${owner.name} failed: ${owner.reason ?? ''}`,
        };
      return { target, verdict: 'missing', reason: `no suite reported ${target.measurement}` };
    }
    const { m } = found;
    if (!Number.isFinite(m.value)) {
      // `Infinity >= 5` holds, and NaN would read as a plain miss: say what was measured.
      return {
        target,
        verdict: 'fail',
        measurement: m,
        reason: `${target.label}: measured ${m.value} ${m.unit}, not a finite number`,
      };
    }
    const achieved = convert(m.value, m.unit, target.unit);
    if (achieved === undefined) {
      return {
        target,
        verdict: 'fail',
        measurement: m,
        reason: `unit mismatch: measured in ${m.unit}, target in ${target.unit}`,
      };
    }
    const ok = compare(achieved, target.op, target.value);
    return {
      target,
      verdict: ok ? 'pass' : 'fail',
      achieved,
      measurement: m,
      reason: ok
        ? ''
        : `${target.label}: achieved ${formatValue(achieved, target.unit)}, needed ${target.op} ${formatValue(target.value, target.unit)}`,
    };
  });
}

/**
 * The targets a filtered run answers for: those of the suites that ran (matched by the suite's
 * name, which is its package folder when it failed before naming itself) and any target whose
 * measurement a suite reported. A target of a suite that was filtered out is left out, not
 * `missing`; one of a suite that ran and failed stays in, and goes `missing`.
 */
export function targetsInScope(
  targets: readonly Target[],
  outcomes: readonly SuiteOutcome[],
): Target[] {
  const reported = new Set(outcomes.flatMap((o) => o.measurements.map((m) => m.id)));
  return targets.filter(
    (t) =>
      reported.has(t.measurement) || outcomes.some((o) => t.measurement.startsWith(`${o.name}.`)),
  );
}

/** Failures that fail the run: gating targets that failed or are missing, and suites that errored. */
export function gatingFailures(
  results: readonly TargetResult[],
  outcomes: readonly SuiteOutcome[],
): string[] {
  const reasons = results
    .filter((r) => r.target.gate === 'gating' && (r.verdict === 'fail' || r.verdict === 'missing'))
    .map((r) => `${r.target.label} [${r.target.measurement}]: ${r.reason}`);
  for (const o of outcomes)
    if (o.status === 'error')
      reasons.push(`suite ${o.name} (${o.file}) failed: ${o.reason ?? 'unknown error'}`);
  return reasons;
}

function compare(a: number, op: Target['op'], b: number): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}
