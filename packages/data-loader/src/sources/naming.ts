import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { DataValidationError, LoaderOptionError } from '../errors.js';

/** The placeholder a string URL or path template holds where the symbol goes. */
export const SYMBOL_PLACEHOLDER = '{symbol}';

/**
 * The `name` option of a built-in source: a non-empty string, or undefined when not given.
 * @throws {LoaderOptionError} for anything else.
 */
export function nameOption(name: unknown): string | undefined {
  if (name === undefined) return undefined;
  if (typeof name !== 'string' || name === '')
    throw new LoaderOptionError(
      'name',
      typeof name === 'string' ? '""' : name,
      'a non-empty string that tells this source apart from every other source sharing a cache',
    );
  return name;
}

/**
 * A short, stable digest of plain configuration data: the first 16 hex digits of the SHA-256 of
 * its canonical JSON (object keys sorted). The same data gives the same digest in every process.
 */
export function digest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Check a string template: it must hold {@link SYMBOL_PLACEHOLDER} at least once (else every
 * symbol would read the same place).
 * @throws {LoaderOptionError} naming `option`.
 */
export function checkTemplate(option: string, template: string): void {
  if (!template.includes(SYMBOL_PLACEHOLDER))
    throw new LoaderOptionError(
      option,
      JSON.stringify(template),
      `a string holding ${SYMBOL_PLACEHOLDER} (replaced by each symbol), or a function of the symbol`,
    );
}

/** Fill every placeholder of `template` with `value`. */
export function fillTemplate(template: string, value: string): string {
  return template.split(SYMBOL_PLACEHOLDER).join(value);
}

/**
 * A file path template made absolute (against the current directory, once, when the source is
 * made), and a function giving each symbol's path. A symbol that would leave its place in the
 * path (holding `/`, `\` or NUL, or being `.` or `..`) is refused with a
 * {@link DataValidationError} naming it.
 */
export function pathTemplate(
  option: string,
  template: string,
): { readonly absolute: string; readonly pathOf: (symbol: string) => string } {
  checkTemplate(option, template);
  const absolute = isAbsolute(template) ? template : resolve(template);
  // Resolving normalises `..`, which could drop the segment holding the placeholder.
  checkTemplate(option, absolute);
  return {
    absolute,
    pathOf(symbol) {
      if (symbol === '' || symbol === '.' || symbol === '..' || /[/\\\0]/.test(symbol))
        throw new DataValidationError(
          symbol,
          `a symbol used in a file path template may not be empty, "." or "..", nor hold "/", "\\" or NUL (pass a path function to map such symbols)`,
        );
      return fillTemplate(absolute, symbol);
    },
  };
}

/**
 * A file source's `path` option: a template (see {@link pathTemplate}; `absolute` is then set)
 * or a function of the symbol (`absolute` undefined: nothing to derive a name from).
 * @throws {LoaderOptionError} for anything else, or a template without the placeholder.
 */
export function pathOption(
  option: string,
  path: unknown,
): { readonly absolute: string | undefined; readonly pathOf: (symbol: string) => string } {
  if (typeof path === 'string') return pathTemplate(option, path);
  if (typeof path === 'function')
    return { absolute: undefined, pathOf: path as (symbol: string) => string };
  throw new LoaderOptionError(
    option,
    path,
    `a path template holding ${SYMBOL_PLACEHOLDER}, or a function of the symbol`,
  );
}
