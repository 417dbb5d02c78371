import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** A real SQLite file in a fresh temp folder; `close()` removes the folder. */
export interface TempDb {
  readonly db: Database.Database;
  readonly path: string;
  close(): void;
}

/** Open a new SQLite file (WAL) in a temp folder. */
export function openTempDb(name = 'test.db'): TempDb {
  const dir = mkdtempSync(join(tmpdir(), 'pt-dbprof-'));
  const path = join(dir, name);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  return {
    db,
    path,
    close() {
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Trading schema used by the EXPLAIN fixtures and the profiler tests, with a little data. */
export const SCHEMA = `
CREATE TABLE bars (id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, time INTEGER NOT NULL,
  open REAL, high REAL, low REAL, close REAL, volume REAL);
CREATE INDEX idx_bars_symbol_time ON bars (symbol, time);
CREATE TABLE trades (id INTEGER PRIMARY KEY, bar_id INTEGER NOT NULL, account TEXT, qty REAL, side TEXT);
CREATE INDEX idx_trades_bar ON trades (bar_id);
CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT, region TEXT);
CREATE INDEX idx_accounts_lower_name ON accounts (lower(name));
CREATE TABLE orders (id INTEGER PRIMARY KEY, account_id INTEGER, status TEXT, created INTEGER);
`;

/** Create {@link SCHEMA} and fill it with a few hundred rows. */
export function seed(db: Database.Database): void {
  db.exec(SCHEMA);
  const bar = db.prepare(
    'INSERT INTO bars (symbol, time, open, high, low, close, volume) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const trade = db.prepare('INSERT INTO trades (bar_id, account, qty, side) VALUES (?, ?, ?, ?)');
  const account = db.prepare('INSERT INTO accounts (name, region) VALUES (?, ?)');
  const order = db.prepare('INSERT INTO orders (account_id, status, created) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 400; i++) {
      const c = 100 + (i % 17);
      bar.run(`S${i % 8}`, i, c, c + 1, c - 1, c, 1000 + i);
      if (i % 2 === 0) trade.run(i + 1, `A${i % 5}`, i % 7, i % 2 ? 'buy' : 'sell');
      if (i < 50) account.run(`Acct${i}`, i % 3 ? 'eu' : 'us');
      order.run(i % 50, i % 3 ? 'open' : 'filled', i);
    }
  })();
}
