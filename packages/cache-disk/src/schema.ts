import type Database from 'better-sqlite3';
import { DiskSchemaError } from './errors.js';

/** Schema version this release writes and reads, kept in the file as `PRAGMA user_version`. */
export const SCHEMA_VERSION = 1;

/**
 * `PRAGMA application_id` of a cache-disk file ('PTCD' in ASCII). A SQLite file carrying
 * another id, or holding tables without ours, is another application's database and is refused.
 */
export const APPLICATION_ID = 0x50544344;

/** One schema step. Runs inside the write transaction that also bumps `user_version`. */
export interface Migration {
  /** Version the step starts from. */
  readonly from: number;
  /** Version the step produces (`from + 1`). */
  readonly to: number;
  /** Apply the step to an open database (already inside a transaction). */
  up(db: Database.Database): void;
}

/**
 * Version 1. `entries` is a rowid table (large BLOBs sit badly in WITHOUT ROWID trees);
 * `meta` holds the running entry count and byte total, kept exact by triggers so every process
 * sharing the file sees the same totals without a full scan; `tags` maps tag → key and is
 * cleaned by triggers whenever a tagged entry is deleted or replaced.
 */
const V1 = `
CREATE TABLE entries (
  id          INTEGER PRIMARY KEY,
  key         TEXT    NOT NULL UNIQUE,
  value       BLOB    NOT NULL,
  expires_at  INTEGER,
  size        INTEGER NOT NULL,
  tags        TEXT,
  last_access INTEGER NOT NULL
);
CREATE INDEX entries_last_access ON entries (last_access);
CREATE INDEX entries_expires_at ON entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE tags (
  tag TEXT NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (tag, key)
) WITHOUT ROWID;
CREATE INDEX tags_key ON tags (key);
CREATE TABLE meta (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  entries INTEGER NOT NULL,
  bytes   INTEGER NOT NULL
);
INSERT INTO meta (id, entries, bytes) VALUES (1, 0, 0);
CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
  UPDATE meta SET entries = entries + 1, bytes = bytes + new.size WHERE id = 1;
END;
CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
  UPDATE meta SET entries = entries - 1, bytes = bytes - old.size WHERE id = 1;
END;
CREATE TRIGGER entries_ad_tags AFTER DELETE ON entries WHEN old.tags IS NOT NULL BEGIN
  DELETE FROM tags WHERE key = old.key;
END;
CREATE TRIGGER entries_au_size AFTER UPDATE OF size ON entries BEGIN
  UPDATE meta SET bytes = bytes - old.size + new.size WHERE id = 1;
END;
CREATE TRIGGER entries_au_tags AFTER UPDATE OF tags ON entries WHEN old.tags IS NOT NULL BEGIN
  DELETE FROM tags WHERE key = old.key;
END;
`;

/**
 * The ordered migration path. Entry `i` takes a file from version `i` to `i + 1`; version 0 is
 * an empty file. A future schema change appends a step here and bumps {@link SCHEMA_VERSION}.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    from: 0,
    to: 1,
    up(db) {
      db.exec(V1);
    },
  },
];

/**
 * The file's version, application id and table count, read by one statement so all three come
 * from the same snapshot: read one by one, another process's migration could commit in between
 * and make a half-read file look like another application's database.
 */
function readVersion(db: Database.Database): { version: number; appId: number; tables: number } {
  return db
    .prepare(
      `SELECT (SELECT user_version FROM pragma_user_version) AS version,
              (SELECT application_id FROM pragma_application_id) AS appId,
              (SELECT count(*) FROM sqlite_master
                WHERE type = 'table' AND name NOT LIKE 'sqlite_%') AS tables`,
    )
    .get() as { version: number; appId: number; tables: number };
}

/**
 * Bring the file at `db` to `target` (default {@link SCHEMA_VERSION}) by running the steps of
 * `migrations` in order, in one IMMEDIATE transaction so two processes opening a fresh file at
 * once cannot both create the schema. Returns the version the file had before.
 * @throws DiskSchemaError for another application's database, a newer schema, or a gap in the path.
 */
export function migrate(
  db: Database.Database,
  file: string,
  migrations: readonly Migration[] = MIGRATIONS,
  target: number = SCHEMA_VERSION,
): number {
  const check = (state: { version: number; appId: number; tables: number }): boolean => {
    if (state.version === 0 && state.appId === 0) {
      if (state.tables > 0) {
        throw new DiskSchemaError(
          file,
          `it is a SQLite database of another application (${state.tables} table(s), no cache-disk schema version)`,
        );
      }
      return true;
    }
    if (state.appId !== APPLICATION_ID) {
      throw new DiskSchemaError(
        file,
        `it is a SQLite database of another application (application_id ${state.appId}, expected ${APPLICATION_ID})`,
      );
    }
    if (state.version > target) {
      throw new DiskSchemaError(
        file,
        `it was written with schema version ${state.version}; this @peaktrade/cache-disk reads up to ${target}. Upgrade the package or point it at another file`,
      );
    }
    return state.version < target;
  };

  const before = readVersion(db);
  if (!check(before)) return before.version;

  const run = db.transaction(() => {
    // Re-read under the write lock: another process may have migrated meanwhile.
    const state = readVersion(db);
    if (!check(state)) return state.version;
    for (let v = state.version; v < target; v++) {
      const step = migrations.find((m) => m.from === v);
      if (step === undefined || step.to !== v + 1) {
        throw new DiskSchemaError(file, `no migration from schema version ${v} to ${v + 1}`);
      }
      step.up(db);
    }
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${target}`);
    return state.version;
  });
  return run.immediate();
}
