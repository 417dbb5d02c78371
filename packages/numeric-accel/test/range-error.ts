import { expect } from 'vitest';
import { AccelRangeError } from '../src/errors.js';

/** `call` throws this package's RangeError, naming `param` in its `parameter` and its message. */
export function expectRangeError(call: () => unknown, param: string): void {
  let caught: unknown;
  try {
    call();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(RangeError);
  expect(caught).toBeInstanceOf(AccelRangeError);
  expect((caught as AccelRangeError).parameter).toBe(param);
  expect((caught as AccelRangeError).code).toBe('E_NUMERIC_ACCEL_RANGE');
  expect((caught as Error).message).toContain(param);
}
