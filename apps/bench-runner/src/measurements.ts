import type { Measurement } from '@peaktrade/bench-harness';
import { isUnit, UNITS } from './units.js';

/** What a suite's `run()` resolved to, split into usable measurements and what was wrong. */
export interface CheckedMeasurements {
  /** The well-formed measurements, in order (the first of a duplicated id only). */
  readonly measurements: Measurement[];
  /** One line per problem, naming the entry and the field; empty when everything was valid. */
  readonly problems: string[];
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null)
    return String(value);
  if (value === undefined) return 'nothing';
  return Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Check the measurements a bench suite returned. A suite file is plain JavaScript at run time, so
 * `value: ratio.toFixed(2)` (a string) or a misspelt unit would otherwise reach the targets, where
 * `'0.1' <= 0.2` is true. Values must be numbers; NaN and ±Infinity are numbers and pass here, and
 * the targets that use them fail ({@link evaluate}).
 */
export function checkMeasurements(value: unknown): CheckedMeasurements {
  if (!Array.isArray(value)) {
    return {
      measurements: [],
      problems: [`run() must resolve to an array of measurements, got ${show(value)}`],
    };
  }
  const measurements: Measurement[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  value.forEach((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`measurements[${i}] must be an object, got ${show(entry)}`);
      return;
    }
    const m = entry as Record<string, unknown>;
    const where = typeof m.id === 'string' ? `measurements[${i}] (${m.id})` : `measurements[${i}]`;
    const bad: string[] = [];
    if (typeof m.id !== 'string' || m.id.length === 0)
      bad.push(`id must be a non-empty string, got ${show(m.id)}`);
    if (typeof m.label !== 'string') bad.push(`label must be a string, got ${show(m.label)}`);
    if (typeof m.value !== 'number') bad.push(`value must be a number, got ${show(m.value)}`);
    if (!isUnit(m.unit)) bad.push(`unit must be one of ${UNITS.join(', ')}; got ${show(m.unit)}`);
    if (
      m.ci !== undefined &&
      !(
        Array.isArray(m.ci) &&
        m.ci.length === 2 &&
        m.ci.every((v: unknown) => typeof v === 'number')
      )
    )
      bad.push(`ci must be [low, high] numbers, got ${show(m.ci)}`);
    if (m.detail !== undefined && typeof m.detail !== 'string')
      bad.push(`detail must be a string, got ${show(m.detail)}`);
    if (bad.length === 0 && seen.has(m.id as string))
      bad.push('id repeats an earlier measurement of this suite');
    if (bad.length > 0) {
      problems.push(`${where}: ${bad.join('; ')}`);
      return;
    }
    seen.add(m.id as string);
    measurements.push(entry as Measurement);
  });
  return { measurements, problems };
}
