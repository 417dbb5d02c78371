import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** A bench file found on disk. */
export interface SuiteFile {
  /** Package folder name, e.g. `serialize`. */
  readonly pkg: string;
  /** Absolute path of the `.bench.ts` file. */
  readonly file: string;
  /** Path relative to the workspace root, for messages. */
  readonly relative: string;
  /** File name without `.bench.ts` (or `.js`, `.mjs`): `harnessed` for `harnessed.bench.ts`. */
  readonly stem: string;
}

/** Find the workspace root: the nearest folder above `from` holding pnpm-workspace.yaml. */
export function findWorkspaceRoot(from: string): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(
        `No pnpm-workspace.yaml above ${from}: run peaktrade-bench inside the monorepo`,
      );
    dir = parent;
  }
}

/**
 * Discover `<packagesDir>/<pkg>/bench/*.bench.ts` (and `.bench.js`). Nothing is listed by
 * hand: a package adds a suite by adding a file.
 */
export function discoverSuites(root: string, packagesDir = join(root, 'packages')): SuiteFile[] {
  const out: SuiteFile[] = [];
  if (!existsSync(packagesDir)) return out;
  for (const pkg of readdirSync(packagesDir).sort()) {
    const benchDir = join(packagesDir, pkg, 'bench');
    if (!existsSync(benchDir)) continue;
    for (const name of readdirSync(benchDir).sort()) {
      if (!/\.bench\.(ts|js|mjs)$/.test(name)) continue;
      const file = join(benchDir, name);
      out.push({
        pkg,
        file,
        relative: relative(root, file),
        stem: name.replace(/\.bench\.(ts|js|mjs)$/, ''),
      });
    }
  }
  return out;
}

/**
 * Keep the suites whose package name, file path or suite name matches a glob
 * (`*` any run of characters, `?` one character; comma separates alternatives).
 */
export function matchesFilter(filter: string | undefined, ...names: string[]): boolean {
  if (!filter) return true;
  return filter
    .split(',')
    .map((glob) => globToRegExp(glob.trim()))
    .some((re) => names.some((name) => re.test(name)));
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}
