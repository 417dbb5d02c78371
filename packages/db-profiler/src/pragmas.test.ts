import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyPragmas, recommendPragmas } from './pragmas.js';
import { openTempDb, type TempDb } from './test-utils/fixtures.js';

let t: TempDb;
beforeEach(() => {
  t = openTempDb();
  t.db.pragma('journal_mode = DELETE');
});
afterEach(() => t.close());

describe('recommendPragmas / applyPragmas', () => {
  it('recommends WAL, synchronous, temp_store, mmap_size and cache_size, each with a one-line reason', () => {
    const recs = recommendPragmas(t.db);
    expect(recs.map((r) => r.name)).toEqual([
      'journal_mode',
      'synchronous',
      'temp_store',
      'mmap_size',
      'cache_size',
    ]);
    for (const r of recs) {
      expect(r.reason.length).toBeGreaterThan(20);
      expect(r.reason).not.toContain('\n');
      expect(r.sql).toBe(`PRAGMA ${r.name} = ${r.recommended}`);
    }
    expect(recs.find((r) => r.name === 'journal_mode')).toMatchObject({
      current: 'delete',
      recommended: 'wal',
      ok: false,
    });
  });

  it('applies them and reports before/after; afterwards every recommendation is ok', () => {
    const applied = applyPragmas(t.db);
    expect(applied.find((a) => a.name === 'journal_mode')).toEqual({
      name: 'journal_mode',
      before: 'delete',
      after: 'wal',
    });
    expect(t.db.pragma('synchronous', { simple: true })).toBe(1);
    expect(t.db.pragma('temp_store', { simple: true })).toBe(2);
    expect(t.db.pragma('cache_size', { simple: true })).toBe(-65536);
    expect(recommendPragmas(t.db).every((r) => r.ok)).toBe(true);
  });

  it('keeps the memory journal for in-memory databases and validates options', () => {
    const mem = new Database(':memory:');
    try {
      expect(recommendPragmas(mem)[0]).toMatchObject({ recommended: 'memory', ok: true });
      expect(() => recommendPragmas(mem, { cacheSizeKiB: 1 })).toThrow(/opts\.cacheSizeKiB: got 1/);
      expect(() => recommendPragmas(mem, { mmapSizeBytes: -5 })).toThrow(/opts\.mmapSizeBytes/);
    } finally {
      mem.close();
    }
  });
});
