// Proves every publishable package installs and imports from its tarball, outside the
// workspace: `exports`, `types` and `files` are right, and workspace:^ ranges were rewritten.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
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
});
