import { isTok, matchParen, tokenize, type Token } from './sql-tokens.js';

/** An index key: a plain column or an expression over one column (e.g. `lower("symbol")`). */
export interface IndexKey {
  /** Rendered key for CREATE INDEX: `"col"` or `fn("col")`. */
  readonly sql: string;
  /** The underlying column name. */
  readonly column: string;
  /** True when the key is an expression, not a bare column. */
  readonly expression: boolean;
}

/** One table reference of one SELECT/UPDATE/DELETE scope and what the statement does with it. */
export interface TableRef {
  /** Table name as written (without schema). */
  readonly table: string;
  /** Alias, or the table name when none. This is the label EXPLAIN QUERY PLAN uses. */
  readonly label: string;
  /** Scope index in {@link StatementShape.scopes}. */
  readonly scope: number;
  /** Known columns (from PRAGMA table_info), lower-cased; empty when unknown. */
  readonly columns: ReadonlySet<string>;
  /** WHERE/ON conjuncts that reference only this table (of its scope) — it is a filtered table. */
  filtered: boolean;
  /** Participates in a join condition with another table of its scope. */
  joined: boolean;
  readonly eq: IndexKey[];
  readonly range: IndexKey[];
  readonly joinEq: IndexKey[];
  readonly orderBy: IndexKey[];
  readonly groupBy: IndexKey[];
}

/** What {@link parseShape} learned about a statement. */
export interface StatementShape {
  readonly refs: readonly TableRef[];
  readonly scopes: number;
}

/** Looks up a table's column names (lower-cased). Empty set when the table is unknown. */
export type ColumnLookup = (table: string) => ReadonlySet<string>;

const CLAUSE = new Set([
  'FROM',
  'WHERE',
  'GROUP',
  'HAVING',
  'ORDER',
  'LIMIT',
  'WINDOW',
  'RETURNING',
]);
const COMPOUND = new Set(['UNION', 'INTERSECT', 'EXCEPT']);
const JOIN_WORDS = new Set(['JOIN', 'LEFT', 'RIGHT', 'FULL', 'INNER', 'CROSS', 'NATURAL', 'OUTER']);
const ROWID = new Set(['rowid', 'oid', '_rowid_']);
const RANGE_OPS = new Set(['<', '>', '<=', '>=']);

interface Scope {
  readonly index: number;
  readonly parent: number;
  readonly refs: TableRef[];
}

interface ColRef {
  readonly qualifier: string | undefined;
  readonly column: string;
}

/** Split `tokens[from, to)` at depth-0 occurrences of `sep` (a punct or keyword). */
function splitTop(tokens: readonly Token[], from: number, to: number, sep: string): Token[][] {
  const parts: Token[][] = [];
  let cur: Token[] = [];
  let depth = 0;
  let between = false;
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.value === '(') depth++;
    else if (t.kind === 'punct' && t.value === ')') depth--;
    if (depth === 0 && t.kind === 'keyword' && t.value === 'BETWEEN') between = true;
    if (depth === 0 && isTok(t, sep)) {
      if (sep === 'AND' && between) {
        between = false;
        cur.push(t);
        continue;
      }
      parts.push(cur);
      cur = [];
      continue;
    }
    cur.push(t);
  }
  if (cur.length > 0) parts.push(cur);
  return parts;
}

