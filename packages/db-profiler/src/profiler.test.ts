import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  InvalidSqlError,
  NPlusOneError,
  ProfilerAttachedError,
} from './errors.js';
import { fingerprint } from './fingerprint.js';
import { LogLinearHistogram } from './histogram.js';
import { profile, type NPlusOneFinding } from './profiler.js';
import { StatsEntry } from './stats.js';
import { openTempDb, seed, type TempDb } from './test-utils/fixtures.js';

let t: TempDb;
beforeEach(() => {
  t = openTempDb();
  seed(t.db);
});
afterEach(() => t.close());

describe('profile(): statements work as before', () => {
  it('returns the same results, the same Statement object and keeps chaining', () => {
    const expected = t.db.prepare('SELECT * FROM bars WHERE symbol = ? ORDER BY time').all('S1');
    const p = profile(t.db);
    const stmt = t.db.prepare('SELECT * FROM bars WHERE symbol = ? ORDER BY time');
    expect(stmt).toBeInstanceOf(Object.getPrototypeOf(t.db.prepare('SELECT 1')).constructor);
    expect(stmt.all('S1')).toEqual(expected);
    expect(stmt.pluck().get('S1')).toBe((expected[0] as { id: number }).id);
    expect(stmt.pluck(false).raw().get('S1')).toEqual(Object.values(expected[0] as object));
    expect([
      ...t.db.prepare('SELECT id FROM bars WHERE symbol = ?').pluck().iterate('S2'),
    ]).toHaveLength(50);
    const info = t.db.prepare('UPDATE bars SET close = close WHERE symbol = ?').run('S3');
    expect(info.changes).toBe(50);
    expect(stmt.source).toBe('SELECT * FROM bars WHERE symbol = ? ORDER BY time');
    expect(stmt.reader).toBe(true);
    p.detach();
  });

  it('passes exactly the arguments given, for 0 to 5 of them and named parameters', () => {
    const sqlFor = (n: number): string =>
      // a distinct alias per count: literals and placeholders share a fingerprint
      `SELECT ${n === 0 ? '0' : Array.from({ length: n }, () => '?').join(' + ')} AS s${n}`;
    const argsFor = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
    const errorOf = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        return String(e);
      }
      return 'no error';
    };
    // What a statement for n parameters gives: results of get/all/iterate and the errors for one
    // argument too many and one too few (the arity better-sqlite3 sees must be exactly the caller's).
    const observe = (n: number) => {
      const stmt = t.db.prepare(sqlFor(n));
      const args = argsFor(n);
      return {
        get: stmt.get(...args),
        all: stmt.all(...args),
        iterate: [...stmt.iterate(...args)],
        tooMany: errorOf(() => stmt.get(...args, 99)),
        tooFew: n > 0 ? errorOf(() => stmt.get(...args.slice(1))) : 'no error',
      };
    };
    // Plain statements first: what the profiled ones must match, results and errors alike.
    const expected = [0, 1, 2, 3, 4, 5].map(observe);
    expect(expected[2]!.tooMany).toMatch(/Too many parameter values/);
    expect(expected[2]!.tooFew).toMatch(/Too few parameter values/);
    const p = profile(t.db, { slowQuery: { thresholdMs: 0, captureParams: true, maxEntries: 1 } });
    for (let n = 0; n <= 5; n++) {
      const args = argsFor(n);
      const got = observe(n);
      expect(got, `${n} argument(s)`).toEqual(expected[n]);
      expect(p.statsFor(sqlFor(n))?.calls, `${n} argument(s)`).toBe(3);
      // the slow log keeps the arguments of the last successful call as given
      expect(p.slowQueries().at(-1)?.params, `${n} argument(s)`).toEqual(args);
    }
    const named = t.db.prepare('SELECT $a * 10 + $b AS s');
    expect(named.get({ a: 4, b: 2 })).toEqual({ s: 42 });
    const run = t.db.prepare('UPDATE orders SET status = ? WHERE id = ? OR id = ? OR id = ?');
    expect(run.run('x', 1, 2, 3).changes).toBe(3);
    expect(p.statsFor('UPDATE orders SET status = ? WHERE id = ? OR id = ? OR id = ?')?.rows).toBe(
      3,
    );
    p.detach();
  });

  it('rethrows execution errors unchanged and counts them', () => {
    const p = profile(t.db);
    t.db.exec('CREATE UNIQUE INDEX u_acc ON accounts (name)');
    const ins = t.db.prepare('INSERT INTO accounts (name) VALUES (?)');
    let err: unknown;
    try {
      ins.run('Acct1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Database.SqliteError);
    expect((err as { code: string }).code).toBe('SQLITE_CONSTRAINT_UNIQUE');
    const s = p.statsFor('INSERT INTO accounts (name) VALUES (?)');
    expect(s?.errors).toBe(1);
    expect(s?.calls).toBe(0);
  });

  it('keeps working inside db.transaction and with bind()', () => {
    const p = profile(t.db);
    const upd = t.db.prepare('UPDATE orders SET status = ? WHERE id = ?');
    t.db.transaction(() => {
      for (let i = 1; i <= 5; i++) upd.run('x', i);
    })();
    const bound = t.db.prepare('SELECT count(*) FROM orders WHERE status = ?').pluck().bind('x');
    expect(bound.get()).toBe(5);
    expect(p.statsFor('UPDATE orders SET status = ? WHERE id = ?')?.calls).toBe(5);
    expect(
      p.statsFor("SELECT count(*) FROM orders WHERE status = 'y'")?.plan?.error,
    ).toBeUndefined();
  });

  it('throws InvalidSqlError carrying the SQL, the fingerprint and the SQLite code', () => {
    profile(t.db);
    const sql = "SELEC * FROM bars WHERE id = 42 AND symbol = 'X'";
    let err: unknown;
    try {
      t.db.prepare(sql);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidSqlError);
    const e = err as InvalidSqlError;
    expect(e.code).toBe('E_DBPROF_INVALID_SQL');
    expect(e.sql).toBe(sql);
    expect(e.fingerprint).toBe(fingerprint(sql).text);
    expect(e.fingerprint).toContain('id = ?');
    expect(e.fingerprintId).toBe(fingerprint(sql).id);
    expect(e.sqliteCode).toBe('SQLITE_ERROR');
    expect(e.cause).toBeInstanceOf(Database.SqliteError);
    expect(e.message).toContain(sql);
    expect(e.message).toContain(e.fingerprint);
    expect(() => t.db.prepare('SELECT * FROM no_such_table WHERE id = 1')).toThrow(
      /no such table: no_such_table[\s\S]*fingerprint [0-9a-f]{16}: SELECT \* FROM no_such_table WHERE id = \?/,
    );
    // not an SQL problem: better-sqlite3's own TypeError passes through
    expect(() => t.db.prepare(42 as unknown as string)).toThrow(TypeError);
  });

  it('refuses a second profiler and restores prepare on detach', () => {
    const p = profile(t.db);
    expect(() => profile(t.db)).toThrow(ProfilerAttachedError);
    p.detach();
    t.db.prepare('SELECT * FROM bars WHERE id = 1').get();
    expect(p.stats()).toEqual([]);
    const q = profile(t.db);
    t.db.prepare('SELECT * FROM bars WHERE id = 1').get();
    expect(q.stats()).toHaveLength(1);
    q.detach();
  });

  it('puts back a prepare wrapper the database had before profile() on detach', () => {
    const seen: string[] = [];
    const base = t.db.prepare;
    const wrapper = function (this: Database.Database, sql: string) {
      seen.push(sql);
      return base.call(this, sql);
    } as Database.Database['prepare'];
    t.db.prepare = wrapper;
    const p = profile(t.db, { explain: false }); // EXPLAIN would go through the wrapper too
    t.db.prepare('SELECT 1').get();
    p.detach();
    expect(t.db.prepare).toBe(wrapper);
    t.db.prepare('SELECT 2').get();
    expect(seen).toEqual(['SELECT 1', 'SELECT 2']);
    expect(p.stats().map((s) => s.calls)).toEqual([1]);
    // and a second profiler over the wrapper still works and detaches cleanly
    const q = profile(t.db, { explain: false });
    t.db.prepare('SELECT 3').get();
    q.detach();
    expect(t.db.prepare).toBe(wrapper);
    expect(seen).toEqual(['SELECT 1', 'SELECT 2', 'SELECT 3']);
  });

  it('rejects bad options at construction, naming the option', () => {
    expect(() => profile(t.db, { slowQuery: { thresholdMs: -1 } })).toThrow(
      /opts\.slowQuery\.thresholdMs: got -1/,
    );
    expect(() => profile(t.db, { slowQuery: { thresholdMs: 1, sampleRate: 2 } })).toThrow(
      InvalidOptionError,
    );
    expect(() => profile(t.db, { nPlusOne: { threshold: 0 } })).toThrow(
      /opts\.nPlusOne\.threshold/,
    );
    expect(() => profile({} as Database.Database)).toThrow(/Invalid db/);
  });
});

