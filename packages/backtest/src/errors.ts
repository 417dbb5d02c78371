/** Base class of every error thrown by `@peaktrade/backtest`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_BACKTEST_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** OHLCV columns are malformed: wrong type, mismatched lengths, non-increasing time, high < low, NaN. */
export class OhlcvValidationError extends PeakTradeError {
  static readonly code = 'E_BACKTEST_INVALID_DATA';
  /** Column at fault (`time`, `open`, ...), or `''` for whole-object problems. */
  readonly column: string;
  /** Bar index at fault, or -1 when not about one bar. */
  readonly index: number;
  constructor(column: string, index: number, message: string, options?: ErrorOptions) {
    super(OhlcvValidationError.code, message, options);
    this.column = column;
    this.index = index;
  }
}

/** An option passed to `backtest`, `sweep`, `generateOhlcv` or `Portfolio` is invalid. */
export class InvalidOptionError extends PeakTradeError {
  static readonly code = 'E_BACKTEST_INVALID_OPTION';
  /** Option name, dotted for nested options (e.g. `sizing.fraction`). */
  readonly option: string;
  constructor(option: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super(
      InvalidOptionError.code,
      `Invalid option ${option} = ${describe(value)}: ${allowed}`,
      options,
    );
    this.option = option;
  }
}

/** A strategy spec is invalid (unknown kind, bad parameter, wrong target length). */
export class InvalidStrategyError extends PeakTradeError {
  static readonly code = 'E_BACKTEST_INVALID_STRATEGY';
  /** Parameter name at fault (`kind`, `fast`, ...). */
  readonly param: string;
  constructor(param: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super(
      InvalidStrategyError.code,
      `Invalid strategy parameter ${param} = ${describe(value)}: ${allowed}`,
      options,
    );
    this.param = param;
  }
}

/** A portfolio operation got an invalid argument (unknown asset, non-finite price or quantity). */
export class PortfolioError extends PeakTradeError {
  static readonly code = 'E_BACKTEST_PORTFOLIO';
  constructor(message: string, options?: ErrorOptions) {
    super(PortfolioError.code, message, options);
  }
}

/** Every error class of this package, by name. */
export const errors = {
  PeakTradeError,
  OhlcvValidationError,
  InvalidOptionError,
  InvalidStrategyError,
  PortfolioError,
};

/** Render a value for an error message (short, never throws). @internal */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number') return String(value);
  if (ArrayBuffer.isView(value))
    return `${value.constructor.name}(${(value as unknown as { length?: number }).length ?? '?'})`;
  try {
    const s = JSON.stringify(value);
    if (s === undefined) return typeof value;
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return typeof value;
  }
}
