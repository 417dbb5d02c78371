import type Database from 'better-sqlite3';
import {
  BatchWriteError,
  InvalidIdentifierError,
  InvalidOptionError,
  describeValue,
} from './errors.js';
import { checkIdentifier, tableColumns } from './identifiers.js';

/** One row: an object keyed by column, or an array in `columns` order. */
export type BatchRow = Readonly<Record<string, unknown>> | readonly unknown[];

/**
 * Columnar input: column name → values, all of one length. `Float64Array` columns (bars) are
 * bound straight from the typed array, without building a row object per bar.
 */
export type BatchColumns = Readonly<Record<string, ArrayLike<unknown>>>;

/** SQLite conflict resolution for a plain insert (`INSERT OR <X>`). */
export type OnConflict = 'abort' | 'fail' | 'ignore' | 'replace';

/** Options shared by {@link batchInsert} and {@link batchUpsert}. */
export interface BatchOptionsBase {
  /** Column names. Required for array rows; defaults to the first object's keys or the columnar keys. */
  readonly columns?: readonly string[];
  /**
   * Rows per multi-row `INSERT ... VALUES (...), (...)` statement. Default `min(256, 32766 / columns)`.
   * `chunkSize × columns` must not exceed 32766 (SQLite's bound-parameter limit).
   */
  readonly chunkSize?: number;
}

/** Options of {@link batchInsert}. */
export interface BatchInsertOptions extends BatchOptionsBase {
  /** Conflict resolution. Default `abort` (a conflict fails the batch, which is rolled back). */
  readonly onConflict?: OnConflict;
}

/** Options of {@link batchUpsert}. */
export interface BatchUpsertOptions extends BatchOptionsBase {
  /** Columns of the PRIMARY KEY or UNIQUE constraint that identifies a row (the ON CONFLICT target). */
  readonly conflictColumns: readonly string[];
  /** Columns to overwrite on conflict. Default: every input column not in `conflictColumns`. Empty → DO NOTHING. */
  readonly updateColumns?: readonly string[];
}

/** What a batch wrote. */
export interface BatchResult {
  /** Input rows. */
  readonly rows: number;
  /** Rows SQLite reports changed (ignored conflicts are not counted). */
  readonly changes: number;
  /** Statements executed. */
  readonly chunks: number;
}

const MAX_PARAMS = 32766;
const ON_CONFLICT: readonly OnConflict[] = ['abort', 'fail', 'ignore', 'replace'];
const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function prepared(db: Database.Database, sql: string): Database.Statement {
  let m = cache.get(db);
  if (!m) {
    m = new Map<string, Database.Statement>();
    cache.set(db, m);
  }
  let s = m.get(sql);
  if (!s) {
    if (m.size > 64) m.clear();
    s = db.prepare(sql);
    m.set(sql, s);
  }
  return s;
}

interface Source {
  readonly columns: readonly string[];
  readonly length: number;
  /** Write `count` rows starting at `start` into `out` (row-major). Allocation-free. */
  fill(start: number, count: number, out: unknown[]): void;
  /** The row at `i` as an object (error messages only). */
  row(i: number): Record<string, unknown>;
}

function columnarSource(input: BatchColumns, columns: readonly string[] | undefined): Source {
  const names = columns ?? Object.keys(input);
  const cols = names.map((n) => {
    const c = input[n];
    if (c === undefined || c === null || typeof c.length !== 'number')
      throw new InvalidOptionError(
        `rowsOrColumns.${n}`,
        c,
        'an array or typed array of column values',
      );
    return c;
  });
  const length = cols[0]?.length ?? 0;
  cols.forEach((c, i) => {
    if (c.length !== length)
      throw new InvalidOptionError(
        `rowsOrColumns.${names[i]!}.length`,
        c.length,
        `${length} (every column must have the length of ${names[0]!})`,
      );
  });
  return {
    columns: names,
    length,
    fill(start, count, out) {
      const w = cols.length;
      for (let c = 0; c < w; c++) {
        const col = cols[c]!;
        let k = c;
        for (let i = start, end = start + count; i < end; i++, k += w) {
          const v = col[i];
          out[k] = v === undefined ? null : v;
        }
      }
    },
    row(i) {
      const r: Record<string, unknown> = {};
      names.forEach((n, c) => (r[n] = cols[c]![i]));
      return r;
    },
  };
}