describe('statistics', () => {
  it('counts calls and rows per fingerprint across literals', () => {
    const p = profile(t.db);
    for (let i = 1; i <= 7; i++) t.db.prepare(`SELECT * FROM bars WHERE id = ${i}`).get();
    t.db.prepare('SELECT * FROM bars WHERE id = 99999').get(); // no row
    const all = t.db.prepare('SELECT * FROM bars WHERE symbol = ?');
    for (let i = 0; i < 3; i++) all.all('S4');
    const upd = t.db.prepare('UPDATE orders SET created = created WHERE status = ?');
    for (let i = 0; i < 4; i++) upd.run('filled');
    const it = t.db.prepare('SELECT id FROM bars WHERE symbol = ? AND time < ?');
    for (let i = 0; i < 2; i++) for (const _ of it.iterate('S0', 40)) void _;
    // an early exit from iterate() still records one call with the rows read
    for (const _ of it.iterate('S0', 40)) break;

    const byId = p.statsFor('SELECT * FROM bars WHERE id = 1')!;
    expect(byId.calls).toBe(8);
    expect(byId.rows).toBe(7);
    expect(p.statsFor('SELECT * FROM bars WHERE symbol = ?')).toMatchObject({
      calls: 3,
      rows: 150,
    });
    const filled = t.db
      .prepare("SELECT count(*) FROM orders WHERE status = 'filled'")
      .pluck()
      .get() as number;
    expect(p.statsFor('UPDATE orders SET created = created WHERE status = ?')).toMatchObject({
      calls: 4,
      rows: 4 * filled,
    });
    expect(p.statsFor('SELECT id FROM bars WHERE symbol = ? AND time < ?')).toMatchObject({
      calls: 3,
      rows: 5 + 5 + 1,
    });
    for (const s of p.stats()) {
      expect(s.minNs).toBeGreaterThan(0);
      expect(s.minNs).toBeLessThanOrEqual(s.p50Ns);
      expect(s.p50Ns).toBeLessThanOrEqual(s.p95Ns);
      expect(s.p95Ns).toBeLessThanOrEqual(s.maxNs);
      expect(s.meanNs * s.calls).toBeCloseTo(s.totalNs, 3);
      expect(s.stddevNs).toBeGreaterThanOrEqual(0);
    }
    const totals = p.stats().map((s) => s.totalNs);
    expect(totals).toEqual([...totals].sort((a, b) => b - a));
    p.reset();
    expect(p.stats()).toEqual([]);
  });

  it('computes mean and stddev with Welford and percentiles from the histogram', () => {
    const e = new StatsEntry('x', 'x', 'x', false);
    const values = [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 100_000];
    for (const v of values) e.record(v, 1);
    const s = e.snapshot();
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
    expect(s.calls).toBe(10);
    expect(s.meanNs).toBeCloseTo(mean, 6);
    expect(s.stddevNs).toBeCloseTo(sd, 6);
    expect(s.minNs).toBe(1000);
    expect(s.maxNs).toBe(100_000);
    expect(Math.abs(s.p50Ns - 5000) / 5000).toBeLessThan(0.07);
    expect(s.p95Ns).toBe(100_000); // rank 10 of 10, clamped to max
  });

  it('histogram quantiles stay within one bucket (≈6 %) of the exact value', () => {
    const h = new LogLinearHistogram();
    const xs: number[] = [];
    for (let i = 1; i <= 5000; i++) {
      const v = Math.round(50 * 1.0017 ** i);
      xs.push(v);
      h.record(v);
    }
    xs.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const exact = xs[Math.ceil(q * xs.length) - 1]!;
      expect(Math.abs(h.quantile(q) - exact) / exact).toBeLessThan(0.0625);
    }
    expect(h.count).toBe(5000);
  });

  it('runs EXPLAIN QUERY PLAN once per fingerprint, on its first execution', () => {
    const p = profile(t.db);
    t.db.prepare('SELECT * FROM orders WHERE status = ?').all('open');
    const plan = p.statsFor('SELECT * FROM orders WHERE status = ?')?.plan;
    expect(plan?.issues.map((i) => i.kind)).toEqual(['full-scan']);
    for (let i = 0; i < 5; i++) t.db.prepare(`SELECT * FROM orders WHERE status = 'v${i}'`).all();
    expect(p.statsFor('SELECT * FROM orders WHERE status = ?')?.plan).toBe(plan);
    // EXPLAIN's own statements are not profiled
    expect(p.stats().map((s) => s.fingerprint)).toEqual(['SELECT * FROM orders WHERE status = ?']);
    const q = profile(new Database(':memory:'), { explain: false });
    q.db.prepare('SELECT 1').get();
    expect(q.stats()[0]?.plan).toBeUndefined();
    q.db.close();
  });
});

