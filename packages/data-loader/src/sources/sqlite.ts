import Database from 'better-sqlite3';
import { ColumnBuilder, OHLCV_FIELDS, validateColumns, type OhlcvField } from '../columns.js';
import { DataValidationError, LoaderOptionError } from '../errors.js';
import { digest, nameOption } from './naming.js';
import type { Source } from './types.js';

/** Options of {@link sqliteSource}. */
export interface SqliteSourceOptions {
  /** An open better-sqlite3 database, or a file path opened read-only. */
  readonly database: Database.Database | string;
  /** Table (or view) holding the bars. */
  readonly table: string;
  /** Column holding the symbol (default `symbol`). */
  readonly symbolColumn?: string;
  /** Column names when they differ from time/open/high/low/close/volume. */
  readonly columns?: Partial<Record<OhlcvField, string>>;
  /**
   * Name of this source in cache keys and reports. Default for a database file:
   * `sqlite:<absolute file path>:<table>`, followed by `#<digest>` of `symbolColumn` and `columns`
   * when either is given. An in-memory or temporary database has no file to name it by: a
   * `DataLoader` with a `cache` then refuses the source until it has a `name`.
   */
  readonly name?: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function quoteIdentifier(option: string, name: string): string {
  if (!IDENTIFIER.test(name))
    throw new LoaderOptionError(
      option,
      name,
      'an SQL identifier of letters, digits and _ (not starting with a digit)',
    );
  return `"${name}"`;
}

/**
 * A source reading bars from a SQLite table with better-sqlite3. The statement is prepared
 * once; rows are iterated with `.raw()` (arrays, no per-row objects) straight into columns,
 * ordered by time.
 */
export function sqliteSource(options: SqliteSourceOptions): Source & { close(): void } {
  const explicitName = nameOption(options.name);
  const table = quoteIdentifier('table', options.table);
  const symbolColumn = quoteIdentifier('symbolColumn', options.symbolColumn ?? 'symbol');
  const cols = OHLCV_FIELDS.map((f) => quoteIdentifier(`columns.${f}`, options.columns?.[f] ?? f));
  const ownsDb = typeof options.database === 'string';
  const db =
    typeof options.database === 'string'
      ? new Database(options.database, { readonly: true, fileMustExist: true })
      : options.database;
  let statement: Database.Statement<[string], unknown[]>;
  try {
    statement = db
      .prepare<[string], unknown[]>(
        `SELECT ${cols.join(', ')} FROM ${table} WHERE ${symbolColumn} = ? ORDER BY ${cols[0]}`,
      )
      .raw(true);
  } catch (cause) {
    if (ownsDb) db.close();
    throw new LoaderOptionError(
      'table',
      options.table,
      `a table with columns ${cols.join(', ')} and ${symbolColumn} (${(cause as Error).message})`,
    );
  }
  const name = explicitName ?? derivedName(db, options);
  return {
    name: name ?? `sqlite:${options.table}`,
    ...(name ? {} : { anonymous: true }),
    // A throw inside the executor becomes a rejection, so callers always get a promise.
    load: (symbol) => new Promise((resolve) => resolve(readSymbol(symbol))),
    close() {
      if (ownsDb) db.close();
    },
  };

  function readSymbol(symbol: string) {
    const builder = new ColumnBuilder(1024);
    let r = 0;
    for (const row of statement.iterate(symbol)) {
      const [t, o, h, l, c, v] = row as [unknown, unknown, unknown, unknown, unknown, unknown];
      if (
        typeof t !== 'number' ||
        typeof o !== 'number' ||
        typeof h !== 'number' ||
        typeof l !== 'number' ||
        typeof c !== 'number' ||
        typeof v !== 'number'
      ) {
        const bad = row.findIndex((x) => typeof x !== 'number');
        throw new DataValidationError(symbol, `non-numeric value ${JSON.stringify(row[bad])}`, {
          row: r,
          field: OHLCV_FIELDS[bad]!,
        });
      }
      builder.push(t, o, h, l, c, v);
      r++;
    }
    return validateColumns(symbol, builder.finish());
  }
}

/**
 * `sqlite:<file>:<table>[#digest]` for a database file; undefined for an in-memory or temporary
 * one. The file is SQLite's own absolute path of the main database, so a relative path and an
 * open handle name the same file alike.
 */
function derivedName(db: Database.Database, options: SqliteSourceOptions): string | undefined {
  if (db.memory) return undefined;
  const main = (db.pragma('database_list') as { name: string; file: string }[]).find(
    (entry) => entry.name === 'main',
  );
  if (!main?.file) return undefined;
  const mapping = { symbolColumn: options.symbolColumn, columns: options.columns };
  const plain = mapping.symbolColumn === undefined && mapping.columns === undefined;
  return `sqlite:${main.file}:${options.table}${plain ? '' : `#${digest(mapping)}`}`;
}
