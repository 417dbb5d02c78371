/** Base class of every error thrown by `@peaktrade/config`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_CONFIG_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem found in a configuration source. */
export interface ConfigIssue {
  /** Dotted key path, e.g. `performance.cache.l1_size`. Empty for whole-file problems. */
  readonly path: string;
  /** The offending value as written (undefined for TOML syntax errors). */
  readonly value: unknown;
  /** The rule that was broken, in words. */
  readonly rule: string;
  /** Where the value came from: the file path or the environment variable name. */
  readonly source: string;
  /** 1-based line in the TOML file, when known. */
  readonly line?: number;
  /** 1-based column in the TOML file, when known. */
  readonly column?: number;
}

/** The file or an environment override failed validation. Lists every issue found. */
export class ConfigValidationError extends PeakTradeError {
  static readonly code = 'E_CONFIG_INVALID';
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], options?: ErrorOptions) {
    super(ConfigValidationError.code, formatIssues(issues), options);
    this.issues = issues;
  }
}

/** The file is not valid TOML. Carries the line and column of the syntax error. */
export class ConfigSyntaxError extends PeakTradeError {
  static readonly code = 'E_CONFIG_TOML_SYNTAX';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  constructor(file: string, line: number, column: number, detail: string, options?: ErrorOptions) {
    super(
      ConfigSyntaxError.code,
      `Invalid TOML in ${file} at line ${line}, column ${column}: ${detail}`,
      options,
    );
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** The file exists but could not be read (permissions, a directory, ...). */
export class ConfigReadError extends PeakTradeError {
  static readonly code = 'E_CONFIG_READ';
  constructor(file: string, options?: ErrorOptions) {
    super(ConfigReadError.code, `Cannot read config file ${file}`, options);
  }
}

/** Every error class of this package, by name. */
export const errors = { PeakTradeError, ConfigValidationError, ConfigSyntaxError, ConfigReadError };

function formatIssues(issues: readonly ConfigIssue[]): string {
  const lines = issues.map((i) => {
    const where = i.line === undefined ? i.source : `${i.source}:${i.line}`;
    return `  - ${i.path || '(root)'} = ${describe(i.value)}: ${i.rule} (${where})`;
  });
  return `Invalid Peak Trade configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value); // NaN and Infinity, not `null`
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (value === undefined) return 'undefined';
  return JSON.stringify(value) ?? typeof value;
}