describe('slow-query log', () => {
  it('logs executions at or above the threshold, with params when asked', () => {
    const seen: string[] = [];
    const p = profile(t.db, {
      slowQuery: {
        thresholdMs: 0,
        maxEntries: 3,
        captureParams: true,
        onSlow: (q) => seen.push(q.sql),
      },
    });
    const s = t.db.prepare('SELECT * FROM bars WHERE id = ?');
    for (let i = 1; i <= 5; i++) s.get(i);
    expect(p.slowCount).toBe(5);
    const logged = p.slowQueries();
    expect(logged).toHaveLength(3); // ring of maxEntries
    expect(logged.map((q) => q.params)).toEqual([[3], [4], [5]]);
    expect(logged[0]!.fingerprint).toBe('SELECT * FROM bars WHERE id = ?');
    expect(seen).toHaveLength(5);
  });

  it('counts but does not log when sampleRate is 0, and ignores fast queries', () => {
    const p = profile(t.db, { slowQuery: { thresholdMs: 0, sampleRate: 0 } });
    for (let i = 1; i <= 4; i++) t.db.prepare('SELECT * FROM bars WHERE id = ?').get(i);
    expect(p.slowCount).toBe(4);
    expect(p.slowQueries()).toEqual([]);
    p.detach();
    const q = profile(t.db, { slowQuery: { thresholdMs: 60_000 } });
    t.db.prepare('SELECT * FROM bars WHERE id = ?').get(1);
    expect(q.slowCount).toBe(0);
    expect(q.slowQueries()[0]?.params).toBeUndefined();
  });
});

