import type Database from 'better-sqlite3';
import { InvalidOptionError } from './errors.js';

/** Pragmas {@link recommendPragmas} knows about. */
export type PragmaName = 'journal_mode' | 'synchronous' | 'temp_store' | 'mmap_size' | 'cache_size';

/** One pragma recommendation. */
export interface PragmaRecommendation {
  readonly name: PragmaName;
  /** The value the database has now (as SQLite reports it, e.g. `wal`, `2`, `-2000`). */
  readonly current: string | number;
  /** Recommended value, in the form `PRAGMA name = value` accepts. */
  readonly recommended: string | number;
  /** True when `current` already matches. */
  readonly ok: boolean;
  /** Why, in one line. */
  readonly reason: string;
  /** The statement that applies it. */
  readonly sql: string;
}

/** Options of {@link recommendPragmas}. */
export interface RecommendPragmaOptions {
  /** Page cache size in KiB (cache_size = -KiB). Default 65536 (64 MiB). */
  readonly cacheSizeKiB?: number;
  /** Memory-map size in bytes. Default 268435456 (256 MiB). 0 disables mmap. */
  readonly mmapSizeBytes?: number;
}

/** Result of applying one pragma. */
export interface AppliedPragma {
  readonly name: PragmaName;
  readonly before: string | number;
  readonly after: string | number;
}

const SYNC = ['off', 'normal', 'full', 'extra'];
const TEMP = ['default', 'file', 'memory'];

function read(db: Database.Database, name: PragmaName): string | number {
  return db.pragma(name, { simple: true }) as string | number;
}

function same(name: PragmaName, current: string | number, recommended: string | number): boolean {
  if (name === 'synchronous')
    return Number(current) === SYNC.indexOf(String(recommended).toLowerCase());
  if (name === 'temp_store')
    return Number(current) === TEMP.indexOf(String(recommended).toLowerCase());
  return String(current).toLowerCase() === String(recommended).toLowerCase();
}

/**
 * Recommend connection pragmas for a write-heavy trading database: WAL, synchronous=NORMAL,
 * in-memory temp store, a memory map and a larger page cache, each with a one-line reason and the
 * current value. Reads only; nothing is changed. In-memory databases keep their `memory` journal.
 */
export function recommendPragmas(
  db: Database.Database,
  opts: RecommendPragmaOptions = {},
): PragmaRecommendation[] {
  const cacheKiB = opts.cacheSizeKiB ?? 65536;
  if (!Number.isInteger(cacheKiB) || cacheKiB < 64 || cacheKiB > 16 * 1024 * 1024)
    throw new InvalidOptionError('opts.cacheSizeKiB', cacheKiB, 'an integer in [64, 16777216] KiB');
  const mmap = opts.mmapSizeBytes ?? 268435456;
  if (!Number.isInteger(mmap) || mmap < 0)
    throw new InvalidOptionError('opts.mmapSizeBytes', mmap, 'an integer ≥ 0 (bytes)');
  const memory = db.memory;
  const recs: [PragmaName, string | number, string][] = [
    [
      'journal_mode',
      memory ? 'memory' : 'wal',
      memory
        ? 'in-memory databases cannot use WAL; the memory journal is already the fastest'
        : 'WAL lets readers run while one writer commits, and a commit appends to the log instead of rewriting pages',
    ],
    [
      'synchronous',
      'normal',
      'in WAL mode NORMAL cannot corrupt the database; only the last commits may be lost on power failure, and commits skip an fsync',
    ],
    [
      'temp_store',
      'memory',
      'temporary b-trees for sorts, GROUP BY and automatic indexes stay in RAM instead of temp files',
    ],
    [
      'mmap_size',
      mmap,
      mmap === 0
        ? 'memory-mapped I/O disabled on request'
        : `reads go through a ${Math.round(mmap / 1048576)} MiB memory map, saving a read() syscall and a copy per page`,
    ],
    [
      'cache_size',
      -cacheKiB,
      `a ${Math.round(cacheKiB / 1024)} MiB page cache keeps hot indexes of large bar tables in memory (the default is about 2 MiB)`,
    ],
  ];
  return recs.map(([name, recommended, reason]) => {
    const current = read(db, name);
    return {
      name,
      current,
      recommended,
      ok: same(name, current, recommended),
      reason,
      sql: `PRAGMA ${name} = ${recommended}`,
    };
  });
}

/**
 * Apply recommendations (default: every not-ok entry of `recommendPragmas(db)`) and return each
 * pragma's value before and after. `journal_mode = WAL` is persistent in the file; the others last
 * for this connection, so apply them after every open.
 */
export function applyPragmas(
  db: Database.Database,
  recommendations: readonly PragmaRecommendation[] = recommendPragmas(db),
): AppliedPragma[] {
  const out: AppliedPragma[] = [];
  for (const r of recommendations) {
    if (!['journal_mode', 'synchronous', 'temp_store', 'mmap_size', 'cache_size'].includes(r.name))
      throw new InvalidOptionError(
        'recommendations[].name',
        r.name,
        'journal_mode, synchronous, temp_store, mmap_size or cache_size',
      );
    const v = String(r.recommended);
    if (!/^-?[A-Za-z0-9]+$/.test(v))
      throw new InvalidOptionError(
        `recommendations.${r.name}.recommended`,
        r.recommended,
        'a number or a keyword',
      );
    const before = read(db, r.name);
    if (!same(r.name, before, r.recommended)) db.pragma(`${r.name} = ${v}`);
    out.push({ name: r.name, before, after: read(db, r.name) });
  }
  return out;
}
