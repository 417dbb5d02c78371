import type Database from 'better-sqlite3';
import { InvalidIdentifierError } from './errors.js';

const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Double-quote an identifier for SQL (`a"b` → `"a""b"`). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Check that `name` is a plain identifier (`[A-Za-z_][A-Za-z0-9_]*`, at most 128 chars; for tables
 * optionally `schema.table`) and return it quoted. Throws {@link InvalidIdentifierError} naming the
 * parameter otherwise. Quoting alone would make any text safe, but rejecting odd names catches
 * mistakes such as passing a value or a whole SQL fragment where a name was meant.
 */
export function checkIdentifier(parameter: string, name: unknown, allowSchema = false): string {
  if (typeof name !== 'string')
    throw new InvalidIdentifierError(
      parameter,
      name,
      'is not a string; expected a table or column name',
    );
  const parts = allowSchema ? name.split('.') : [name];
  if (parts.length > 2 || name.length > 128 || !parts.every((p) => PLAIN.test(p)))
    throw new InvalidIdentifierError(
      parameter,
      name,
      `is not a plain SQL identifier; allowed: letters, digits and _ , not starting with a digit${allowSchema ? ' (optionally schema.table)' : ''}, at most 128 characters`,
    );
  return parts.map(quoteIdentifier).join('.');
}

/** Column names of `table` (may be `schema.table`), in table order; throws when the table does not exist. */
export function tableColumns(db: Database.Database, table: string): string[] {
  checkIdentifier('table', table, true);
  const dot = table.indexOf('.');
  // An unqualified name is looked up the way INSERT resolves it (temp, then main, then attached
  // databases), which is what pragma_table_xinfo does when it is given no schema.
  const cols = (
    dot < 0
      ? db
          .prepare('SELECT name FROM pragma_table_xinfo(?) WHERE hidden IN (0, 2, 3)')
          .pluck()
          .all(table)
      : db
          .prepare('SELECT name FROM pragma_table_xinfo(?, ?) WHERE hidden IN (0, 2, 3)')
          .pluck()
          .all(table.slice(dot + 1), table.slice(0, dot))
  ) as string[];
  if (cols.length === 0)
    throw new InvalidIdentifierError(
      'table',
      table,
      dot < 0 ? 'does not exist' : `does not exist in schema ${table.slice(0, dot)}`,
    );
  return cols;
}
