/** Base class of every error thrown by `@peaktrade/bench-harness`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_BENCH_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option had an invalid value. The message names the option, the value and what is allowed. */
export class BenchOptionError extends PeakTradeError {
  static readonly code = 'E_BENCH_OPTION';
  /** Name of the offending option, e.g. `timeMs`. */
  readonly option: string;
  constructor(option: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super(
      BenchOptionError.code,
      `Invalid option ${option} = ${describe(value)}: expected ${allowed}`,
      options,
    );
    this.option = option;
  }
}

/** The benchmarked function threw (or its promise rejected). The original error is the `cause`. */
export class BenchFunctionError extends PeakTradeError {
  static readonly code = 'E_BENCH_FUNCTION';
  constructor(name: string, options?: ErrorOptions) {
    super(BenchFunctionError.code, `Benchmark "${name}" threw while being measured`, options);
  }
}

/** A baseline file could not be read or failed schema validation. */
export class BaselineFormatError extends PeakTradeError {
  static readonly code = 'E_BENCH_BASELINE_FORMAT';
  constructor(source: string, detail: string, options?: ErrorOptions) {
    super(BaselineFormatError.code, `Invalid baseline ${source}: ${detail}`, options);
  }
}

/** A comparison was refused because the machine fingerprints differ (pass `force: true` to override). */
export class FingerprintMismatchError extends PeakTradeError {
  static readonly code = 'E_BENCH_FINGERPRINT_MISMATCH';
  /** The fields that differ, e.g. `['cpuModel', 'nodeVersion']`. */
  readonly fields: readonly string[];
  constructor(fields: readonly string[], detail: string) {
    super(
      FingerprintMismatchError.code,
      `Refusing to compare results from different machines (${fields.join(', ')} differ): ${detail}. Pass { force: true } to compare anyway.`,
    );
    this.fields = fields;
  }
}

/** A child process of an isolated run failed, or sent back something unexpected. */
export class IsolationError extends PeakTradeError {
  static readonly code = 'E_BENCH_ISOLATION';
  constructor(detail: string, options?: ErrorOptions) {
    super(IsolationError.code, `Isolated benchmark run failed: ${detail}`, options);
  }
}

/** CPU profiling through `node:inspector` failed. */
export class ProfileError extends PeakTradeError {
  static readonly code = 'E_BENCH_PROFILE';
  constructor(detail: string, options?: ErrorOptions) {
    super(ProfileError.code, `CPU profiling failed: ${detail}`, options);
  }
}

/** Every error class of this package, by name. */
export const errors = {
  PeakTradeError,
  BenchOptionError,
  BenchFunctionError,
  BaselineFormatError,
  FingerprintMismatchError,
  IsolationError,
  ProfileError,
};

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (typeof value === 'function') return '[function]';
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}