function rowSource(rows: readonly BatchRow[], columns: readonly string[] | undefined): Source {
  const first = rows[0];
  const arrays = Array.isArray(first);
  if (arrays && !columns)
    throw new InvalidOptionError(
      'opts.columns',
      columns,
      'the column names (required when rows are arrays)',
    );
  const names = columns ?? (first ? Object.keys(first) : []);
  const w = names.length;
  return {
    columns: names,
    length: rows.length,
    fill(start, count, out) {
      let k = 0;
      for (let i = start, end = start + count; i < end; i++) {
        const r = rows[i] as Record<string, unknown> | readonly unknown[] | undefined;
        if (r === null || typeof r !== 'object' || Array.isArray(r) !== arrays) {
          throw new InvalidOptionError(
            `rowsOrColumns[${i}]`,
            r,
            arrays ? 'an array of column values' : 'an object keyed by column',
          );
        }
        if (arrays) {
          const a = r as readonly unknown[];
          if (a.length !== w)
            throw new InvalidOptionError(
              `rowsOrColumns[${i}].length`,
              a.length,
              `${w} (one value per column)`,
            );
          for (let c = 0; c < w; c++) {
            const v = a[c];
            out[k++] = v === undefined ? null : v;
          }
        } else {
          const o = r as Record<string, unknown>;
          for (let c = 0; c < w; c++) {
            const v = o[names[c]!];
            out[k++] = v === undefined ? null : v;
          }
        }
      }
    },
    row(i) {
      const r = rows[i];
      if (!Array.isArray(r)) return { ...(r as Record<string, unknown>) };
      const o: Record<string, unknown> = {};
      names.forEach((n, c) => (o[n] = (r as readonly unknown[])[c]));
      return o;
    },
  };
}

function toSource(input: unknown, columns: readonly string[] | undefined): Source {
  if (Array.isArray(input)) return rowSource(input as readonly BatchRow[], columns);
  if (input !== null && typeof input === 'object')
    return columnarSource(input as BatchColumns, columns);
  throw new InvalidOptionError(
    'rowsOrColumns',
    input,
    'an array of rows (objects or arrays) or an object of equal-length columns',
  );
}

function checkColumns(
  db: Database.Database,
  table: string,
  names: readonly string[],
  parameter: string,
): string[] {
  const known = new Set(tableColumns(db, table).map((c) => c.toLowerCase()));
  return names.map((n, i) => {
    const q = checkIdentifier(`${parameter}[${i}]`, n);
    if (!known.has(n.toLowerCase()))
      throw new InvalidIdentifierError(
        `${parameter}[${i}]`,
        n,
        `is not a column of ${table} (columns: ${[...known].join(', ')})`,
      );
    return q;
  });
}

function resolveChunk(chunkSize: unknown, width: number): number {
  const max = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, width)));
  if (chunkSize === undefined) return Math.min(256, max);
  if (
    typeof chunkSize !== 'number' ||
    !Number.isInteger(chunkSize) ||
    chunkSize < 1 ||
    chunkSize > max
  )
    throw new InvalidOptionError(
      'opts.chunkSize',
      chunkSize,
      `an integer in [1, ${max}] (32766 bound parameters / ${width} columns)`,
    );
  return chunkSize;
}

function execute(
  db: Database.Database,
  table: string,
  src: Source,
  chunk: number,
  sqlFor: (rows: number) => string,
  partial = false,
): BatchResult {
  const n = src.length;
  const w = src.columns.length;
  if (n === 0) return { rows: 0, changes: 0, chunks: 0 };
  if (w === 0) throw new InvalidOptionError('opts.columns', src.columns, 'at least one column');
  let full: Database.Statement;
  try {
    full = prepared(db, sqlFor(Math.min(chunk, n)));
  } catch (err) {
    throw new BatchWriteError(table, -1, undefined, err);
  }
  const params: unknown[] = new Array<unknown>(Math.min(chunk, n) * w);
  const tailRows = n > chunk ? n % chunk : 0;
  const tailParams: unknown[] = tailRows > 0 ? new Array<unknown>(tailRows * w) : [];
  const one: unknown[] = new Array<unknown>(w);
  // INSERT OR FAIL keeps the rows a failing statement wrote before the bad one, so the replay below
  // would trip over them (a UNIQUE key then blames the chunk's first row). In that mode each chunk
  // runs inside a savepoint that is rolled back before the replay.
  const mark = partial ? prepared(db, 'SAVEPOINT dbprof_chunk') : undefined;
  const unmark = partial ? prepared(db, 'RELEASE dbprof_chunk') : undefined;
  const undo = partial ? prepared(db, 'ROLLBACK TO dbprof_chunk') : undefined;

  const locate = (start: number, count: number, err: unknown): never => {
    // The multi-row statement failed as a whole: replay its rows one by one (inside the same
    // transaction, which is rolled back anyway) to name the first row SQLite rejects.
    undo?.run();
    const single = prepared(db, sqlFor(1));
    for (let i = start; i < start + count; i++) {
      try {
        src.fill(i, 1, one);
        single.run(one);
      } catch (rowErr) {
        if (rowErr instanceof InvalidOptionError) throw rowErr;
        throw new BatchWriteError(table, i, src.row(i), rowErr);
      }
    }
    throw new BatchWriteError(table, -1, undefined, err);
  };

  let changes = 0;
  let chunks = 0;
  const tx = db.transaction(() => {
    let i = 0;
    const fullRows = Math.min(chunk, n);
    for (; i + fullRows <= n; i += fullRows) {
      mark?.run();
      try {
        src.fill(i, fullRows, params);
        changes += full.run(params).changes;
      } catch (err) {
        if (err instanceof InvalidOptionError) throw err;
        locate(i, fullRows, err);
      }
      unmark?.run();
      chunks++;
    }
    if (i < n) {
      const rest = n - i;
      const stmt = prepared(db, sqlFor(rest));
      mark?.run();
      try {
        src.fill(i, rest, tailParams);
        changes += stmt.run(tailParams).changes;
      } catch (err) {
        if (err instanceof InvalidOptionError) throw err;
        locate(i, rest, err);
      }
      unmark?.run();
      chunks++;
    }
  });
  tx.immediate();
  return { rows: n, changes, chunks };
}

