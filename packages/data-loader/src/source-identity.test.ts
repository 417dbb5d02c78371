import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { LruCache } from '@peaktrade/cache-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { barsFor } from '../test/fault-server.js';
import { sourcesFor } from '../test/name-configs.js';
import {
  DataLoader,
  DataValidationError,
  LoaderOptionError,
  LoadFailedError,
  columnarFileSource,
  csvFileSource,
  httpSource,
  sqliteSource,
  writeColumnarFile,
  type OhlcvColumns,
  type Source,
} from './index.js';

/**
 * Two "APIs" on one loopback server: `/a/SYM` and `/b/SYM` answer different bars for the same
 * symbol (`barsFor('a:SYM')` and `barsFor('b:SYM')`), after `delayMs`. Requests are counted per path.
 */
let server: Server;
let base = '';
const requests = new Map<string, number>();
let delayMs = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    const [, api, symbol] = new URL(req.url ?? '/', 'http://x').pathname
      .split('/')
      .map(decodeURIComponent);
    const path = `/${api}/${symbol}`;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const cols = barsFor(`${api}:${symbol}`);
    const body = JSON.stringify(
      Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, Array.from(v as Float64Array)])),
    );
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);
beforeEach(() => {
  requests.clear();
  delayMs = 0;
});

const dir = mkdtempSync(join(tmpdir(), 'pt-loader-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function csvOf(cols: OhlcvColumns): string {
  const lines = ['time,open,high,low,close,volume'];
  for (let i = 0; i < cols.time.length; i++)
    lines.push(
      `${cols.time[i]},${cols.open[i]},${cols.high[i]},${cols.low[i]},${cols.close[i]},${cols.volume[i]}`,
    );
  return lines.join('\n');
}

/** Two directories holding different bars under the same file name, `X.csv` and `X.ptc`. */
async function twoDirectories(): Promise<[string, string]> {
  const dirs: [string, string] = [
    join(dir, `one-${Math.random()}`),
    join(dir, `two-${Math.random()}`),
  ];
  for (const [i, d] of dirs.entries()) {
    mkdirSync(d);
    writeFileSync(join(d, 'X.csv'), csvOf(barsFor(`dir${i}:X`)));
    await writeColumnarFile(join(d, 'X.ptc'), barsFor(`dir${i}:X`));
  }
  return dirs;
}

/** A SQLite file with a `bars` table holding the bars of `X` as `barsFor(tag)`. */
function sqliteFile(tag: string): string {
  const file = join(dir, `${tag}-${Math.random()}.db`);
  const db = new Database(file);
  db.exec(
    'CREATE TABLE bars (symbol TEXT, time REAL, open REAL, high REAL, low REAL, close REAL, volume REAL)',
  );
  const insert = db.prepare('INSERT INTO bars VALUES (?, ?, ?, ?, ?, ?, ?)');
  const cols = barsFor(tag);
  for (let i = 0; i < cols.time.length; i++)
    insert.run(
      'X',
      cols.time[i],
      cols.open[i],
      cols.high[i],
      cols.low[i],
      cols.close[i],
      cols.volume[i],
    );
  db.close();
  return file;
}

describe('source identity: cache keys and in-flight loads', () => {
  it('two httpSources with different URL templates, one loader and one cache: each gets its own bars for the same symbol', async () => {
    const cache = new LruCache<string, OhlcvColumns>({ max: 100 });
    const loader = new DataLoader({ cache });
    const a = httpSource({ url: `${base}/a/{symbol}` });
    const b = httpSource({ url: `${base}/b/{symbol}` });
    expect(a.name).not.toBe(b.name);
    for (let round = 0; round < 2; round++) {
      expect((await loader.load('X', a)).close).toEqual(barsFor('a:X').close);
      expect((await loader.load('X', b)).close).toEqual(barsFor('b:X').close);
    }
    expect(requests.get('/a/X')).toBe(1);
    expect(requests.get('/b/X')).toBe(1);
    expect(loader.stats.cacheHits).toBe(2);
    expect(cache.size).toBe(2);
  });

  it('two CSV, columnar and SQLite sources over different files, one cache: each gets its own bars', async () => {
    const [one, two] = await twoDirectories();
    const cache = new LruCache<string, OhlcvColumns>({ max: 100 });
    const loader = new DataLoader({ cache });
    const pairs: [Source, Source][] = [
      [
        csvFileSource({ path: join(one, '{symbol}.csv') }),
        csvFileSource({ path: join(two, '{symbol}.csv') }),
      ],
      [
        columnarFileSource({ path: join(one, '{symbol}.ptc') }),
        columnarFileSource({ path: join(two, '{symbol}.ptc') }),
      ],
    ];
    for (const [first, second] of pairs) {
      expect((await loader.load('X', first)).close).toEqual(barsFor('dir0:X').close);
      expect((await loader.load('X', second)).close).toEqual(barsFor('dir1:X').close);
    }
    const dbA = sqliteSource({ database: sqliteFile('dbA'), table: 'bars' });
    const dbB = sqliteSource({ database: sqliteFile('dbB'), table: 'bars' });
    try {
      expect((await loader.load('X', dbA)).close).toEqual(barsFor('dbA').close);
      expect((await loader.load('X', dbB)).close).toEqual(barsFor('dbB').close);
    } finally {
      dbA.close();
      dbB.close();
    }
    expect(loader.stats.cacheHits).toBe(0);
    expect(cache.size).toBe(6);
  });

  it('CSV parsing options are part of a derived name: the same files read differently are cached apart', async () => {
    const d = join(dir, `semi-${Math.random()}`);
    mkdirSync(d);
    // Read with ";" the file has the columns time..volume; read with "," its first line has one field.
    writeFileSync(join(d, 'X.csv'), csvOf(barsFor('semi:X')).replaceAll(',', ';'));
    const cache = new LruCache<string, OhlcvColumns>({ max: 100 });
    const loader = new DataLoader({ cache });
    const semicolon = csvFileSource({ path: join(d, '{symbol}.csv'), delimiter: ';' });
    const comma = csvFileSource({ path: join(d, '{symbol}.csv') });
    expect((await loader.load('X', semicolon)).close).toEqual(barsFor('semi:X').close);
    await expect(loader.load('X', comma)).rejects.toBeInstanceOf(LoadFailedError);
  });

  it('in-flight de-duplication is per source object: concurrent loads of one symbol from two sources are not merged', async () => {
    delayMs = 30;
    // No cache, so sources without a derivable name are fine; both are called "http".
    const loader = new DataLoader();
    const a = httpSource({ url: (s) => `${base}/a/${s}` });
    const b = httpSource({ url: (s) => `${base}/b/${s}` });
    expect(a.name).toBe(b.name);
    const [fromA, fromB, againA] = await Promise.all([
      loader.load('X', a),
      loader.load('X', b),
      loader.load('X', a),
    ]);
    expect(fromA.close).toEqual(barsFor('a:X').close);
    expect(fromB.close).toEqual(barsFor('b:X').close);
    expect(againA).toBe(fromA);
    expect(requests.get('/a/X')).toBe(1);
    expect(requests.get('/b/X')).toBe(1);
    expect(loader.stats.deduplicated).toBe(1);

    // The same holds for two custom sources that share a name.
    const custom = (tag: string): Source => ({
      name: 'same',
      load: (symbol) => new Promise((r) => setTimeout(() => r(barsFor(`${tag}:${symbol}`)), 10)),
    });
    const [c1, c2] = await Promise.all([
      loader.load('Y', custom('1')),
      loader.load('Y', custom('2')),
    ]);
    expect(c1.close).toEqual(barsFor('1:Y').close);
    expect(c2.close).toEqual(barsFor('2:Y').close);
  });

  it('the same configuration shares the cache across loaders and source objects, and so does one explicit name', async () => {
    const cache = new LruCache<string, OhlcvColumns>({ max: 100 });
    const first = new DataLoader({ cache });
    const second = new DataLoader({ cache });
    const url = `${base}/a/{symbol}`;
    expect(httpSource({ url }).name).toBe(httpSource({ url }).name);
    expect((await first.load('S', httpSource({ url }))).close).toEqual(barsFor('a:S').close);
    expect((await second.load('S', httpSource({ url }))).close).toEqual(barsFor('a:S').close);
    expect(second.stats.cacheHits).toBe(1);
    expect(requests.get('/a/S')).toBe(1);

    // A function URL with an explicit name: the name is the identity.
    const named = () => httpSource({ name: 'api-b', url: (s) => `${base}/b/${s}` });
    expect((await first.load('N', named())).close).toEqual(barsFor('b:N').close);
    expect((await second.load('N', named())).close).toEqual(barsFor('b:N').close);
    expect(second.stats.cacheHits).toBe(2);
    expect(requests.get('/b/N')).toBe(1);
    // Keys are JSON.stringify([name, symbol]), documented so that entries can be deleted.
    expect(cache.get(JSON.stringify(['api-b', 'N']))?.close).toEqual(barsFor('b:N').close);
  });

  it('derived names are the same in another process, and differ between configurations', async () => {
    const configs = { base, dir, db: sqliteFile('names') };
    const here = sourcesFor(configs).map((s) => s.name);
    expect(new Set(here).size).toBe(here.length);
    for (const name of here)
      expect(name).not.toMatch(/^(http|csv-file|columnar-file|sqlite:bars)$/);
    const script = fileURLToPath(new URL('../test/child-source-names.ts', import.meta.url));
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const child = spawn(process.execPath, ['--import', tsx, script, JSON.stringify(configs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(out) as string[]).toEqual(here);
  });

  it('a loader with a cache refuses a source whose identity cannot be derived, naming the name option; with a name or without a cache it loads', async () => {
    const memory = new Database(':memory:');
    memory.exec(
      'CREATE TABLE bars (symbol TEXT, time REAL, open REAL, high REAL, low REAL, close REAL, volume REAL)',
    );
    const unnameable: Source[] = [
      httpSource({ url: (s) => `${base}/a/${s}` }),
      csvFileSource({ path: (s) => join(dir, `${s}.csv`) }),
      columnarFileSource({ path: (s) => join(dir, `${s}.ptc`) }),
      sqliteSource({ database: memory, table: 'bars' }),
    ];
    const cache = new LruCache<string, OhlcvColumns>({ max: 100 });
    const loader = new DataLoader({ cache });
    for (const source of unnameable) {
      expect(source.anonymous).toBe(true);
      const error = await loader.load('X', source).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LoaderOptionError);
      expect(error).toMatchObject({ option: 'name' });
      expect((error as Error).message).toContain(`source "${source.name}"`);
      await expect(loader.loadMany(['X', 'Y'], source)).rejects.toBeInstanceOf(LoaderOptionError);
    }
    expect(requests.size).toBe(0);
    expect(cache.size).toBe(0);
    memory.close();

    const named = httpSource({ name: 'a-api', url: (s) => `${base}/a/${s}` });
    expect(named.anonymous).toBeUndefined();
    expect((await loader.load('X', named)).close).toEqual(barsFor('a:X').close);
    expect((await new DataLoader().load('X', unnameable[0]!)).close).toEqual(barsFor('a:X').close);
  });

  it('refuses a bad name, a template without {symbol} and a non-HTTP URL by option, and a symbol that would leave a path template', async () => {
    expect(() => httpSource({ name: '', url: `${base}/{symbol}` })).toThrow(LoaderOptionError);
    expect(() => httpSource({ url: `${base}/bars` })).toThrow(/option url = .*\{symbol\}/);
    expect(() => httpSource({ url: 'ftp://host/{symbol}' })).toThrow(/option url/);
    expect(() => httpSource({ url: '/relative/{symbol}' })).toThrow(/option url/);
    expect(() => csvFileSource({ path: join(dir, 'fixed.csv') })).toThrow(/option path/);
    expect(() => columnarFileSource({ path: 42 as unknown as string })).toThrow(/option path/);
    expect(() =>
      sqliteSource({ name: 7 as unknown as string, database: ':memory:', table: 'bars' }),
    ).toThrow(/option name/);
    const loader = new DataLoader();
    const source = csvFileSource({ path: join(dir, '{symbol}.csv') });
    for (const symbol of ['../etc/passwd', 'a/b', 'a\\b', '..', '']) {
      const error = await loader.load(symbol, source).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LoadFailedError);
      expect((error as LoadFailedError).cause).toBeInstanceOf(DataValidationError);
      expect((error as LoadFailedError).cause).toMatchObject({ symbol });
    }
    // Symbols are percent-encoded into URL templates.
    const a = httpSource({ url: `${base}/a/{symbol}` });
    expect((await loader.load('EUR/USD', a)).close).toEqual(barsFor('a:EUR/USD').close);
    expect(requests.get('/a/EUR/USD')).toBe(1);
  });
});
