const SPACE = 32;
const TAB = 9;

/**
 * The accepted number grammar: an optional sign, ASCII digits with an optional fraction (`12`,
 * `12.5`, `.5`, `5.`), then an optional exponent (`1.5e3`, `1E-3`). No hex, binary or octal
 * prefixes, no `Infinity` or `NaN`, no digit separators (`1_000`, `1,000`), no other digits.
 */
export const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** What an accepted number looks like, for error messages. */
export const NUMBER_FORM =
  'a finite decimal number: optional sign, digits, optional fraction and exponent, such as 12, -0.5 or 1.5e3';

/**
 * `text` without the spaces and tabs around it. Only those two: the CSV fast path skips exactly
 * them, and `String.prototype.trim` would also take no-break spaces, vertical tabs, line
 * separators and byte order marks, which `Number()` then quietly reads past.
 */
export function trimBlanks(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isBlank(text.charCodeAt(start))) start++;
  while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

/**
 * Parse a price or volume given as text: {@link DECIMAL} with spaces or tabs around it. Returns
 * the double `Number()` gives for it, or NaN when the text is anything else or the value is too
 * large for a double (`1e400`).
 */
export function parseDecimal(text: string): number {
  const trimmed = trimBlanks(text);
  if (!DECIMAL.test(trimmed)) return Number.NaN;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : Number.NaN;
}

/** Why {@link parseDecimal} refused `text`, naming the value, for a DataValidationError. */
export function numberRefusal(text: string): string {
  const quoted = JSON.stringify(text);
  return DECIMAL.test(trimBlanks(text))
    ? `number out of range ${quoted}: expected ${NUMBER_FORM}`
    : `non-numeric value ${quoted}: expected ${NUMBER_FORM}`;
}
