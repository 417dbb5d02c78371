import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzePlan } from './plan.js';
import { openTempDb, seed, type TempDb } from './test-utils/fixtures.js';

interface Fixture {
  readonly name: string;
  readonly sql: string;
  readonly params?: readonly unknown[];
  /** Expected flags as `kind:table`, exactly. */
  readonly flags: readonly string[];
  /** Expected index keys of the suggestions, e.g. `orders("status","created")`. */
  readonly suggest?: readonly string[];
}

const FIXTURES: readonly Fixture[] = [
  // indexed lookups: nothing to flag
  { name: 'rowid lookup', sql: 'SELECT * FROM bars WHERE id = ?', params: [5], flags: [] },
  {
    name: 'rowid range',
    sql: 'SELECT * FROM bars WHERE id BETWEEN ? AND ?',
    params: [5, 9],
    flags: [],
  },
  {
    name: 'indexed equality',
    sql: 'SELECT * FROM bars WHERE symbol = ?',
    params: ['S1'],
    flags: [],
  },
  {
    name: 'indexed equality + range',
    sql: 'SELECT * FROM bars WHERE symbol = ? AND time >= ? AND time < ?',
    params: ['S1', 1, 50],
    flags: [],
  },
  {
    name: 'covering index search',
    sql: 'SELECT time FROM bars WHERE symbol = ?',
    params: ['S1'],
    flags: [],
  },
  { name: 'indexed IN list', sql: "SELECT * FROM bars WHERE symbol IN ('S1', 'S2')", flags: [] },
  {
    name: 'expression index on lower(col)',
    sql: 'SELECT * FROM accounts WHERE lower(name) = ?',
    params: ['acct1'],
    flags: [],
  },
  {
    name: 'update by rowid',
    sql: 'UPDATE bars SET close = ? WHERE id = ?',
    params: [1, 2],
    flags: [],
  },
  // unfiltered scans are not flagged
  { name: 'unfiltered scan', sql: 'SELECT * FROM bars', flags: [] },
  { name: 'unfiltered LIMIT', sql: 'SELECT * FROM orders LIMIT 10', flags: [] },
  { name: 'count(*) over covering index', sql: 'SELECT count(*) FROM bars', flags: [] },
  // sorts
  {
    name: 'sort served by index',
    sql: 'SELECT * FROM bars WHERE symbol = ? ORDER BY time',
    params: ['S1'],
    flags: [],
  },
  {
    name: 'group by served by index',
    sql: 'SELECT symbol, count(*) FROM bars GROUP BY symbol',
    flags: [],
  },
  {
    name: 'unindexed sort',
    sql: 'SELECT * FROM bars ORDER BY close',
    flags: ['temp-btree:bars'],
    suggest: ['bars("close")'],
  },
  {
    name: 'unindexed group by',
    sql: 'SELECT status, count(*) FROM orders GROUP BY status',
    flags: ['temp-btree:orders'],
    suggest: ['orders("status")'],
  },
  {
    name: 'sort on a non-index column after a range',
    sql: 'SELECT * FROM bars WHERE symbol = ? AND time > ? ORDER BY close',
    params: ['S1', 3],
    flags: ['temp-btree:bars'],
    suggest: ['bars("symbol","close")'],
  },
  {
    name: 'join grouped by an inner table column',
    sql: 'SELECT a.name, count(*) FROM accounts a JOIN orders o ON o.account_id = a.id GROUP BY a.name',
    flags: ['temp-btree:accounts'],
    suggest: ['accounts("name")'],
  },
  // unindexed lookups
  {
    name: 'unindexed equality',
    sql: 'SELECT * FROM bars WHERE time = ?',
    params: [3],
    flags: ['full-scan:bars'],
    suggest: ['bars("time")'],
  },
  {
    name: 'IS NULL filter',
    sql: 'SELECT * FROM orders WHERE status IS NULL',
    flags: ['full-scan:orders'],
    suggest: ['orders("status")'],
  },
  {
    name: 'OR of two columns (flagged, no single index)',
    sql: 'SELECT * FROM bars WHERE symbol = ? OR close > ?',
    params: ['S1', 3],
    flags: ['full-scan:bars'],
  },
  {
    name: 'quoted alias',
    sql: 'SELECT * FROM "bars" AS "B" WHERE "B"."close" = ?',
    params: [1],
    flags: ['full-scan:bars'],
    suggest: ['bars("close")'],
  },
  {
    name: 'CTE flattened into the outer query',
    sql: 'WITH r AS (SELECT * FROM orders WHERE status = ?) SELECT * FROM r JOIN accounts a ON a.id = r.account_id',
    params: ['open'],
    flags: ['full-scan:orders'],
    suggest: ['orders("status")'],
  },
  {
    name: 'INSERT ... SELECT with an unindexed filter',
    sql: 'INSERT INTO orders (account_id, status, created) SELECT id, region, 0 FROM accounts WHERE region = ?',
    params: ['eu'],
    flags: ['full-scan:accounts'],
    suggest: ['accounts("region")'],
  },
  {
    name: 'correlated scalar subquery through an index',
    sql: 'SELECT o.*, (SELECT count(*) FROM trades t WHERE t.bar_id = o.id) FROM orders o WHERE o.id = ?',
    params: [1],
    flags: [],
  },
  {
    name: 'min/max through an index',
    sql: 'SELECT max(time) FROM bars WHERE symbol = ?',
    params: ['S1'],
    flags: [],
  },
  { name: 'DISTINCT over an index', sql: 'SELECT DISTINCT symbol FROM bars', flags: [] },
  {
    name: 'unindexed range filter',
    sql: 'SELECT * FROM bars WHERE close > ?',
    params: [101],
    flags: ['full-scan:bars'],
    suggest: ['bars("close")'],
  },
  {
    name: 'unindexed filter with alias',
    sql: 'SELECT * FROM bars b WHERE b.volume = ?',
    params: [1001],
    flags: ['full-scan:bars'],
    suggest: ['bars("volume")'],
  },
  {
    name: 'unindexed filter + sort',
    sql: 'SELECT * FROM orders WHERE status = ? ORDER BY created',
    params: ['open'],
    flags: ['full-scan:orders', 'temp-btree:orders'],
    suggest: ['orders("status","created")'],
  },
  {
    name: 'equality first, then range',
    sql: 'SELECT * FROM orders WHERE created > ? AND account_id = ?',
    params: [5, 3],
    flags: ['full-scan:orders'],
    suggest: ['orders("account_id","created")'],
  },
  {
    name: 'lower(col) defeats the index',
    sql: 'SELECT * FROM bars WHERE lower(symbol) = ?',
    params: ['s1'],
    flags: ['full-scan:bars'],
    suggest: ['bars(lower("symbol"))'],
  },
  {
    name: 'lower(col) full scan of a covering index',
    sql: 'SELECT symbol FROM bars WHERE lower(symbol) = ?',
    params: ['s1'],
    flags: ['full-scan:bars'],
    suggest: ['bars(lower("symbol"))'],
  },
  {
    name: 'unindexed delete',
    sql: 'DELETE FROM orders WHERE created < ?',
    params: [10],
    flags: ['full-scan:orders'],
    suggest: ['orders("created")'],
  },
  {
    name: 'unindexed filter in a subquery',
    sql: 'SELECT * FROM bars WHERE id IN (SELECT bar_id FROM trades WHERE qty > ?)',
    params: [1],
    flags: ['full-scan:trades'],
    suggest: ['trades("qty")'],
  },
  // joins
  {
    name: 'join on indexed columns',
    sql: 'SELECT b.close FROM bars b JOIN trades t ON t.bar_id = b.id WHERE b.symbol = ? AND b.time = ?',
    params: ['S1', 9],
    flags: [],
  },
  {
    name: 'join, outer loop unfiltered',
    sql: 'SELECT * FROM trades t JOIN bars b ON b.id = t.bar_id',
    flags: [],
  },
  {
    name: 'left join by rowid',
    sql: 'SELECT * FROM trades t LEFT JOIN accounts a ON a.id = t.id',
    flags: [],
  },
  {
    name: 'join with unindexed inner table',
    sql: 'SELECT * FROM bars b JOIN orders o ON o.created = b.time WHERE b.symbol = ?',
    params: ['S1'],
    flags: ['full-scan:orders'],
    suggest: ['orders("created")'],
  },
  {
    name: 'join needing an automatic index',
    sql: 'SELECT * FROM orders o JOIN accounts a ON a.region = o.status',
    flags: ['automatic-index:accounts'],
    suggest: ['accounts("region")'],
  },
  {
    name: 'correlated EXISTS needing an automatic index',
    sql: 'SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM trades t WHERE t.account = o.status)',
    flags: ['automatic-index:trades'],
    suggest: ['trades("account")'],
  },
];

