import { accelSettings } from '@peaktrade/numeric-accel';

/**
 * Default worker count when neither an option nor the config gives one: numeric-accel's
 * configured thread count (derived from the CPU topology), at least 1.
 */
export function defaultPoolSize(): number {
  const { threads } = accelSettings();
  return Number.isInteger(threads) && threads >= 1 ? threads : 1;
}
