import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskTier } from './disk-tier.js';
import { DiskCorruptError, DiskSchemaError } from './errors.js';
import type { DiskTierEvent } from './options.js';
import { APPLICATION_ID, migrate, MIGRATIONS, SCHEMA_VERSION, type Migration } from './schema.js';
import { tempDirs } from './test-utils/tmp.js';

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

function asideFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.includes('.corrupt-'));
}

/** A real cache file with `n` entries of ~1 KiB, closed cleanly (WAL checkpointed into it). */
async function populated(file: string, n = 2000): Promise<void> {
  const t = new DiskTier({ file, sweepIntervalMs: 0 });
  await t.setMany(
    Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: randomBytes(1024) })),
  );
  await t.close();
}

const damages = {
  garbage: (file: string) => writeFileSync(file, randomBytes(64 * 1024)),
  'truncated to 40%': (file: string) => truncateSync(file, Math.floor(statSync(file).size * 0.4)),
  'truncated inside the header': (file: string) => truncateSync(file, 60),
  'overwritten in the middle': scribble,
};

/** Overwrite the middle fifth of the file (data pages; the header and schema page stay valid). */
function scribble(file: string): void {
  const bytes = readFileSync(file);
  const from = Math.floor(bytes.length * 0.4);
  randomBytes(Math.floor(bytes.length * 0.2)).copy(bytes, from);
  writeFileSync(file, bytes);
}

describe.each(Object.entries(damages))('a %s file', (_label, damage) => {
  async function damagedFile(): Promise<{ dir: string; file: string; bytes: Buffer }> {
    const dir = dirs.make();
    const file = join(dir, 'cache.db');
    await populated(file);
    damage(file);
    return { dir, file, bytes: readFileSync(file) };
  }

  it("is refused with DiskCorruptError under onCorrupt: 'throw', left untouched", async () => {
    const { dir, file, bytes } = await damagedFile();
    let error: unknown;
    try {
      new DiskTier({ file, onCorrupt: 'throw' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DiskCorruptError);
    expect((error as DiskCorruptError).code).toBe('E_CACHE_DISK_CORRUPT');
    expect((error as Error).message).toContain(file);
    expect(readFileSync(file).equals(bytes)).toBe(true);
    expect(asideFiles(dir)).toEqual([]);
  });

  it("is moved aside to <file>.corrupt-<timestamp> and recreated empty under onCorrupt: 'recreate'", async () => {
    const { dir, file, bytes } = await damagedFile();
    const events: DiskTierEvent[] = [];
    const t = new DiskTier({ file, onCorrupt: 'recreate', onEvent: (e) => events.push(e) });
    try {
      const aside = asideFiles(dir).filter((f) => !f.endsWith('-wal'));
      expect(aside).toHaveLength(1);
      expect(aside[0]).toMatch(/^cache\.db\.corrupt-\d{8}T\d{9}Z$/);
      expect(readFileSync(join(dir, aside[0]!)).equals(bytes)).toBe(true);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'recreated', file, movedTo: join(dir, aside[0]!) });
      expect(t.stats().entries).toBe(0);
      expect(await t.get('k1')).toBeUndefined();
      await t.set('fresh', 1);
      expect(await t.get('fresh')).toBe(1);
    } finally {
      await t.close();
    }
    const db = new Database(file, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });
});

describe('corruption found after open', () => {
  it("fails the call with DiskCorruptError, then recovers under 'recreate'", async () => {
    const dir = dirs.make();
    const file = join(dir, 'cache.db');
    await populated(file);
    scribble(file);
    const events: DiskTierEvent[] = [];
    // No check at open: the damage is met by a statement.
    const t = new DiskTier({
      file,
      integrityCheck: 'off',
      onCorrupt: 'recreate',
      onEvent: (e) => events.push(e),
    });
    try {
      const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`);
      await expect(t.getMany(keys)).rejects.toBeInstanceOf(DiskCorruptError);
      expect(events.map((e) => e.type)).toEqual(['recreated']);
      expect(asideFiles(dir).length).toBeGreaterThanOrEqual(1);
      await t.set('after', 'ok');
      expect(await t.get('after')).toBe('ok');
    } finally {
      await t.close();
    }
  });

  it("keeps rejecting with DiskCorruptError under 'throw'", async () => {
    const dir = dirs.make();
    const file = join(dir, 'cache.db');
    await populated(file);
    scribble(file);
    const t = new DiskTier({ file, integrityCheck: 'off', onCorrupt: 'throw' });
    try {
      const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`);
      await expect(t.getMany(keys)).rejects.toBeInstanceOf(DiskCorruptError);
      await expect(t.getMany(keys)).rejects.toBeInstanceOf(DiskCorruptError);
      expect(asideFiles(dir)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

describe('schema version', () => {
  it('refuses another application’s SQLite database under both modes and never moves it', () => {
    const dir = dirs.make();
    const file = join(dir, 'app.db');
    const db = new Database(file);
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)');
    db.close();
    for (const onCorrupt of ['throw', 'recreate'] as const) {
      expect(() => new DiskTier({ file, onCorrupt })).toThrow(DiskSchemaError);
      expect(() => new DiskTier({ file, onCorrupt })).toThrow(/another application/);
    }
    expect(asideFiles(dir)).toEqual([]);
  });

  it('refuses a file written by a newer schema version', async () => {
    const file = join(dirs.make(), 'cache.db');
    await new DiskTier({ file }).close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new DiskTier({ file })).toThrow(DiskSchemaError);
    expect(() => new DiskTier({ file })).toThrow(
      new RegExp(`schema version ${SCHEMA_VERSION + 1}`),
    );
  });

  it('stores the version and application id in the file', async () => {
    const file = join(dirs.make(), 'cache.db');
    await new DiskTier({ file }).close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    db.close();
  });

  it('migrates an older file step by step, keeping its entries', async () => {
    const file = join(dirs.make(), 'cache.db');
    const t = new DiskTier({ file });
    await t.set('kept', 'yes');
    await t.close();
    // A hypothetical version 2 that adds a column.
    const steps: Migration[] = [
      ...MIGRATIONS,
      {
        from: 1,
        to: 2,
        up: (db) => db.exec('ALTER TABLE entries ADD COLUMN hits INTEGER NOT NULL DEFAULT 0'),
      },
    ];
    const db = new Database(file);
    expect(migrate(db, file, steps, 2)).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(db.prepare("SELECT hits FROM entries WHERE key = 'kept'").pluck().get()).toBe(0);
    // Already current: nothing to do.
    expect(migrate(db, file, steps, 2)).toBe(2);
    db.close();
  });

  it('refuses a migration path with a gap', () => {
    const file = join(dirs.make(), 'cache.db');
    const db = new Database(file);
    try {
      expect(() => migrate(db, file, [MIGRATIONS[0]!], 3)).toThrow(
        /no migration from schema version 1 to 2/,
      );
      // The failed transaction left the file at version 0, creatable later.
      expect(db.pragma('user_version', { simple: true })).toBe(0);
    } finally {
      db.close();
    }
  });

  it('lets two connections create a fresh file at once without conflict', () => {
    const file = join(dirs.make(), 'cache.db');
    const a = new Database(file);
    const b = new Database(file);
    a.pragma('journal_mode = WAL');
    try {
      expect(migrate(a, file)).toBe(0);
      expect(migrate(b, file)).toBe(SCHEMA_VERSION);
    } finally {
      a.close();
      b.close();
    }
  });
});