describe('analyzePlan EXPLAIN fixture suite', () => {
  let t: TempDb;
  beforeAll(() => {
    t = openTempDb();
    seed(t.db);
  });
  afterAll(() => t.close());

  it('has zero missed flags and zero false flags over every fixture', () => {
    let missed = 0;
    let falseFlags = 0;
    const problems: string[] = [];
    for (const f of FIXTURES) {
      const a = analyzePlan(t.db, f.sql, f.params ?? []);
      expect(a.error, f.name).toBeUndefined();
      const got = a.issues.map((i) => `${i.kind}:${i.table ?? '?'}`).sort();
      const want = [...f.flags].sort();
      for (const w of want.filter((x) => !got.includes(x))) {
        missed++;
        problems.push(`${f.name}: missed ${w}`);
      }
      for (const g of got.filter((x) => !want.includes(x))) {
        falseFlags++;
        problems.push(`${f.name}: false flag ${g}`);
      }
    }
    expect(problems).toEqual([]);
    expect(missed).toBe(0);
    expect(falseFlags).toBe(0);
  });

  it('flags every plan SCAN of a table the fixture filters (no SCAN of a filtered table goes unflagged)', () => {
    let scansOfFilteredTables = 0;
    for (const f of FIXTURES.filter((x) => x.flags.some((k) => k.startsWith('full-scan:')))) {
      const a = analyzePlan(t.db, f.sql, f.params ?? []);
      const scans = a.rows.filter((r) => r.detail.startsWith('SCAN '));
      scansOfFilteredTables += scans.length;
      expect(a.issues.filter((i) => i.kind === 'full-scan').length, f.name).toBe(
        f.flags.filter((k) => k.startsWith('full-scan:')).length,
      );
    }
    expect(scansOfFilteredTables).toBeGreaterThanOrEqual(7);
  });

  it('suggests CREATE INDEX with equality columns, then range, then ORDER BY columns', () => {
    for (const f of FIXTURES) {
      const a = analyzePlan(t.db, f.sql, f.params ?? []);
      const got = a.suggestions.map((s) => `${s.table}(${s.keys.join(',')})`);
      expect(got, f.name).toEqual(f.suggest ?? []);
      for (const s of a.suggestions)
        expect(s.sql).toMatch(/^CREATE INDEX IF NOT EXISTS "idx_[a-z0-9_]+" ON "[a-z_]+" \(.+\);$/);
    }
  });

  it('removes the flagged scan or sort once the suggested index exists', () => {
    const scratch = openTempDb('scratch.db');
    try {
      seed(scratch.db);
      for (const f of FIXTURES.filter((x) => (x.suggest ?? []).length > 0)) {
        const before = analyzePlan(scratch.db, f.sql, f.params ?? []);
        for (const s of before.suggestions) scratch.db.exec(s.sql);
        const after = analyzePlan(scratch.db, f.sql, f.params ?? []);
        const fixedTables = new Set(before.suggestions.map((s) => s.table));
        const left = after.issues.filter(
          (i) => i.table !== undefined && fixedTables.has(i.table) && i.kind !== 'temp-btree',
        );
        expect(left, f.name).toEqual([]);
        for (const s of before.suggestions)
          scratch.db.exec(
            s.sql.replace(/^CREATE INDEX IF NOT EXISTS ("[^"]+").*$/, 'DROP INDEX $1'),
          );
      }
    } finally {
      scratch.close();
    }
  });

  it('returns the EXPLAIN error instead of throwing for a statement it cannot explain', () => {
    const a = analyzePlan(t.db, 'SELECT * FROM no_such_table WHERE x = ?', [1]);
    expect(a.error).toMatch(/no such table/);
    expect(a.issues).toEqual([]);
  });
});

describe('analyzePlan on objects that cannot be indexed', () => {
  let t: TempDb;
  beforeAll(() => {
    t = openTempDb();
    seed(t.db);
    t.db.exec(`
      CREATE VIEW open_orders AS SELECT DISTINCT account_id, status FROM orders;
      CREATE VIRTUAL TABLE notes USING fts5(body);
      INSERT INTO notes (body) VALUES ('buy the dip'), ('sell the rip');
      CREATE TABLE pairs (base TEXT, quote TEXT, fee REAL, PRIMARY KEY (base, quote)) WITHOUT ROWID;
    `);
  });
  afterAll(() => t.close());

  // Every suggestion must be a statement SQLite accepts; a view, a CTE, a virtual table or
  // sqlite_schema is never a valid CREATE INDEX target.
  const runnable = (sql: string, params: readonly unknown[] = []) => {
    const a = analyzePlan(t.db, sql, params);
    expect(a.error, sql).toBeUndefined();
    for (const s of a.suggestions) {
      t.db.exec('SAVEPOINT try_index');
      try {
        expect(() => t.db.exec(s.sql), s.sql).not.toThrow();
      } finally {
        t.db.exec('ROLLBACK TO try_index; RELEASE try_index');
      }
    }
    return a;
  };
  const flagsOf = (a: ReturnType<typeof analyzePlan>) =>
    a.issues.map((i) => `${i.kind}:${i.table ?? '?'}`).sort();

  it('does not flag or index a view that SQLite runs as a co-routine, aliased or not', () => {
    const a = runnable('SELECT * FROM open_orders WHERE account_id = ?', [3]);
    expect(a.rows.map((r) => r.detail)).toContain('SCAN open_orders');
    expect(flagsOf(a)).not.toContain('full-scan:open_orders');
    expect(a.suggestions).toEqual([]);
    const b = runnable(
      'SELECT * FROM open_orders AS o WHERE o.account_id = ? ORDER BY o.status',
      [3],
    );
    expect(flagsOf(b)).toContain('temp-btree:open_orders'); // the sort is real ...
    expect(b.suggestions).toEqual([]); // ... but no index on a view can remove it
  });

  it('does not flag or index a materialized CTE', () => {
    const a = runnable(
      'WITH recent AS MATERIALIZED (SELECT account_id, created FROM orders) SELECT * FROM recent WHERE account_id = ?',
      [3],
    );
    expect(a.rows.map((r) => r.detail)).toContain('SCAN recent');
    expect(flagsOf(a)).toEqual([]);
    expect(a.suggestions).toEqual([]);
  });

  it('does not flag a virtual table, whose every access EXPLAIN reports as SCAN', () => {
    for (const sql of [
      "SELECT * FROM notes WHERE notes MATCH 'dip'",
      'SELECT * FROM notes WHERE rowid = 1',
      "SELECT * FROM notes WHERE body = 'buy the dip'",
    ]) {
      const a = runnable(sql);
      expect(flagsOf(a), sql).toEqual([]);
      expect(a.suggestions, sql).toEqual([]);
    }
  });

  it('does not index sqlite_schema but still flags and indexes ordinary and WITHOUT ROWID tables', () => {
    expect(runnable("SELECT sql FROM sqlite_master WHERE name = 'bars'").suggestions).toEqual([]);
    const a = runnable('SELECT * FROM pairs WHERE fee > ?', [0.1]);
    expect(flagsOf(a)).toEqual(['full-scan:pairs']);
    expect(a.suggestions.map((s) => s.keys)).toEqual([['"fee"']]);
    const b = runnable('SELECT * FROM pairs WHERE base = ? ORDER BY fee', ['BTC']);
    expect(flagsOf(b)).toEqual(['temp-btree:pairs']);
    expect(b.suggestions.map((s) => s.keys)).toEqual([['"base"', '"fee"']]);
  });
});
