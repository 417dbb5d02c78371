import type Database from 'better-sqlite3';
import { parseShape, type IndexKey, type TableRef } from './sql-shape.js';

/** One row of `EXPLAIN QUERY PLAN`. */
export interface PlanRow {
  readonly id: number;
  readonly parent: number;
  readonly detail: string;
}

/** Kinds of plan problems flagged by {@link analyzePlan}. */
export type PlanIssueKind = 'full-scan' | 'temp-btree' | 'automatic-index';

/** One flagged plan step. */
export interface PlanIssue {
  readonly kind: PlanIssueKind;
  /** Table (not alias) the step concerns, when known. */
  readonly table: string | undefined;
  /** The plan row's `detail`, verbatim. */
  readonly detail: string;
  /** One-line explanation. */
  readonly message: string;
}

/** A concrete index that would remove one or more flagged steps. */
export interface IndexSuggestion {
  readonly table: string;
  /** Index keys in order: equality columns, then one range column, then ORDER BY / GROUP BY columns. */
  readonly keys: readonly string[];
  /** `CREATE INDEX IF NOT EXISTS ...;` ready to run. */
  readonly sql: string;
  /** Why, in one line. */
  readonly reason: string;
}

/** Result of analysing one statement's query plan. */
export interface PlanAnalysis {
  readonly rows: readonly PlanRow[];
  readonly issues: readonly PlanIssue[];
  readonly suggestions: readonly IndexSuggestion[];
  /** Set when EXPLAIN itself failed (the statement then has no issues listed). */
  readonly error: string | undefined;
}

