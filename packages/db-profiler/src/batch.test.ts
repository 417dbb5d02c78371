import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchInsert, batchUpsert } from './batch.js';
import { BatchWriteError, InvalidIdentifierError, InvalidOptionError } from './errors.js';
import { profile } from './profiler.js';
import { openTempDb, type TempDb } from './test-utils/fixtures.js';

let t: TempDb;
const count = (table = 'bars'): number =>
  t.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

beforeEach(() => {
  t = openTempDb();
  t.db
    .exec(`CREATE TABLE bars (symbol TEXT NOT NULL, time INTEGER NOT NULL, open REAL, high REAL, low REAL,
    close REAL NOT NULL, volume REAL, PRIMARY KEY (symbol, time))`);
});
afterEach(() => t.close());

function columns(n: number, offset = 0) {
  const time = new Float64Array(n);
  const close = new Float64Array(n);
  const volume = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    time[i] = offset + i;
    close[i] = 100 + i / 10;
    volume[i] = i;
  }
  return { time, open: close, high: close, low: close, close, volume };
}

describe('batchInsert', () => {
  it('writes object rows, array rows and Float64Array columns', () => {
    const r1 = batchInsert(t.db, 'bars', [
      { symbol: 'A', time: 1, close: 10 },
      { symbol: 'A', time: 2, close: 11, volume: 5 },
    ]);
    expect(r1).toEqual({ rows: 2, changes: 2, chunks: 1 });
    const r2 = batchInsert(
      t.db,
      'bars',
      [
        ['B', 1, 20],
        ['B', 2, 21],
      ],
      { columns: ['symbol', 'time', 'close'] },
    );
    expect(r2.changes).toBe(2);
    const cols = columns(1000);
    const r3 = batchInsert(
      t.db,
      'bars',
      { symbol: new Array<string>(1000).fill('C'), ...cols },
      { chunkSize: 64 },
    );
    expect(r3).toEqual({ rows: 1000, changes: 1000, chunks: Math.ceil(1000 / 64) });
    expect(count()).toBe(1004);
    const row = t.db.prepare("SELECT * FROM bars WHERE symbol = 'C' AND time = 999").get();
    expect(row).toEqual({
      symbol: 'C',
      time: 999,
      open: 199.9,
      high: 199.9,
      low: 199.9,
      close: 199.9,
      volume: 999,
    });
    expect(
      t.db.prepare("SELECT volume FROM bars WHERE symbol = 'A' AND time = 1").pluck().get(),
    ).toBeNull();
  });

  it('prepares each statement shape once and reuses it across chunks and calls', () => {
    const p = profile(t.db);
    batchInsert(
      t.db,
      'bars',
      { symbol: new Array<string>(300).fill('A'), ...columns(300) },
      { chunkSize: 100 },
    );
    batchInsert(
      t.db,
      'bars',
      { symbol: new Array<string>(300).fill('B'), ...columns(300) },
      { chunkSize: 100 },
    );
    const ins = p.stats().find((s) => s.fingerprint.startsWith('INSERT INTO bars'));
    expect(ins?.calls).toBe(6);
    expect(ins?.rows).toBe(600);
    p.detach();
  });

  it('rolls the whole batch back when a row fails mid-way, naming the row index and values', () => {
    const n = 1000;
    const cols = { symbol: new Array<string>(n).fill('A'), ...columns(n) };
    cols.time[700] = 3; // duplicates row 3's primary key
    let err: unknown;
    try {
      batchInsert(t.db, 'bars', cols, { chunkSize: 128 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BatchWriteError);
    const e = err as BatchWriteError;
    expect(e.rowIndex).toBe(700);
    expect(e.row).toMatchObject({ symbol: 'A', time: 3 });
    expect(e.message).toContain('row 700');
    expect(e.message).toContain('UNIQUE constraint failed');
    expect((e.cause as { code: string }).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(count()).toBe(0);
    expect(t.db.inTransaction).toBe(false);
  });

  it('rolls back on a bad value in the last, partial chunk too', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({
      symbol: 'A',
      time: i,
      close: i === 9 ? null : i,
    }));
    expect(() => batchInsert(t.db, 'bars', rows, { chunkSize: 4 })).toThrow(
      /row 9 .*NOT NULL constraint failed: bars\.close/,
    );
    expect(count()).toBe(0);
  });

  it('is a savepoint inside an outer transaction: the outer work survives a failed batch', () => {
    t.db.transaction(() => {
      batchInsert(t.db, 'bars', [{ symbol: 'X', time: 1, close: 1 }]);
      expect(() =>
        batchInsert(t.db, 'bars', [
          { symbol: 'Y', time: 1, close: 1 },
          { symbol: 'X', time: 1, close: 2 },
        ]),
      ).toThrow(BatchWriteError);
    })();
    expect(t.db.prepare('SELECT symbol FROM bars').pluck().all()).toEqual(['X']);
  });

  it("names the failing row with onConflict 'fail', which keeps a failed statement's earlier rows", () => {
    // INSERT OR FAIL does not undo the rows of the chunk written before the bad one; replaying the
    // chunk on top of them must not blame the chunk's first row for its own duplicate key.
    const n = 300;
    const cols = { symbol: new Array<string>(n).fill('A'), ...columns(n) };
    cols.close[250] = Number.NaN; // bound as NULL: NOT NULL constraint of close
    let err: unknown;
    try {
      batchInsert(t.db, 'bars', cols, { chunkSize: 128, onConflict: 'fail' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BatchWriteError);
    expect((err as BatchWriteError).rowIndex).toBe(250);
    expect((err as BatchWriteError).message).toMatch(/row 250 .*NOT NULL constraint failed/);
    expect(count()).toBe(0);

    const rows = Array.from({ length: 10 }, (_, i) => ({ symbol: 'B', time: i % 7, close: i }));
    expect(() => batchInsert(t.db, 'bars', rows, { onConflict: 'fail' })).toThrow(
      /row 7 \{"symbol":"B","time":0,"close":7\}: UNIQUE constraint failed/,
    );
    expect(count()).toBe(0);
    expect(t.db.inTransaction).toBe(false);
    // a batch without a failure writes everything
    expect(batchInsert(t.db, 'bars', rows.slice(0, 7), { onConflict: 'fail' }).changes).toBe(7);
    expect(count()).toBe(7);
  });

  it('writes to a TEMP table named without a schema, as INSERT resolves it', () => {
    t.db.exec('CREATE TEMP TABLE scratch (symbol TEXT, px REAL)');
    expect(batchInsert(t.db, 'scratch', [{ symbol: 'A', px: 1.5 }]).changes).toBe(1);
    expect(t.db.prepare('SELECT px FROM scratch').pluck().all()).toEqual([1.5]);
    // a temp table shadows a main table of the same name: the columns checked are the ones written
    t.db.exec('CREATE TEMP TABLE bars (symbol TEXT, px REAL)');
    expect(batchInsert(t.db, 'bars', [{ symbol: 'B', px: 2 }]).changes).toBe(1);
    expect(() => batchInsert(t.db, 'bars', [{ symbol: 'B', time: 1, close: 1 }])).toThrow(
      /"time" is not a column of bars/,
    );
    expect(batchInsert(t.db, 'main.bars', [{ symbol: 'B', time: 1, close: 1 }]).changes).toBe(1);
    expect(t.db.prepare('SELECT count(*) FROM main.bars').pluck().get()).toBe(1);
  });

  it('honours onConflict ignore and replace', () => {
    batchInsert(t.db, 'bars', [{ symbol: 'A', time: 1, close: 1 }]);
    const ign = batchInsert(
      t.db,
      'bars',
      [
        { symbol: 'A', time: 1, close: 2 },
        { symbol: 'A', time: 2, close: 2 },
      ],
      { onConflict: 'ignore' },
    );
    expect(ign.changes).toBe(1);
    expect(t.db.prepare('SELECT close FROM bars WHERE time = 1').pluck().get()).toBe(1);
    batchInsert(t.db, 'bars', [{ symbol: 'A', time: 1, close: 3 }], { onConflict: 'replace' });
    expect(t.db.prepare('SELECT close FROM bars WHERE time = 1').pluck().get()).toBe(3);
  });

  it('validates identifiers, columns and options with clear errors', () => {
    expect(() => batchInsert(t.db, 'bars; DROP TABLE bars', [{ a: 1 }])).toThrow(
      InvalidIdentifierError,
    );
    expect(() => batchInsert(t.db, 'bars; DROP TABLE bars', [{ a: 1 }])).toThrow(
      /Invalid table: "bars; DROP TABLE bars" is not a plain SQL identifier/,
    );
    expect(() => batchInsert(t.db, 'nope', [{ a: 1 }])).toThrow(
      /Invalid table: "nope" does not exist/,
    );
    expect(() => batchInsert(t.db, 'bars', [{ 'close"': 1 }])).toThrow(
      /Invalid columns\[0\]: "close\\"" is not a plain SQL identifier/,
    );
    expect(() => batchInsert(t.db, 'bars', [{ price: 1 }])).toThrow(
      /"price" is not a column of bars/,
    );
    expect(() => batchInsert(t.db, 'bars', [['A', 1]])).toThrow(/opts\.columns/);
    expect(() => batchInsert(t.db, 'bars', [{ close: 1 }], { chunkSize: 0 })).toThrow(
      InvalidOptionError,
    );
    expect(() => batchInsert(t.db, 'bars', [{ close: 1 }], { chunkSize: 40_000 })).toThrow(
      /opts\.chunkSize: got 40000; expected an integer in \[1, 32766\]/,
    );
    expect(() =>
      batchInsert(t.db, 'bars', [{ close: 1 }], { onConflict: 'rollback' as 'abort' }),
    ).toThrow(/opts\.onConflict/);
    expect(() =>
      batchInsert(t.db, 'bars', { time: new Float64Array(3), close: new Float64Array(2) }),
    ).toThrow(/rowsOrColumns\.close\.length: got 2/);
    expect(count()).toBe(0);
  });

  it('accepts plain-array columns and binds undefined as NULL', () => {
    const r = batchInsert(t.db, 'bars', {
      symbol: ['A', 'A', 'A'],
      time: [1, 2, 3],
      close: [1, 2, 3],
      volume: [undefined, 5, undefined],
    });
    expect(r.changes).toBe(3);
    expect(t.db.prepare('SELECT volume FROM bars ORDER BY time').pluck().all()).toEqual([
      null,
      5,
      null,
    ]);
  });

  it('writes nothing and succeeds for empty input', () => {
    expect(batchInsert(t.db, 'bars', [])).toEqual({ rows: 0, changes: 0, chunks: 0 });
  });
});

describe('batchUpsert', () => {
  it('inserts new rows and updates existing ones on the conflict key', () => {
    batchInsert(t.db, 'bars', [{ symbol: 'A', time: 1, close: 1, volume: 10 }]);
    const r = batchUpsert(
      t.db,
      'bars',
      [
        { symbol: 'A', time: 1, close: 5, volume: 50 },
        { symbol: 'A', time: 2, close: 6, volume: 60 },
      ],
      { conflictColumns: ['symbol', 'time'] },
    );
    expect(r.changes).toBe(2);
    expect(t.db.prepare('SELECT time, close, volume FROM bars ORDER BY time').all()).toEqual([
      { time: 1, close: 5, volume: 50 },
      { time: 2, close: 6, volume: 60 },
    ]);
    batchUpsert(t.db, 'bars', [{ symbol: 'A', time: 1, close: 9, volume: 90 }], {
      conflictColumns: ['symbol', 'time'],
      updateColumns: ['close'],
    });
    expect(t.db.prepare('SELECT close, volume FROM bars WHERE time = 1').get()).toEqual({
      close: 9,
      volume: 50,
    });
    batchUpsert(t.db, 'bars', [{ symbol: 'A', time: 1, close: 0 }], {
      conflictColumns: ['symbol', 'time'],
      updateColumns: [],
    });
    expect(t.db.prepare('SELECT close FROM bars WHERE time = 1').pluck().get()).toBe(9);
  });

  it('upserts columnar bars and rolls back entirely on failure', () => {
    const n = 500;
    batchUpsert(
      t.db,
      'bars',
      { symbol: new Array<string>(n).fill('A'), ...columns(n) },
      { conflictColumns: ['symbol', 'time'] },
    );
    const again = { symbol: new Array<string>(n).fill('A'), ...columns(n) };
    again.close[250] = Number.NaN; // SQLite stores NaN as NULL → NOT NULL fails
    expect(() => batchUpsert(t.db, 'bars', again, { conflictColumns: ['symbol', 'time'] })).toThrow(
      /row 250/,
    );
    expect(count()).toBe(n);
    expect(t.db.prepare('SELECT close FROM bars WHERE time = 250').pluck().get()).toBe(125);
  });

  it('rejects updateColumns that are not among the input columns', () => {
    expect(() =>
      batchUpsert(t.db, 'bars', [{ symbol: 'A', time: 1, close: 1 }], {
        conflictColumns: ['symbol', 'time'],
        updateColumns: ['volume'],
      }),
    ).toThrow(/opts\.updateColumns\[0\]: got "volume"/);
  });

  it('requires conflictColumns that name a unique key', () => {
    expect(() =>
      batchUpsert(t.db, 'bars', [{ symbol: 'A', time: 1, close: 1 }], { conflictColumns: [] }),
    ).toThrow(/opts\.conflictColumns/);
    expect(() =>
      batchUpsert(t.db, 'bars', [{ symbol: 'A', time: 1, close: 1 }], {
        conflictColumns: ['close'],
      }),
    ).toThrow(/ON CONFLICT clause does not match/);
  });
});
