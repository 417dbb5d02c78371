// Proves every publishable package installs and imports from its tarball, outside the
// workspace: `exports`, `types` and `files` are right, and workspace:^ ranges were rewritten.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  types?: string;
  typings?: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({
    dir: join(root, 'packages', dir),
    manifest: readJson<Manifest>(join(root, 'packages', dir, 'package.json')),
  }))
  .filter((p) => !p.manifest.private)
  .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

const env = existsSync('/usr/include/node/node_version.h')
  ? { ...process.env, npm_config_nodedir: '/usr' }
  : process.env;

/** Run a command; on failure the error carries its output, so the test report says why. */
function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`,
      { cause: error },
    );
  }
}

let scratch: string;
const tarballs = new Map<string, string>();

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'pt-pack-check-'));
  const packDir = join(scratch, 'tarballs');
  for (const { dir, manifest } of packages) {
    const out = run('pnpm', ['pack', '--pack-destination', packDir], dir).trim().split('\n');
    const tarball = out.reverse().find((line) => line.endsWith('.tgz'));
    if (!tarball) throw new Error(`pnpm pack printed no tarball for ${manifest.name}`);
    tarballs.set(manifest.name, resolve(dir, tarball));
  }
  const project = join(scratch, 'app');
  execFileSync('mkdir', ['-p', project]);
  const deps = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`]));
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify(
      { name: 'pack-check-app', private: true, type: 'module', dependencies: deps },
      null,
      2,
    ),
  );
  // The tarballs depend on each other by version; point those ranges at the local tarballs.
  const overrides = Object.entries(deps)
    .map(([name, spec]) => `  '${name}': '${spec}'`)
    .join('\n');
  const builds = ['better-sqlite3', 'zstd-napi', 'msgpackr-extract']
    .map((n) => `  ${n}: true`)
    .join('\n');
  writeFileSync(
    join(project, 'pnpm-workspace.yaml'),
    `overrides:\n${overrides}\nallowBuilds:\n${builds}\n`,
  );
  run('pnpm', ['install', '--prefer-offline'], project);
}, 600_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('published tarballs', () => {
  it('finds the publishable packages', () => {
    expect(packages.map((p) => p.manifest.name)).toContain('@peaktrade/config');
  });

  it.each(packages.map((p) => [p.manifest.name, p] as const))(
    '%s ships only dist, README and package.json',
    (_name, p) => {
      const listing = run('tar', ['-tzf', tarballs.get(p.manifest.name)!], scratch)
        .split('\n')
        .filter(Boolean);
      expect(listing).toContain('package/package.json');
      expect(listing).toContain('package/dist/index.js');
      expect(listing).toContain('package/dist/index.d.ts');
      const stray = listing.filter(
        (f) => !/^package\/(dist\/|README\.md$|package\.json$|LICENSE)/.test(f),
      );
      expect(stray).toEqual([]);
      const packed = JSON.parse(
        run('tar', ['-xzOf', tarballs.get(p.manifest.name)!, 'package/package.json'], scratch),
      ) as Manifest;
      expect(
        Object.values(packed.dependencies ?? {}).filter((v) => v.startsWith('workspace:')),
      ).toEqual([]);
    },
  );

  it.each(packages.map((p) => [p.manifest.name] as const))(
    '%s imports from the installed tarball',
    (name) => {
      const out = run(
        'node',
        [
          '--input-type=module',
          '-e',
          `const m = await import('${name}'); console.log(JSON.stringify(Object.keys(m)))`,
        ],
        join(scratch, 'app'),
      );
      const keys = JSON.parse(out) as string[];
      expect(keys.length).toBeGreaterThan(0);
    },
  );

  it('every package type-checks from its installed types', () => {
    const app = join(scratch, 'app');
    const lines = packages.map(
      (p, i) =>
        `import * as m${i} from '${p.manifest.name}';\nexport const k${i}: string[] = Object.keys(m${i});`,
    );
    writeFileSync(join(app, 'index.ts'), lines.join('\n') + '\n');
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2023',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['index.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    // Throws with tsc's diagnostics when a package's types do not resolve.
    run('node', [tsc, '-p', 'tsconfig.json'], app);
    expect(readFileSync(join(app, 'index.ts'), 'utf8')).toContain(packages[0]!.manifest.name);
  });

  it.each(packages.map((p) => [p.manifest.name] as const))(
    '%s depends on every package its published types import, and on their types',
    (name) => {
      const installed = realpathSync(join(scratch, 'app', 'node_modules', name));
      const manifest = readJson<Manifest>(join(installed, 'package.json'));
      const declared = { ...manifest.dependencies, ...manifest.peerDependencies };
      const imported = new Set<string>();
      const walk = (dir: string): void => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) walk(path);
          else if (entry.name.endsWith('.d.ts')) {
            const text = readFileSync(path, 'utf8');
            const statements = /^\s*(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gm;
            const typeImports = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
            for (const m of [...text.matchAll(statements), ...text.matchAll(typeImports)]) {
              const spec = m[1]!;
              if (spec.startsWith('.') || isBuiltin(spec)) continue;
              const parts = spec.split('/');
              imported.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
            }
          }
        }
      };
      walk(join(installed, 'dist'));
      imported.delete(name);
      /** The installed manifest of `dep` as `name` resolves it (walking up node_modules). */
      const manifestOf = (dep: string): Manifest | undefined => {
        for (let dir = installed; dir !== dirname(dir); dir = dirname(dir)) {
          const candidate = join(dir, 'node_modules', dep, 'package.json');
          if (existsSync(candidate)) return readJson<Manifest>(candidate);
        }
        return undefined;
      };
      const shipsTypes = (m: Manifest | undefined): boolean =>
        m !== undefined &&
        (m.types !== undefined ||
          m.typings !== undefined ||
          /"types"/.test(JSON.stringify(m.exports ?? null)));
      const missing: string[] = [];
      for (const dep of imported) {
        if (!(dep in declared)) missing.push(`${dep} (not a dependency)`);
        else if (!shipsTypes(manifestOf(dep))) {
          const typesPackage = `@types/${dep.startsWith('@') ? dep.slice(1).replace('/', '__') : dep}`;
          if (!(typesPackage in declared)) missing.push(`${typesPackage} (types of ${dep})`);
        }
      }
      expect(missing).toEqual([]);
    },
  );
});