const EXPLAINABLE =
  /^\s*(?:--[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*(SELECT|WITH|UPDATE|DELETE|INSERT|REPLACE|VALUES)\b/i;
const STEP = /^(SCAN|SEARCH) (\S+)(?: AS (\S+))?(.*)$/;
const AUTO = /AUTOMATIC (?:PARTIAL )?(?:COVERING )?INDEX(?: \(([^)]*)\))?/;

/** True for statements EXPLAIN QUERY PLAN says something useful about. */
export function isExplainable(sql: string): boolean {
  return EXPLAINABLE.test(sql);
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function columnLookup(db: Database.Database): (table: string) => ReadonlySet<string> {
  const cache = new Map<string, ReadonlySet<string>>();
  return (table) => {
    const key = table.toLowerCase();
    let cols = cache.get(key);
    if (!cols) {
      try {
        const rows = db
          .prepare(`SELECT name FROM pragma_table_xinfo(?)`)
          .pluck()
          .all(table) as string[];
        cols = new Set(rows.map((r) => r.toLowerCase()));
      } catch {
        cols = new Set();
      }
      cache.set(key, cols);
    }
    return cols;
  };
}

/**
 * Whether a name is an ordinary table, the only kind CREATE INDEX accepts: views, virtual tables
 * (FTS, table-valued functions), their shadow tables, SQLite's own `sqlite_*` tables and names that
 * are no schema object at all (CTEs) cannot be indexed, so a suggestion for them would only fail.
 */
function tableKindLookup(db: Database.Database): (table: string) => boolean {
  const cache = new Map<string, boolean>();
  return (table) => {
    const key = table.toLowerCase();
    let ok = cache.get(key);
    if (ok === undefined) {
      try {
        const types = db
          .prepare(`SELECT type FROM pragma_table_list(?)`)
          .pluck()
          .all(table) as string[];
        ok = types.includes('table') && !key.startsWith('sqlite_');
      } catch {
        ok = false;
      }
      cache.set(key, ok);
    }
    return ok;
  };
}

/** Leading key columns of every existing index on `table` (expression keys as `null`). */
function existingIndexes(db: Database.Database, table: string): (string | null)[][] {
  try {
    const names = db
      .prepare(`SELECT name FROM pragma_index_list(?)`)
      .pluck()
      .all(table) as string[];
    const info = db.prepare(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`).pluck();
    return names.map((n) =>
      (info.all(n) as (string | null)[]).map((c) => (c === null ? null : c.toLowerCase())),
    );
  } catch {
    return [];
  }
}

function suggest(
  db: Database.Database,
  ref: TableRef,
  keys: readonly IndexKey[],
  reason: string,
  out: IndexSuggestion[],
): void {
  if (keys.length === 0) return;
  const sqls = keys.map((k) => k.sql);
  if (out.some((s) => s.table === ref.table && s.keys.join() === sqls.join())) return;
  // an existing index with these leading plain columns already exists: nothing concrete to add
  if (keys.every((k) => !k.expression)) {
    const wanted = keys.map((k) => k.column.toLowerCase());
    for (const idx of existingIndexes(db, ref.table))
      if (wanted.every((c, i) => idx[i] === c)) return;
  }
  const name =
    `idx_${ref.table}_${keys.map((k) => (k.expression ? `${k.sql.slice(0, k.sql.indexOf('('))}_${k.column}` : k.column)).join('_')}`
      .replace(/[^A-Za-z0-9_]/g, '_')
      .toLowerCase();
  out.push({
    table: ref.table,
    keys: sqls,
    sql: `CREATE INDEX IF NOT EXISTS ${quote(name)} ON ${quote(ref.table)} (${sqls.join(', ')});`,
    reason,
  });
}

function dedupe(keys: IndexKey[]): IndexKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => (seen.has(k.sql) ? false : (seen.add(k.sql), true)));
}

/**
 * Run `EXPLAIN QUERY PLAN` for `sql` (binding `params`, which must satisfy its placeholders) and
 * flag: a full `SCAN` of a table the query filters (WHERE/ON on its columns, or the inner side of a
 * join), `USE TEMP B-TREE` for ORDER BY / GROUP BY / DISTINCT, and automatic indexes. For each
 * flag it suggests a `CREATE INDEX` from the WHERE, JOIN and ORDER BY columns: equality columns
 * first, then one range column, then the ORDER BY (or GROUP BY) columns. Never throws: an EXPLAIN
 * failure is returned in `error`.
 */
export function analyzePlan(
  db: Database.Database,
  sql: string,
  params: readonly unknown[] = [],
): PlanAnalysis {
  let rows: PlanRow[];
  try {
    rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as PlanRow[];
  } catch (err) {
    return {
      rows: [],
      issues: [],
      suggestions: [],
      error: err instanceof Error ? err.message : String(err),
    };
  }
  rows = rows.map((r) => ({ id: r.id, parent: r.parent, detail: r.detail }));
  const shape = parseShape(sql, columnLookup(db));
  const byLabel = (label: string): TableRef | undefined => {
    const l = label.toLowerCase();
    return (
      shape.refs.find((r) => r.label.toLowerCase() === l) ??
      shape.refs.find((r) => r.table.toLowerCase() === l)
    );
  };
  // Views, CTEs and FROM subqueries that SQLite runs as a co-routine or materializes show up as
  // `SCAN name` of their result rows; neither that scan nor a sort feeding from it can be fixed
  // with an index on `name`. The co-routine keeps the view's or CTE's name even when the FROM
  // clause gives it an alias, so both the name and the table are checked.
  const subqueries = new Set<string>();
  for (const r of rows) {
    const m = /^(?:CO-ROUTINE|MATERIALIZE) (\S+)/.exec(r.detail);
    if (m) subqueries.add(m[1]!.toLowerCase());
  }
  const isTable = tableKindLookup(db);
  const indexable = (ref: TableRef, detail: string): boolean =>
    !subqueries.has(ref.label.toLowerCase()) &&
    !subqueries.has(ref.table.toLowerCase()) &&
    !detail.includes(' VIRTUAL TABLE ') &&
    isTable(ref.table);
  const issues: PlanIssue[] = [];
  const suggestions: IndexSuggestion[] = [];
  const firstLoop = new Map<number, number>(); // parent id → id of its first SCAN/SEARCH row

  for (const row of rows) {
    const step = STEP.exec(row.detail);
    if (step) {
      if (!firstLoop.has(row.parent)) firstLoop.set(row.parent, row.id);
      const verb = step[1]!;
      const label = step[3] ?? step[2]!;
      const found = byLabel(label) ?? byLabel(step[2]!);
      // what cannot be indexed keeps its automatic-index issue (a real per-run cost) but gets no
      // suggestion, and its scans are not flagged: a virtual table reports every access as SCAN
      const ref = found && indexable(found, row.detail) ? found : undefined;
      const auto = AUTO.exec(row.detail);
      if (auto) {
        const cols = (auto[1] ?? '')
          .split(' AND ')
          .map((c) => /^([^=<>]+)/.exec(c.trim())?.[1]?.trim())
          .filter((c): c is string => c !== undefined && c.length > 0);
        issues.push({
          kind: 'automatic-index',
          table: found?.table ?? label,
          detail: row.detail,
          message: `SQLite builds a temporary automatic index on ${found?.table ?? label} for every execution`,
        });
        if (ref)
          suggest(
            db,
            ref,
            dedupe(cols.map((c) => ({ sql: quote(c), column: c, expression: false }))),
            `replaces the automatic index SQLite builds on each run`,
            suggestions,
          );
        continue;
      }
      if (verb !== 'SCAN' || !ref) continue;
      const inner = firstLoop.get(row.parent) !== row.id;
      if (ref.filtered || (ref.joined && inner)) {
        issues.push({
          kind: 'full-scan',
          table: ref.table,
          detail: row.detail,
          message: ref.filtered
            ? `full scan of ${ref.table} although the query filters it`
            : `full scan of ${ref.table} for every row of the outer loop of a join`,
        });
        const range = ref.range.slice(0, 1);
        const keys = dedupe([...ref.eq, ...(inner ? ref.joinEq : []), ...range, ...ref.orderBy]);
        suggest(
          db,
          ref,
          keys,
          `turns the full scan of ${ref.table} into an index search`,
          suggestions,
        );
      }
      continue;
    }
    const temp = /^USE TEMP B-TREE FOR (.+)$/.exec(row.detail);
    if (temp) {
      const what = temp[1]!;
      const group = what.includes('GROUP BY');
      // the sort concerns the outermost table of this level: suggest its equality columns, then the sort keys
      const first = firstLoop.get(row.parent);
      const firstRow = rows.find((r) => r.id === first);
      const m = firstRow ? STEP.exec(firstRow.detail) : null;
      const outer = m ? (byLabel(m[3] ?? m[2]!) ?? byLabel(m[2]!)) : undefined;
      // attribute the sort to the table whose columns it sorts on (the outer loop when it has them)
      const keysOf = (r: TableRef): readonly IndexKey[] => (group ? r.groupBy : r.orderBy);
      const ref =
        outer && keysOf(outer).length === 0
          ? (shape.refs.find((r) => r.scope === outer.scope && keysOf(r).length > 0) ?? outer)
          : outer;
      issues.push({
        kind: 'temp-btree',
        table: ref?.table,
        detail: row.detail,
        message: `sorts rows in a temporary b-tree for ${what}`,
      });
      if (ref && !what.includes('DISTINCT') && indexable(ref, firstRow?.detail ?? '')) {
        const sortKeys = keysOf(ref);
        if (sortKeys.length > 0)
          suggest(
            db,
            ref,
            dedupe([...ref.eq, ...sortKeys]),
            `lets ${ref.table} be read in ${group ? 'GROUP BY' : 'ORDER BY'} order without a sort`,
            suggestions,
          );
      }
    }
  }
  return { rows, issues, suggestions, error: undefined };
}
