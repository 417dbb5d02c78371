import { existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DiskCorruptError, DiskStorageError, PeakTradeError } from './errors.js';
import type { ResolvedDiskTierOptions } from './options.js';
import { migrate } from './schema.js';

/** An open, checked and migrated cache file. */
export interface OpenedFile {
  readonly db: Database.Database;
  /** Inode of the file we opened, to tell "still the corrupt file" from "someone recreated it". */
  readonly ino: number | undefined;
}

/** True for SQLite errors that mean "this file is damaged or not a database". */
export function isCorruption(err: unknown): boolean {
  if (err instanceof DiskCorruptError) return true;
  if (!(err instanceof Database.SqliteError)) return false;
  const code = err.code;
  return (
    code === 'SQLITE_NOTADB' ||
    code.startsWith('SQLITE_CORRUPT') ||
    // A file truncated below the size its header records reads short.
    code === 'SQLITE_IOERR_SHORT_READ'
  );
}

/** Map any failure to this package's errors (corruption is handled by the caller). */
export function toStorageError(err: unknown, operation: string, file: string): Error {
  if (err instanceof PeakTradeError) return err;
  if (isCorruption(err)) {
    return new DiskCorruptError(file, (err as Error).message, { cause: err });
  }
  const code = err instanceof Database.SqliteError ? err.code : undefined;
  return new DiskStorageError(operation, file, code, { cause: err });
}

/** Inode at `file`, undefined when nothing is there. */
export function inodeOf(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

function openOnce(o: ResolvedDiskTierOptions): OpenedFile {
  const ino = inodeOf(o.file);
  let db: Database.Database | undefined;
  try {
    db = new Database(o.file, { timeout: o.busyTimeoutMs });
    // The first statement reads the header: a non-SQLite file fails here with SQLITE_NOTADB.
    // WAL mode is kept in the file, so only a file that is not yet WAL needs the exclusive lock
    // that switching takes.
    const current = db.pragma('journal_mode', { simple: true });
    const mode = current === 'wal' ? current : db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      throw new DiskStorageError('open', o.file, undefined, {
        cause: new Error(`could not switch the file to WAL mode (journal_mode is ${String(mode)})`),
      });
    }
    db.pragma(`synchronous = ${o.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // Keep a WAL that grew during a burst from staying large after the checkpoint.
    db.pragma('journal_size_limit = 67108864');
    if (o.integrityCheck !== 'off') {
      const pragma = o.integrityCheck === 'quick' ? 'quick_check' : 'integrity_check';
      const rows = db.pragma(`${pragma}(10)`, { simple: false }) as Record<string, unknown>[];
      const messages = rows.map((r) => String(Object.values(r)[0]));
      if (messages.length !== 1 || messages[0] !== 'ok') {
        throw new DiskCorruptError(o.file, `PRAGMA ${pragma} reported: ${messages.join('; ')}`);
      }
    }
    migrate(db, o.file);
    return { db, ino: ino ?? inodeOf(o.file) };
  } catch (err) {
    try {
      db?.close();
    } catch {
      // The handle is unusable anyway; the original error is what matters.
    }
    throw err;
  }
}

/** True for SQLite's "another connection holds the lock" errors (SQLITE_BUSY and its extended codes). */
function isBusy(err: unknown): boolean {
  return err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY');
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * {@link openOnce}, retried while another connection holds the lock, for up to `busyTimeoutMs`.
 *
 * SQLite's busy timeout does not cover every wait at open: when two connections open a fresh
 * file at once, both read it under a shared lock and both want to write its header (WAL
 * mode, then the schema). SQLite gives one of them SQLITE_BUSY at once rather than wait, since
 * waiting could deadlock. That connection drops its locks by failing, so opening it again
 * succeeds once the other is done. The constructor is synchronous, hence the blocking sleep.
 */
function openRetrying(o: ResolvedDiskTierOptions): OpenedFile {
  const deadline = performance.now() + o.busyTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return openOnce(o);
    } catch (err) {
      const left = deadline - performance.now();
      if (!isBusy(err) || left <= 0) throw err;
      Atomics.wait(sleeper, 0, 0, Math.min(2 ** Math.min(attempt, 5), left));
    }
  }
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:.]/g, '');
}

/**
 * Move a corrupt cache file (and its WAL) aside to `<file>.corrupt-<timestamp>`; the shared
 * memory index is deleted (SQLite rebuilds it). When the path no longer holds the inode we
 * found corrupt, another process has already recreated it: nothing is moved.
 * @returns the path the file now has, or undefined when nothing was moved.
 */
export function moveAside(file: string, ino: number | undefined): string | undefined {
  if (ino !== undefined && inodeOf(file) !== ino) return undefined;
  if (!existsSync(file)) return undefined;
  let target = `${file}.corrupt-${timestamp()}`;
  for (let n = 1; existsSync(target); n++) target = `${file}.corrupt-${timestamp()}-${n}`;
  renameSync(file, target);
  if (existsSync(`${file}-wal`)) renameSync(`${file}-wal`, `${target}-wal`);
  try {
    unlinkSync(`${file}-shm`);
  } catch {
    // Absent: nothing to remove.
  }
  return target;
}

/**
 * Open the cache file: WAL mode, synchronous level, integrity check, schema migration. A
 * corrupt or non-SQLite file is refused (`onCorrupt: 'throw'`) or moved aside and recreated.
 * @throws DiskCorruptError, DiskSchemaError, DiskStorageError
 */
export function openCacheFile(o: ResolvedDiskTierOptions): OpenedFile {
  try {
    mkdirSync(dirname(o.file), { recursive: true });
  } catch (err) {
    throw new DiskStorageError('open', o.file, undefined, { cause: err });
  }
  const inoBefore = inodeOf(o.file);
  try {
    return openRetrying(o);
  } catch (err) {
    if (!isCorruption(err)) throw toStorageError(err, 'open', o.file);
    const corrupt =
      err instanceof DiskCorruptError
        ? err
        : new DiskCorruptError(o.file, (err as Error).message, { cause: err });
    if (o.onCorrupt === 'throw') throw corrupt;
    const movedTo = moveAside(o.file, inoBefore);
    const opened = (() => {
      try {
        return openRetrying(o);
      } catch (again) {
        throw toStorageError(again, 'open', o.file);
      }
    })();
    if (movedTo !== undefined)
      o.onEvent?.({ type: 'recreated', file: o.file, movedTo, cause: corrupt });
    return opened;
  }
}