function valuesList(rows: number, width: number): string {
  const tuple = `(${new Array<string>(width).fill('?').join(', ')})`;
  return new Array<string>(rows).fill(tuple).join(', ');
}

/**
 * Insert many rows in ONE transaction with multi-row `INSERT ... VALUES (...), (...)` statements
 * (prepared once per shape and cached per database). Input: an array of row objects, an array of
 * arrays (with `opts.columns`) or columnar data (`{ time: Float64Array, close: Float64Array, ... }`).
 * Table and column names are validated and quoted. On any failure the whole batch is rolled back
 * and a {@link BatchWriteError} names the failing row's index and values. Inside an outer
 * transaction the batch is a savepoint of it.
 */
export function batchInsert(
  db: Database.Database,
  table: string,
  rowsOrColumns: readonly BatchRow[] | BatchColumns,
  opts: BatchInsertOptions = {},
): BatchResult {
  const qTable = checkIdentifier('table', table, true);
  const onConflict = opts.onConflict ?? 'abort';
  if (!ON_CONFLICT.includes(onConflict))
    throw new InvalidOptionError(
      'opts.onConflict',
      onConflict,
      ON_CONFLICT.map((c) => `'${c}'`).join(', '),
    );
  const src = toSource(rowsOrColumns, opts.columns);
  const qCols = checkColumns(db, table, src.columns, 'columns');
  const chunk = resolveChunk(opts.chunkSize, qCols.length);
  const verb = onConflict === 'abort' ? 'INSERT' : `INSERT OR ${onConflict.toUpperCase()}`;
  const head = `${verb} INTO ${qTable} (${qCols.join(', ')}) VALUES `;
  return execute(
    db,
    table,
    src,
    chunk,
    (rows) => head + valuesList(rows, qCols.length),
    onConflict === 'fail',
  );
}

/**
 * Insert-or-update many rows in one transaction: `INSERT ... ON CONFLICT (conflictColumns) DO UPDATE
 * SET col = excluded.col` for every `updateColumns` entry (or DO NOTHING when it is empty). Same
 * input shapes, chunking, validation and all-or-nothing failure as {@link batchInsert}.
 */
export function batchUpsert(
  db: Database.Database,
  table: string,
  rowsOrColumns: readonly BatchRow[] | BatchColumns,
  opts: BatchUpsertOptions,
): BatchResult {
  const qTable = checkIdentifier('table', table, true);
  if (!opts || !Array.isArray(opts.conflictColumns) || opts.conflictColumns.length === 0)
    throw new InvalidOptionError(
      'opts.conflictColumns',
      opts?.conflictColumns,
      'a non-empty array of column names (a PRIMARY KEY or UNIQUE constraint)',
    );
  const src = toSource(rowsOrColumns, opts.columns);
  const qCols = checkColumns(db, table, src.columns, 'columns');
  const qConflict = checkColumns(db, table, opts.conflictColumns, 'opts.conflictColumns');
  const conflictSet = new Set(opts.conflictColumns.map((c: string) => c.toLowerCase()));
  const update = opts.updateColumns ?? src.columns.filter((c) => !conflictSet.has(c.toLowerCase()));
  const qUpdate = checkColumns(db, table, update, 'opts.updateColumns');
  update.forEach((c, i) => {
    if (!src.columns.some((s) => s.toLowerCase() === c.toLowerCase()))
      throw new InvalidOptionError(
        `opts.updateColumns[${i}]`,
        c,
        `one of the input columns (${describeValue(src.columns)})`,
      );
  });
  const chunk = resolveChunk(opts.chunkSize, qCols.length);
  const action =
    qUpdate.length === 0
      ? 'DO NOTHING'
      : `DO UPDATE SET ${qUpdate.map((c) => `${c} = excluded.${c}`).join(', ')}`;
  const head = `INSERT INTO ${qTable} (${qCols.join(', ')}) VALUES `;
  const tail = ` ON CONFLICT (${qConflict.join(', ')}) ${action}`;
  return execute(db, table, src, chunk, (rows) => head + valuesList(rows, qCols.length) + tail);
}
