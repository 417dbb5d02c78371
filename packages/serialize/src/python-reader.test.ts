/**
 * Another language reads the format: test/read_peaktrade.py (stock msgpack + zstandard, Debian's
 * python3-msgpack and python3-zstandard) decodes every golden fixture and freshly encoded values, and
 * prints them as JSON, which must equal our own decoding rendered the same way.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createCodec, decode, encode } from './index.js';

const testDir = fileURLToPath(new URL('../test/', import.meta.url));
const reader = join(testDir, 'read_peaktrade.py');

/** The first Python that has both modules: $PYTHON, python3 on PATH, or Debian's /usr/bin/python3. */
function findPython(): string | undefined {
  for (const exe of [process.env.PYTHON, 'python3', '/usr/bin/python3']) {
    if (exe === undefined || exe === '') continue;
    const r = spawnSync(exe, ['-c', 'import msgpack, zstandard'], { stdio: 'ignore' });
    if (r.status === 0) return exe;
  }
  return undefined;
}
const python = findPython();
/**
 * Why these tests may skip: they run a Python program, and Python's msgpack and zstandard modules are
 * system packages (Debian's python3-msgpack and python3-zstandard), not npm dependencies. Outside CI,
 * on a machine without them, the tests are skipped with that reason printed; under CI (`.ci/run`
 * installs the packages) they run regardless and fail in readWithPython if Python is missing.
 */
const skipReason =
  python === undefined && process.env.CI !== 'true'
    ? 'no python3 with the msgpack and zstandard modules (apt-get install -y python3-msgpack python3-zstandard)'
    : undefined;
if (skipReason !== undefined)
  console.warn(`[serialize] Python reader tests skipped: ${skipReason}`);
const run = it.skipIf(skipReason !== undefined);

/** Our decoded value rendered as read_peaktrade.py's --json renders what it reads. */
function render(v: unknown): unknown {
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'Infinity';
    if (v === -Infinity) return '-Infinity';
    if (Object.is(v, -0)) return '-0';
    return v;
  }
  if (typeof v === 'bigint') {
    return v >= 2n ** 53n || v <= -(2n ** 53n) ? { __bigint__: String(v) } : Number(v);
  }
  if (v === undefined || v === null) return null;
  if (v instanceof Date) {
    const ms = v.getUTCMilliseconds();
    const micros = ms === 0 ? '' : `.${String(ms * 1000).padStart(6, '0')}`;
    return { __date__: `${v.toISOString().slice(0, 19)}${micros}+00:00` };
  }
  if (v instanceof Map) return { __map__: [...v].map(([k, x]) => [render(k), render(x)]) };
  if (v instanceof Set) return { __set__: [...v].map(render) };
  if (v instanceof ArrayBuffer) return { __bytes__: [...new Uint8Array(v)] };
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>, render);
  if (Array.isArray(v)) return v.map(render);
  if (typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, render(x)]));
  }
  return v;
}

function readWithPython(path: string): unknown {
  if (python === undefined) {
    throw new Error(
      'no python3 with the msgpack and zstandard modules (apt-get install python3-msgpack python3-zstandard)',
    );
  }
  const r = spawnSync(python, [reader, '--json', path], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as unknown;
}

const scratch = mkdtempSync(join(tmpdir(), 'pt-serialize-py-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('read_peaktrade.py (Python, stock msgpack + zstandard)', () => {
  const fixtures = readdirSync(join(testDir, 'fixtures')).filter((f) => f.endsWith('.bin'));

  it('there are golden fixtures to read, including a Table and a zstd frame', () => {
    expect(fixtures).toEqual(expect.arrayContaining(['table.bin', 'compressed-columns.bin']));
  });

  for (const name of fixtures) {
    run(`reads fixtures/${name} to the value we decode`, () => {
      const path = join(testDir, 'fixtures', name);
      const ours = decode(readFileSync(path));
      expect(readWithPython(path)).toEqual(render(ours));
    });
  }

  run(
    'reads freshly encoded values: a compressed 5,000-row Table, typed arrays, nested maps',
    () => {
      const rows = Array.from({ length: 5000 }, (_, i) => ({
        t: 1_700_000_000_000 + i,
        px: i % 97 === 0 ? -0 : Math.sin(i) * 100,
        v: i,
      }));
      const raw = createCodec({ thresholdBytes: Infinity });
      const values: [string, unknown, (v: unknown) => Uint8Array][] = [
        ['rows-zstd', rows, encode],
        ['rows-raw', rows, raw.encode],
        [
          'nested',
          {
            cols: { close: Float64Array.from(rows, (r) => r.px), n: Int32Array.of(1, -2) },
            meta: new Map<unknown, unknown>([['k', new Set([1, 'a'])]]),
            when: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
            nothing: undefined,
          },
          encode,
        ],
      ];
      for (const [name, value, encodeWith] of values) {
        const bytes = encodeWith(value);
        expect(bytes[3]! & 0x03, name).toBe(name === 'rows-raw' ? 0 : 1);
        const path = join(scratch, `${name}.bin`);
        writeFileSync(path, bytes);
        expect(readWithPython(path), name).toEqual(render(value));
      }
    },
  );
});