describe('N+1 detection', () => {
  const N = 5;

  it('stays quiet at exactly N executions and fires at N+1, naming the statement and count', () => {
    const found: NPlusOneFinding[] = [];
    const p = profile(t.db, { nPlusOne: { threshold: N, onDetect: (f) => found.push(f) } });
    p.scope(() => {
      for (let i = 1; i <= N; i++) t.db.prepare('SELECT * FROM trades WHERE bar_id = ?').all(i);
    });
    expect(found).toEqual([]);
    p.scope(() => {
      for (let i = 1; i <= N + 1; i++) t.db.prepare('SELECT * FROM trades WHERE bar_id = ?').all(i);
      for (let i = 1; i <= 3 * N; i++) t.db.prepare('SELECT * FROM trades WHERE bar_id = ?').all(i);
    });
    expect(found).toHaveLength(1); // once per fingerprint per scope
    expect(found[0]).toMatchObject({
      count: N + 1,
      threshold: N,
      fingerprint: 'SELECT * FROM trades WHERE bar_id = ?',
    });
    expect(p.nPlusOneFindings()).toEqual(found);
    expect(p.report('table')).toContain('N+1 detections');
  });

  it('throws NPlusOneError at N+1 in strict mode, before running the statement', () => {
    const p = profile(t.db, { nPlusOne: { threshold: N, strict: true } });
    const stmt = t.db.prepare('SELECT * FROM trades WHERE bar_id = ?');
    let err: unknown;
    let ran = 0;
    p.scope(() => {
      try {
        for (let i = 1; i <= N + 1; i++) {
          stmt.all(i);
          ran++;
        }
      } catch (e) {
        err = e;
      }
    });
    expect(ran).toBe(N);
    expect(err).toBeInstanceOf(NPlusOneError);
    expect((err as NPlusOneError).count).toBe(N + 1);
    expect((err as Error).message).toContain('ran 6 times');
    expect((err as Error).message).toContain('SELECT * FROM trades WHERE bar_id = ?');
    expect(p.statsFor('SELECT * FROM trades WHERE bar_id = ?')?.calls).toBe(N);
  });

  it('in strict mode refuses every run past N, also when the caller catches the error', () => {
    const p = profile(t.db, { nPlusOne: { threshold: N, strict: true } });
    const stmt = t.db.prepare('SELECT * FROM trades WHERE bar_id = ?');
    const errors: NPlusOneError[] = [];
    let ran = 0;
    p.scope(() => {
      for (let i = 1; i <= 3 * N; i++) {
        try {
          stmt.all(i); // per-item error handling, as a job loop would do
          ran++;
        } catch (e) {
          errors.push(e as NPlusOneError);
        }
      }
    });
    expect(ran).toBe(N);
    expect(errors).toHaveLength(2 * N);
    expect(errors.every((e) => e instanceof NPlusOneError && e.count === N + 1)).toBe(true);
    expect(p.statsFor('SELECT * FROM trades WHERE bar_id = ?')?.calls).toBe(N);
    expect(p.nPlusOneFindings()).toHaveLength(1);
    // a new scope starts from zero
    p.scope(() => {
      for (let i = 1; i <= N; i++) stmt.all(i);
    });
    expect(p.statsFor('SELECT * FROM trades WHERE bar_id = ?')?.calls).toBe(2 * N);
  });

  it('tracks a scope across await, keeps concurrent scopes apart and ignores calls outside scopes', async () => {
    const found: NPlusOneFinding[] = [];
    const p = profile(t.db, { nPlusOne: { threshold: N, onDetect: (f) => found.push(f) } });
    const stmt = t.db.prepare('SELECT * FROM bars WHERE id = ?');
    for (let i = 0; i < 3 * N; i++) stmt.get(i); // no scope
    const job = (runs: number) =>
      p.scope(async () => {
        for (let i = 0; i < runs; i++) {
          await new Promise((r) => setImmediate(r));
          stmt.get(i);
        }
        return runs;
      });
    // two interleaved scopes of N runs each: neither reaches N+1 although the total does
    await expect(Promise.all([job(N), job(N)])).resolves.toEqual([N, N]);
    expect(found).toEqual([]);
    await job(N + 1);
    expect(found.map((f) => f.count)).toEqual([N + 1]);
    // per-scope override
    p.scope(
      () => {
        for (let i = 0; i < 3; i++) stmt.get(i);
      },
      { threshold: 2 },
    );
    expect(found.map((f) => f.count)).toEqual([N + 1, 3]);
  });
});

describe('reports', () => {
  it('renders a console table, markdown and JSON with the same statements', () => {
    const p = profile(t.db);
    t.db.prepare('SELECT * FROM orders WHERE status = ? ORDER BY created').all('open');
    t.db.prepare('SELECT * FROM bars WHERE id = ?').get(1);
    const table = p.report('table');
    expect(table.split('\n')[0]).toMatch(/^\s*calls\s+rows\s+total ms\s+mean µs/);
    expect(table).toContain('SELECT * FROM bars WHERE id = ?');
    expect(table).toContain('CREATE INDEX IF NOT EXISTS "idx_orders_status_created"');
    const md = p.report('markdown');
    expect(md).toMatch(/^\| calls \| rows \|/);
    expect(md).toContain('### Plan issues');
    expect(md).toContain('**full-scan**');
    const json = JSON.parse(p.report('json', { sortBy: 'calls', limit: 1 })) as {
      statements: { calls: number }[];
    };
    expect(json.statements).toHaveLength(1);
    expect(json.statements[0]!.calls).toBe(1);
  });
});
