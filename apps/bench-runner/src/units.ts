import type { MeasurementUnit } from '@peaktrade/bench-harness';

/** Every unit a measurement or target may use, for checking values that arrive at run time. */
export const UNITS = [
  'ns',
  'us',
  'ms',
  's',
  'x',
  'ops/s',
  'rows/s',
  'bytes',
  'MB',
  '%',
  'count',
] as const satisfies readonly MeasurementUnit[];
// Fails to compile when bench-harness adds a unit that is not listed above.
const everyUnitListed: Exclude<MeasurementUnit, (typeof UNITS)[number]> extends never
  ? true
  : never = true;
void everyUnitListed;

/** Whether `value` is one of {@link UNITS}. */
export function isUnit(value: unknown): value is MeasurementUnit {
  return (UNITS as readonly unknown[]).includes(value);
}

const TIME_NS: Partial<Record<MeasurementUnit, number>> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };
const BYTES: Partial<Record<MeasurementUnit, number>> = { bytes: 1, MB: 1024 * 1024 };

/**
 * Convert `value` from one unit to another. Time units convert among themselves, as do byte
 * units; every other unit converts only to itself.
 * @returns the converted value, or undefined when the units are not commensurable.
 */
export function convert(
  value: number,
  from: MeasurementUnit,
  to: MeasurementUnit,
): number | undefined {
  if (from === to) return value;
  for (const table of [TIME_NS, BYTES]) {
    const a = table[from];
    const b = table[to];
    if (a !== undefined && b !== undefined) return (value * a) / b;
  }
  return undefined;
}

/** Direction in which a unit improves, when the unit alone says so. */
export function betterDirection(unit: MeasurementUnit): 'lower' | 'higher' | undefined {
  if (unit in TIME_NS || unit in BYTES || unit === '%') return 'lower';
  if (unit === 'ops/s' || unit === 'rows/s') return 'higher';
  return undefined;
}

/** Format a value with its unit, choosing a readable scale for times. */
export function formatValue(value: number, unit: MeasurementUnit): string {
  if (!Number.isFinite(value)) return `${value} ${unit}`;
  if (unit in TIME_NS) {
    const ns = value * TIME_NS[unit]!;
    if (ns < 1e3) return `${round(ns)} ns`;
    if (ns < 1e6) return `${round(ns / 1e3)} µs`;
    if (ns < 1e9) return `${round(ns / 1e6)} ms`;
    return `${round(ns / 1e9)} s`;
  }
  if (unit === 'x') return `${round(value)}×`;
  if (unit === 'ops/s' || unit === 'rows/s') return `${compact(value)} ${unit}`;
  if (unit === 'count') return compact(value);
  return `${round(value)} ${unit}`;
}

/** Three significant digits (whole numbers from 100 up), without trailing zeros. */
function round(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : String(Number(value.toPrecision(3)));
}

function compact(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${round(value / 1e9)}G`;
  if (abs >= 1e6) return `${round(value / 1e6)}M`;
  if (abs >= 1e3) return `${round(value / 1e3)}k`;
  return round(value);
}
