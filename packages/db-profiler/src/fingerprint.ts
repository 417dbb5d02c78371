import { createHash } from 'node:crypto';
import { SQL_KEYWORDS, matchParen, tokenize, type Token } from './sql-tokens.js';

/** A statement's normalised shape, shared by every execution that differs only in literals. */
export interface Fingerprint {
  /**
   * Normalised SQL: comments and extra whitespace removed, keywords upper-cased, unquoted
   * identifiers lower-cased, literals and parameters replaced by `?`, `IN (...)` lists collapsed
   * and repeated `VALUES` tuples folded into one followed by `, ...`.
   */
  readonly text: string;
  /** First 16 hex chars of the SHA-1 of `text`; stable across processes and versions of the SQL. */
  readonly id: string;
}

/** Keywords that are values and so are normalised like literals. */
const VALUE_KEYWORDS = new Set([
  'TRUE',
  'FALSE',
  'CURRENT_DATE',
  'CURRENT_TIME',
  'CURRENT_TIMESTAMP',
]);
/** Keywords after which a `-`/`+` is binary, not a sign. */
const OPERAND_KEYWORDS = new Set(['NULL', 'END', 'TRUE', 'FALSE']);

const PLACEHOLDER: Token = { kind: 'param', value: '?', quoted: false };

function isLiteral(t: Token): boolean {
  return (
    t.kind === 'string' ||
    t.kind === 'number' ||
    t.kind === 'blob' ||
    t.kind === 'param' ||
    (t.kind === 'keyword' && VALUE_KEYWORDS.has(t.value))
  );
}

/** Replace literals/parameters (including signed numbers) by `?`. */
function normaliseLiterals(tokens: readonly Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if ((t.value === '-' || t.value === '+') && t.kind === 'op') {
      const next = tokens[i + 1];
      const prev = out[out.length - 1];
      const unary =
        prev === undefined ||
        prev.kind === 'op' ||
        (prev.kind === 'punct' && prev.value !== ')') ||
        (prev.kind === 'keyword' && !OPERAND_KEYWORDS.has(prev.value));
      if (unary && next !== undefined && (next.kind === 'number' || next.kind === 'param')) {
        out.push(PLACEHOLDER);
        i++;
        continue;
      }
    }
    out.push(isLiteral(t) ? PLACEHOLDER : t);
  }
  return out;
}

function onlyPlaceholders(tokens: readonly Token[], from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (!(t.kind === 'param' || (t.kind === 'punct' && t.value === ','))) return false;
  }
  return true;
}

/**
 * True when `tokens[from, to)` is a list of placeholders in which parentheses may group them: the
 * row values of `(a, b) IN ((?, ?), (?, ?))` and `IN ((?), ?)` are as much a literal list as
 * `IN (?, ?)`, and must not give every list length a fingerprint of its own.
 */
function onlyPlaceholderRows(tokens: readonly Token[], from: number, to: number): boolean {
  if (to <= from) return false;
  let any = false;
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (t.kind === 'param') any = true;
    else if (!(t.kind === 'punct' && (t.value === ',' || t.value === '(' || t.value === ')')))
      return false;
  }
  return any;
}

/** Collapse `IN (?, ?, ...)` to `IN (...)` and repeated `VALUES (?, ?), (?, ?)` tuples. */
function collapseLists(tokens: readonly Token[]): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t.kind === 'keyword' && t.value === 'IN' && next?.kind === 'punct' && next.value === '(') {
      const close = matchParen(tokens, i + 1);
      if (close < tokens.length && onlyPlaceholderRows(tokens, i + 2, close)) {
        out.push(t, next, { kind: 'op', value: '...', quoted: false }, tokens[close]!);
        i = close;
        continue;
      }
    }
    if (
      t.kind === 'keyword' &&
      t.value === 'VALUES' &&
      next?.kind === 'punct' &&
      next.value === '('
    ) {
      const close = matchParen(tokens, i + 1);
      if (close < tokens.length && onlyPlaceholders(tokens, i + 2, close)) {
        const width = close - i; // tokens of one tuple, "(" through ")"
        out.push(...tokens.slice(i, close + 1));
        let j = close + 1;
        let folded = false;
        // fold every following `, (same tuple)`
        while (
          tokens[j]?.value === ',' &&
          tokens[j + 1]?.value === '(' &&
          matchParen(tokens, j + 1) === j + width &&
          onlyPlaceholders(tokens, j + 2, j + width)
        ) {
          folded = true;
          j += width + 1;
        }
        if (folded)
          out.push(
            { kind: 'punct', value: ',', quoted: false },
            { kind: 'op', value: '...', quoted: false },
          );
        i = j - 1;
        continue;
      }
    }
    out.push(t);
  }
  return out;
}

function render(t: Token): string {
  switch (t.kind) {
    case 'keyword':
      return t.value;
    case 'ident': {
      const plain =
        /^[A-Za-z_][A-Za-z0-9_$]*$/.test(t.value) && !SQL_KEYWORDS.has(t.value.toUpperCase());
      return plain ? t.value.toLowerCase() : `"${t.value.replaceAll('"', '""')}"`;
    }
    default:
      return t.value;
  }
}

/** Join normalised tokens with single spaces, except around `.`, `(`, `)` and before `,`. */
function join(tokens: readonly Token[]): string {
  let s = '';
  let prev: Token | undefined;
  for (const t of tokens) {
    if (t.kind === 'punct' && t.value === ';') continue;
    const text = render(t);
    if (prev !== undefined) {
      const noSpace =
        (t.kind === 'punct' && (t.value === ',' || t.value === ')' || t.value === '.')) ||
        (prev.kind === 'punct' && (prev.value === '(' || prev.value === '.')) ||
        (t.kind === 'punct' && t.value === '(' && prev.kind === 'ident');
      if (!noSpace) s += ' ';
    }
    s += text;
    prev = t;
  }
  return s;
}

/** Normalised text of `sql` (see {@link Fingerprint.text}). */
export function normalizeSql(sql: string): string {
  return join(collapseLists(normaliseLiterals(tokenize(sql))));
}

/** Short stable id of a normalised text. */
export function fingerprintId(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 16);
}

/**
 * Fingerprint an SQL statement: `SELECT * FROM bars WHERE id = 5` and
 * `select *  from bars where id=7` give the same {@link Fingerprint}.
 */
export function fingerprint(sql: string): Fingerprint {
  const text = normalizeSql(sql);
  return { text, id: fingerprintId(text) };
}
