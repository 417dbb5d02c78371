import { readFileSync } from 'node:fs';
import type { Measurement } from '@peaktrade/bench-harness';
import { z } from 'zod';
import type { MachineInfo } from './machine.js';
import type { Target } from './targets.js';
import { betterDirection } from './units.js';

const measurementSchema = z.object({
  id: z.string(),
  label: z.string(),
  value: z.number(),
  unit: z.string(),
  ci: z.tuple([z.number(), z.number()]).optional(),
  detail: z.string().optional(),
});

/** A saved baseline: the measurements of one run plus the machine they came from. */
export const baselineSchema = z.object({
  schema: z.literal(1),
  name: z.string(),
  machine: z
    .object({
      cpuModel: z.string(),
      logicalCores: z.number(),
      node: z.string(),
      platform: z.string(),
    })
    .loose(),
  savedAt: z.string(),
  measurements: z.array(measurementSchema),
});

/** A parsed baseline file. */
export type Baseline = z.infer<typeof baselineSchema>;

/**
 * Build a baseline from a run. Measurements whose value is NaN or infinite are left out, and so
 * are CIs with such a bound: JSON writes them as `null`, which would make the whole file fail
 * {@link readBaseline}, and no comparison could use them anyway.
 */
export function toBaseline(
  name: string,
  machine: MachineInfo,
  measurements: readonly Measurement[],
): Baseline {
  return {
    schema: 1,
    name,
    machine: { ...machine },
    savedAt: new Date().toISOString(),
    measurements: measurements
      .filter((m) => Number.isFinite(m.value))
      .map((m) => ({
        ...m,
        ci:
          m.ci && Number.isFinite(m.ci[0]) && Number.isFinite(m.ci[1])
            ? [m.ci[0], m.ci[1]]
            : undefined,
      })),
  };
}

/** Read and validate a baseline file; the error names the file and the first bad field. */
export function readBaseline(file: string): Baseline {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new Error(`Cannot read baseline ${file}: ${(cause as Error).message}`, { cause });
  }
  const parsed = baselineSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `Invalid baseline ${file}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`,
    );
  }
  return parsed.data;
}

/** Machine fields that must match for two runs to be comparable. */
export const FINGERPRINT_FIELDS = ['cpuModel', 'logicalCores', 'node', 'platform'] as const;
/** One machine-fingerprint field. */
export type FingerprintField = (typeof FINGERPRINT_FIELDS)[number];

/** Fields of the machine fingerprint that differ between a baseline and this run. */
export function fingerprintDiff(baseline: Baseline, machine: MachineInfo): FingerprintField[] {
  return FINGERPRINT_FIELDS.filter((f) => String(baseline.machine[f]) !== String(machine[f]));
}

/** Verdict of one measurement against its baseline value. */
export interface Comparison {
  readonly id: string;
  readonly label: string;
  readonly before: number;
  readonly after: number;
  readonly unit: string;
  /** after / before; NaN when the verdict is `incomparable`. */
  readonly ratio: number;
  /**
   * `incomparable`: a value is zero, negative or not finite, so a ratio says nothing (or the
   * opposite: -10 -> -5 ns is a ratio of 0.5 but more time).
   */
  readonly verdict: 'faster' | 'slower' | 'unchanged' | 'changed' | 'incomparable';
}

/**
 * Compare this run with a baseline. The noise floor is the larger of 5% and each side's own
 * relative CI half-width, so a noisy benchmark needs a bigger move before it is called a change.
 * Direction comes from the unit (times lower is better, rates higher) or from the target's op.
 * Values that are not positive and finite on both sides are listed as `incomparable`.
 */
export function compareToBaseline(
  baseline: Baseline,
  measurements: readonly Measurement[],
  targets: readonly Target[],
): Comparison[] {
  const before = new Map(baseline.measurements.map((m) => [m.id, m]));
  const out: Comparison[] = [];
  for (const m of measurements) {
    const old = before.get(m.id);
    if (!old || old.unit !== m.unit) continue;
    const row = { id: m.id, label: m.label, before: old.value, after: m.value, unit: m.unit };
    if (!(old.value > 0 && Number.isFinite(old.value) && m.value > 0 && Number.isFinite(m.value))) {
      out.push({ ...row, ratio: Number.NaN, verdict: 'incomparable' });
      continue;
    }
    const ratio = m.value / old.value;
    const noise = Math.max(0.05, relHalfWidth(m.ci, m.value), relHalfWidth(old.ci, old.value));
    const target = targets.find((t) => t.measurement === m.id);
    const direction =
      betterDirection(m.unit) ??
      (target ? (target.op.startsWith('<') ? 'lower' : 'higher') : undefined);
    let verdict: Comparison['verdict'] = 'unchanged';
    if (Math.abs(ratio - 1) > noise) {
      if (direction === undefined) verdict = 'changed';
      else verdict = ratio < 1 === (direction === 'lower') ? 'faster' : 'slower';
    }
    out.push({ ...row, ratio, verdict });
  }
  return out;
}

function relHalfWidth(ci: readonly [number, number] | undefined, value: number): number {
  if (!ci || value === 0) return 0;
  return Math.abs(ci[1] - ci[0]) / 2 / Math.abs(value);
}
