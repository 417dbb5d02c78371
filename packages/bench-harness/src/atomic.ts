import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let tmpSerial = 0;

/**
 * Writes `data` to `file` all at once or not at all: the text goes to a temporary file beside it
 * (same folder, so the same file system), which is then renamed over `file`. A reader sees the old
 * file or the new one, never half of one, and a failed write (disk full, file size limit, a killed
 * process) leaves the previous file as it was. Folders are created. On failure the temporary file
 * is removed and the error is rethrown as it is.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${++tmpSerial}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
