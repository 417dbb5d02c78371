/** Base class of the non-argument errors thrown by `@peaktrade/numeric-accel`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_NUMERIC_ACCEL_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A kernel or option received an invalid argument: a non-`Float64Array` input, a window of 0 or less,
 * mismatched lengths, an `out` array of the wrong length, an out-of-range option.
 *
 * It extends the built-in `RangeError` (so `instanceof RangeError` holds) and carries the same `code`
 * field as {@link PeakTradeError}. The message names the parameter, the value given and what is allowed.
 */
export class AccelRangeError extends RangeError {
  static readonly code = 'E_NUMERIC_ACCEL_RANGE';
  /** Always {@link AccelRangeError.code}. */
  readonly code: string = AccelRangeError.code;
  /** The parameter or option that was rejected, e.g. `window` or `options.alpha`. */
  readonly parameter: string;
  constructor(parameter: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super(`${parameter} must be ${allowed}; got ${describe(value)}`, options);
    this.name = 'AccelRangeError';
    this.parameter = parameter;
  }
}

/** The WebAssembly backend was requested but cannot be used here (no WebAssembly SIMD, or compile failed). */
export class WasmUnavailableError extends PeakTradeError {
  static readonly code = 'E_NUMERIC_ACCEL_WASM_UNAVAILABLE';
  constructor(detail: string, options?: ErrorOptions) {
    super(
      WasmUnavailableError.code,
      `The WebAssembly SIMD backend is unavailable: ${detail}`,
      options,
    );
  }
}

/**
 * The WebAssembly backend's memory (2 GiB at most, see `WASM_MEMORY_MAX_BYTES`) has no room for an array: thrown
 * by `wasmArray()` when the arena is full. Kernels never throw it: arrays too large to stage run on JS instead.
 */
export class WasmMemoryError extends PeakTradeError {
  static readonly code = 'E_NUMERIC_ACCEL_WASM_MEMORY';
  /** Bytes of wasm memory the request needed in total (the arena up to and including the new array). */
  readonly requiredBytes: number;
  /** The backend's memory limit in bytes. */
  readonly limitBytes: number;
  constructor(message: string, requiredBytes: number, limitBytes: number, options?: ErrorOptions) {
    super(WasmMemoryError.code, message, options);
    this.requiredBytes = requiredBytes;
    this.limitBytes = limitBytes;
  }
}

/** Every error class of this package, by name. */
export const errors = { PeakTradeError, AccelRangeError, WasmUnavailableError, WasmMemoryError };

/** Short human description of a value for error messages (never dumps a whole array). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (typeof value === 'boolean' || typeof value === 'symbol') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (ArrayBuffer.isView(value)) {
    const ctor = (value as { constructor?: { name?: string } }).constructor?.name ?? 'TypedArray';
    const len = (value as unknown as { length?: number }).length;
    return len === undefined ? ctor : `${ctor}(${len})`;
  }
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor !== 'Object' ? `a ${ctor}` : 'an object';
}
