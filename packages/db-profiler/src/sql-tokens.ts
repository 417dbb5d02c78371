/** Token kinds produced by {@link tokenize}. */
export type TokenKind =
  'keyword' | 'ident' | 'string' | 'number' | 'blob' | 'param' | 'op' | 'punct';

/** One lexical token of an SQL statement. */
export interface Token {
  readonly kind: TokenKind;
  /**
   * keyword: upper-cased; ident: the name without quotes (original case); string: the unescaped
   * text; number/blob/param/op/punct: the source text.
   */
  readonly value: string;
  /** True for identifiers written with quotes (`"x"`, `` `x` ``, `[x]`). */
  readonly quoted: boolean;
}

/** SQLite's keywords (https://sqlite.org/lang_keywords.html). */
export const SQL_KEYWORDS: ReadonlySet<string> = new Set(
  (
    'ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN ' +
    'BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS ' +
    'CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE DEFERRED DELETE ' +
    'DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL ' +
    'FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE ' +
    'IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY LAST ' +
    'LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF OFFSET ON OR ' +
    'ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE ' +
    'REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS ' +
    'SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER TRUE FALSE UNBOUNDED ' +
    'UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT'
  ).split(' '),
);

const OPS3 = new Set(['->>']);
const OPS2 = new Set(['||', '<=', '>=', '<>', '!=', '==', '<<', '>>', '->']);
const PUNCT = '(),;.';

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Split SQL text into tokens, dropping whitespace and comments. Never throws: unknown characters
 * become `op` tokens, unterminated strings run to the end of the text.
 */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    // whitespace
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) {
      i++;
      continue;
    }
    // -- comment
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    // /* comment */
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    // blob literal x'..'
    if ((c === 120 || c === 88) && sql.charCodeAt(i + 1) === 39) {
      const end = sql.indexOf("'", i + 2);
      const stop = end < 0 ? n : end + 1;
      out.push({ kind: 'blob', value: sql.slice(i, stop), quoted: false });
      i = stop;
      continue;
    }
    // string literal
    if (c === 39) {
      let j = i + 1;
      let text = '';
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (d === 39) {
          if (sql.charCodeAt(j + 1) === 39) {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += sql[j];
        j++;
      }
      out.push({ kind: 'string', value: text, quoted: false });
      i = j + 1;
      continue;
    }
    // quoted identifiers
    if (c === 34 || c === 96 || c === 91) {
      const close = c === 91 ? ']' : sql[i]!;
      let j = i + 1;
      let text = '';
      while (j < n) {
        if (sql[j] === close) {
          if (close !== ']' && sql[j + 1] === close) {
            text += close;
            j += 2;
            continue;
          }
          break;
        }
        text += sql[j];
        j++;
      }
      out.push({ kind: 'ident', value: text, quoted: true });
      i = j + 1;
      continue;
    }
    // numbers (decimal, float, exponent, hex, with _ separators)
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i;
      if (c === 48 && (sql[i + 1] === 'x' || sql[i + 1] === 'X')) {
        j = i + 2;
        while (j < n && /[0-9a-fA-F_]/.test(sql[j]!)) j++;
      } else {
        while (j < n && (isDigit(sql.charCodeAt(j)) || sql[j] === '_')) j++;
        if (sql[j] === '.') {
          j++;
          while (j < n && (isDigit(sql.charCodeAt(j)) || sql[j] === '_')) j++;
        }
        if (sql[j] === 'e' || sql[j] === 'E') {
          let k = j + 1;
          if (sql[k] === '+' || sql[k] === '-') k++;
          if (isDigit(sql.charCodeAt(k))) {
            j = k;
            while (j < n && isDigit(sql.charCodeAt(j))) j++;
          }
        }
      }
      out.push({ kind: 'number', value: sql.slice(i, j), quoted: false });
      i = j;
      continue;
    }
    // parameters ?, ?NNN, :name, @name, $name; SQLite also takes digits after : @ $ (`:1`)
    if (c === 63 || ((c === 58 || c === 64 || c === 36) && isIdentPart(sql.charCodeAt(i + 1)))) {
      let j = i + 1;
      while (j < n && isIdentPart(sql.charCodeAt(j))) j++;
      out.push({ kind: 'param', value: sql.slice(i, j), quoted: false });
      i = j;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(sql.charCodeAt(j))) j++;
      const word = sql.slice(i, j);
      const upper = word.toUpperCase();
      if (SQL_KEYWORDS.has(upper)) out.push({ kind: 'keyword', value: upper, quoted: false });
      else out.push({ kind: 'ident', value: word, quoted: false });
      i = j;
      continue;
    }
    const three = sql.slice(i, i + 3);
    if (OPS3.has(three)) {
      out.push({ kind: 'op', value: three, quoted: false });
      i += 3;
      continue;
    }
    const two = sql.slice(i, i + 2);
    if (OPS2.has(two)) {
      out.push({ kind: 'op', value: two, quoted: false });
      i += 2;
      continue;
    }
    const ch = sql[i]!;
    out.push({ kind: PUNCT.includes(ch) ? 'punct' : 'op', value: ch, quoted: false });
    i++;
  }
  return out;
}

/** Index of the `)` matching the `(` at `open`, or `tokens.length` when unbalanced. */
export function matchParen(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (t.value === '(') depth++;
    else if (t.value === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return tokens.length;
}

/** True when `t` is the punctuation or keyword `value`. */
export function isTok(t: Token | undefined, value: string): boolean {
  return (
    t !== undefined &&
    (t.kind === 'punct' || t.kind === 'keyword' || t.kind === 'op') &&
    t.value === value
  );
}