/** Column references in an expression, skipping function names and subqueries. */
function columnRefs(tokens: readonly Token[]): ColRef[] {
  const out: ColRef[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (
      t.kind === 'punct' &&
      t.value === '(' &&
      tokens[i + 1]?.kind === 'keyword' &&
      tokens[i + 1]?.value === 'SELECT'
    ) {
      i = matchParen(tokens, i);
      continue;
    }
    if (t.kind !== 'ident') continue;
    if (isTok(tokens[i - 1], '.')) continue;
    if (isTok(tokens[i + 1], '(')) continue;
    if (isTok(tokens[i - 1], 'AS')) continue; // CAST(x AS type)
    if (isTok(tokens[i + 1], '.') && tokens[i + 2]?.kind === 'ident') {
      if (isTok(tokens[i + 3], '.') && tokens[i + 4]?.kind === 'ident') {
        out.push({ qualifier: tokens[i + 2]!.value, column: tokens[i + 4]!.value });
        i += 4;
      } else {
        out.push({ qualifier: t.value, column: tokens[i + 2]!.value });
        i += 2;
      }
      continue;
    }
    out.push({ qualifier: undefined, column: t.value });
  }
  return out;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A bare column ref (`c`, `t.c`, `s.t.c`) or a one-column function (`lower(t.c)`), else undefined. */
function keyOf(tokens: readonly Token[]): { ref: ColRef; fn: string | undefined } | undefined {
  const plain = (ts: readonly Token[]): ColRef | undefined => {
    if (ts.length === 1 && ts[0]!.kind === 'ident')
      return { qualifier: undefined, column: ts[0]!.value };
    if (ts.length === 3 && ts[0]!.kind === 'ident' && isTok(ts[1], '.') && ts[2]!.kind === 'ident')
      return { qualifier: ts[0]!.value, column: ts[2]!.value };
    if (ts.length === 5 && ts[2]!.kind === 'ident' && isTok(ts[3], '.') && ts[4]!.kind === 'ident')
      return { qualifier: ts[2]!.value, column: ts[4]!.value };
    return undefined;
  };
  // strip COLLATE x suffix
  let ts = tokens;
  const collate = ts.findIndex((t) => isTok(t, 'COLLATE'));
  if (collate > 0) ts = ts.slice(0, collate);
  const p = plain(ts);
  if (p) return { ref: p, fn: undefined };
  if (
    ts.length >= 4 &&
    ts[0]!.kind === 'ident' &&
    isTok(ts[1], '(') &&
    isTok(ts[ts.length - 1], ')')
  ) {
    const inner = plain(ts.slice(2, -1));
    if (inner) return { ref: inner, fn: ts[0]!.value.toLowerCase() };
  }
  return undefined;
}

/**
 * Parse the parts of a statement that matter for index advice: every SELECT/UPDATE/DELETE scope,
 * its tables, and which columns its WHERE, JOIN, ORDER BY and GROUP BY use. Heuristic, not a full
 * SQL parser; unknown constructs are ignored (never guessed).
 */
export function parseShape(sql: string, lookup: ColumnLookup): StatementShape {
  const tokens = tokenize(sql);
  const scopes: Scope[] = [];
  const ranges: { start: number; end: number }[] = [];

  const findEnd = (start: number): number => {
    let depth = 0;
    for (let i = start; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind === 'punct' && t.value === '(') depth++;
      else if (t.kind === 'punct' && t.value === ')') {
        if (depth === 0) return i;
        depth--;
      } else if (depth === 0 && ((t.kind === 'keyword' && COMPOUND.has(t.value)) || isTok(t, ';')))
        return i;
    }
    return tokens.length;
  };

  const parentOf = (start: number): number => {
    for (let s = ranges.length - 1; s >= 0; s--) {
      const r = ranges[s]!;
      if (r.start < start && r.end >= start) return s;
    }
    return -1;
  };

  const clauses = (start: number, end: number): Map<string, number> => {
    const at = new Map<string, number>();
    let depth = 0;
    for (let i = start; i < end; i++) {
      const t = tokens[i]!;
      if (t.kind === 'punct' && t.value === '(') depth++;
      else if (t.kind === 'punct' && t.value === ')') depth--;
      else if (depth === 0 && t.kind === 'keyword' && CLAUSE.has(t.value) && !at.has(t.value))
        at.set(t.value, i);
    }
    return at;
  };
  const clauseEnd = (at: Map<string, number>, from: number, end: number): number => {
    let e = end;
    for (const pos of at.values()) if (pos > from && pos < e) e = pos;
    return e;
  };

  const newRef = (table: string, label: string, scope: number): TableRef => ({
    table,
    label,
    scope,
    columns: lookup(table),
    filtered: false,
    joined: false,
    eq: [],
    range: [],
    joinEq: [],
    orderBy: [],
    groupBy: [],
  });

  const resolve = (scope: Scope, ref: ColRef): TableRef | undefined => {
    let s: Scope | undefined = scope;
    while (s) {
      for (const r of s.refs) {
        if (ref.qualifier !== undefined) {
          const q = ref.qualifier.toLowerCase();
          if (r.label.toLowerCase() === q || r.table.toLowerCase() === q) return r;
        } else {
          const c = ref.column.toLowerCase();
          if (r.columns.has(c) || ROWID.has(c) || (r.columns.size === 0 && s.refs.length === 1))
            return r;
        }
      }
      s = s.parent >= 0 ? scopes[s.parent] : undefined;
    }
    return undefined;
  };

  const mkKey = (ref: ColRef, fn: string | undefined): IndexKey => ({
    sql: fn ? `${fn}(${quoteIdent(ref.column)})` : quoteIdent(ref.column),
    column: ref.column,
    expression: fn !== undefined,
  });
  const pushKey = (list: IndexKey[], key: IndexKey): void => {
    if (!list.some((k) => k.sql === key.sql)) list.push(key);
  };

  const conjunct = (scope: Scope, ts: readonly Token[]): void => {
    const refs = columnRefs(ts);
    const local = new Set<TableRef>();
    for (const c of refs) {
      const r = resolve(scope, c);
      if (r && r.scope === scope.index) local.add(r);
    }
    if (local.size === 0) return;
    // locate the comparison operator at depth 0
    let depth = 0;
    let opAt = -1;
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i]!;
      if (t.kind === 'punct' && t.value === '(') depth++;
      else if (t.kind === 'punct' && t.value === ')') depth--;
      else if (
        depth === 0 &&
        ((t.kind === 'op' && /^(=|==|<|>|<=|>=|<>|!=)$/.test(t.value)) ||
          (t.kind === 'keyword' && /^(IS|IN|BETWEEN|LIKE|GLOB|NOT|MATCH|REGEXP|OR)$/.test(t.value)))
      ) {
        opAt = i;
        break;
      }
    }
    if (local.size >= 2) {
      for (const r of local) r.joined = true;
      const op = ts[opAt];
      if (op && (op.value === '=' || op.value === '==')) {
        const l = keyOf(ts.slice(0, opAt));
        const r = keyOf(ts.slice(opAt + 1));
        if (l && r && l.fn === undefined && r.fn === undefined) {
          const lt = resolve(scope, l.ref);
          const rt = resolve(scope, r.ref);
          if (lt && rt && lt !== rt) {
            pushKey(lt.joinEq, mkKey(l.ref, undefined));
            pushKey(rt.joinEq, mkKey(r.ref, undefined));
          }
        }
      }
      return;
    }
    const table = local.values().next().value!;
    table.filtered = true;
    if (opAt <= 0) return;
    const op = ts[opAt]!;
    const hasOr = ts.some((t) => isTok(t, 'OR'));
    if (hasOr || (op.kind === 'keyword' && (op.value === 'NOT' || op.value === 'OR'))) return;
    if (op.kind === 'keyword' && op.value === 'IS' && isTok(ts[opAt + 1], 'NOT')) return;
    let kind: 'eq' | 'range' | undefined;
    if (op.value === '=' || op.value === '==' || op.value === 'IS' || op.value === 'IN')
      kind = 'eq';
    else if (RANGE_OPS.has(op.value) || op.value === 'BETWEEN') kind = 'range';
    if (!kind) return;
    const left = keyOf(ts.slice(0, opAt));
    const rightTs = ts.slice(opAt + 1);
    const mentions = (side: readonly Token[]): boolean =>
      columnRefs(side).some((c) => resolve(scope, c) === table);
    let key: { ref: ColRef; fn: string | undefined } | undefined;
    if (left && resolve(scope, left.ref) === table && !mentions(rightTs)) key = left;
    else if (op.value !== 'IN' && op.value !== 'BETWEEN') {
      const right = keyOf(rightTs);
      if (right && resolve(scope, right.ref) === table && !mentions(ts.slice(0, opAt))) key = right;
    }
    if (!key) return;
    pushKey(kind === 'eq' ? table.eq : table.range, mkKey(key.ref, key.fn));
  };

  const terms = (scope: Scope, from: number, to: number, into: 'orderBy' | 'groupBy'): void => {
    // Only a leading run of terms of one table can be served by that table's index.
    const stopped = new Set<TableRef>();
    for (const term of splitTop(tokens, from, to, ',')) {
      let ts = term;
      while (
        ts.length > 0 &&
        ts[ts.length - 1]!.kind === 'keyword' &&
        /^(ASC|DESC|FIRST|LAST|NULLS)$/.test(ts[ts.length - 1]!.value)
      )
        ts = ts.slice(0, -1);
      const k = keyOf(ts);
      const r = k ? resolve(scope, k.ref) : undefined;
      for (const ref of scope.refs) if (ref !== r) stopped.add(ref);
      if (!k || !r || r.scope !== scope.index || stopped.has(r)) continue;
      pushKey(r[into], mkKey(k.ref, k.fn));
    }
  };

  const parseFrom = (scope: Scope, from: number, to: number): { on: Token[][] } => {
    const on: Token[][] = [];
    let i = from;
    while (i < to) {
      const t = tokens[i]!;
      if (isTok(t, ',') || (t.kind === 'keyword' && JOIN_WORDS.has(t.value))) {
        i++;
        continue;
      }
      if (isTok(t, '(')) {
        i = matchParen(tokens, i) + 1; // subquery or parenthesised join: its SELECTs are scopes of their own
        if (isTok(tokens[i], 'AS')) i++;
        if (tokens[i]?.kind === 'ident') i++;
        continue;
      }
      if (t.kind === 'keyword' && (t.value === 'ON' || t.value === 'USING')) {
        const isUsing = t.value === 'USING';
        let j = i + 1;
        let depth = 0;
        for (; j < to; j++) {
          const u = tokens[j]!;
          if (isTok(u, '(')) depth++;
          else if (isTok(u, ')')) depth--;
          else if (
            depth === 0 &&
            (isTok(u, ',') || (u.kind === 'keyword' && JOIN_WORDS.has(u.value)))
          )
            break;
        }
        if (isUsing) {
          const last = scope.refs[scope.refs.length - 1];
          if (last) {
            last.joined = true;
            for (const u of tokens.slice(i + 1, j))
              if (u.kind === 'ident')
                pushKey(last.joinEq, mkKey({ qualifier: undefined, column: u.value }, undefined));
            const prev = scope.refs[scope.refs.length - 2];
            if (prev) prev.joined = true;
          }
        } else on.push(tokens.slice(i + 1, j));
        i = j;
        continue;
      }
      if (t.kind === 'ident') {
        let name = t.value;
        let j = i + 1;
        if (isTok(tokens[j], '.') && tokens[j + 1]?.kind === 'ident') {
          name = tokens[j + 1]!.value;
          j += 2;
        }
        if (isTok(tokens[j], '(')) {
          // table-valued function
          j = matchParen(tokens, j) + 1;
          if (isTok(tokens[j], 'AS')) j++;
          if (tokens[j]?.kind === 'ident') j++;
          i = j;
          continue;
        }
        if (isTok(tokens[j], 'AS')) j++;
        let label = name;
        if (tokens[j]?.kind === 'ident') {
          label = tokens[j]!.value;
          j++;
        }
        if (isTok(tokens[j], 'INDEXED')) j += 3;
        else if (isTok(tokens[j], 'NOT') && isTok(tokens[j + 1], 'INDEXED')) j += 2;
        scope.refs.push(newRef(name, label, scope.index));
        i = j;
        continue;
      }
      i++;
    }
    return { on };
  };

  const addScope = (start: number, end: number): Scope => {
    const scope: Scope = { index: scopes.length, parent: parentOf(start), refs: [] };
    scopes.push(scope);
    ranges.push({ start, end });
    return scope;
  };

  for (let s = 0; s < tokens.length; s++) {
    const t = tokens[s]!;
    if (t.kind !== 'keyword') continue;
    if (t.value === 'SELECT') {
      const end = findEnd(s + 1);
      const at = clauses(s + 1, end);
      const scope = addScope(s, end);
      let onConds: Token[][] = [];
      const fromAt = at.get('FROM');
      if (fromAt !== undefined)
        onConds = parseFrom(scope, fromAt + 1, clauseEnd(at, fromAt, end)).on;
      for (const cond of onConds)
        for (const c of splitTop(cond, 0, cond.length, 'AND')) conjunct(scope, c);
      const whereAt = at.get('WHERE');
      if (whereAt !== undefined)
        for (const c of splitTop(tokens, whereAt + 1, clauseEnd(at, whereAt, end), 'AND'))
          conjunct(scope, c);
      const groupAt = at.get('GROUP');
      if (groupAt !== undefined && isTok(tokens[groupAt + 1], 'BY'))
        terms(scope, groupAt + 2, clauseEnd(at, groupAt, end), 'groupBy');
      const orderAt = at.get('ORDER');
      if (orderAt !== undefined && isTok(tokens[orderAt + 1], 'BY'))
        terms(scope, orderAt + 2, clauseEnd(at, orderAt, end), 'orderBy');
    } else if ((t.value === 'DELETE' && isTok(tokens[s + 1], 'FROM')) || t.value === 'UPDATE') {
      let j = t.value === 'DELETE' ? s + 2 : s + 1;
      if (isTok(tokens[j], 'OR')) j += 2;
      const end = findEnd(j);
      const scope = addScope(s, end);
      const ident = tokens[j];
      if (ident?.kind !== 'ident') continue;
      let name = ident.value;
      let k = j + 1;
      if (isTok(tokens[k], '.') && tokens[k + 1]?.kind === 'ident') {
        name = tokens[k + 1]!.value;
        k += 2;
      }
      if (isTok(tokens[k], 'AS')) k++;
      const label = tokens[k]?.kind === 'ident' ? tokens[k]!.value : name;
      scope.refs.push(newRef(name, label, scope.index));
      const at = clauses(j, end);
      const whereAt = at.get('WHERE');
      if (whereAt !== undefined)
        for (const c of splitTop(tokens, whereAt + 1, clauseEnd(at, whereAt, end), 'AND'))
          conjunct(scope, c);
    }
  }
  return { refs: scopes.flatMap((s) => s.refs), scopes: scopes.length };
}
