import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '@peaktrade/config';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { cached } from './cached.js';
import {
  configureDefaultCache,
  getDefaultCache,
  isDefaultCachingEnabled,
  registerDefaultTier,
  setDefaultCache,
} from './default-cache.js';
import {
  CacheClosedError,
  CacheKeyError,
  CacheLevelUnavailableError,
  CacheOptionError,
} from './errors.js';
import { callKey, encodeKey } from './keys.js';
import { MultiLevelCache } from './multi-level.js';
import { MemoryTier } from './test-utils/memory-tier.js';

const caches: MultiLevelCache[] = [];
function make(...args: ConstructorParameters<typeof MultiLevelCache>): MultiLevelCache {
  const c = new MultiLevelCache(...args);
  caches.push(c);
  return c;
}

afterEach(async () => {
  setDefaultCache(undefined);
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

/** Golden keys: changing the encoding changes every key stored in Redis and on disk. */
const GOLDEN: [unknown[], string][] = [
  [['BTC-USD', '1m'], 'fn:["BTC-USD","1m"]'],
  [[1], 'fn:[n1]'],
  [['1'], 'fn:["1"]'],
  [[1n], 'fn:[b1]'],
  [[-0], 'fn:[n-0]'],
  [[Number.NaN], 'fn:[nNaN]'],
  [[null, undefined, true, false], 'fn:[N,U,T,F]'],
  [[{ b: 2, a: [1, '2'] }], 'fn:[{"a":[n1,"2"],"b":n2}]'],
  [[new Date(Date.UTC(2026, 0, 2, 3, 4, 5))], 'fn:[D1767323045000]'],
  [[new Float64Array([1.5, -2])], 'fn:[Float64Array(AAAAAAAA+D8AAAAAAAAAwA==)]'],
  [[new Uint8Array([1, 2, 3])], 'fn:[Uint8Array(AQID)]'],
  [
    [
      new Map<string, unknown>([
        ['z', 1],
        ['a', { y: 1, x: 2 }],
      ]),
    ],
    'fn:[M{"a"=>{"x":n2,"y":n1},"z"=>n1}]',
  ],
  [[new Set([3, 1, 2])], 'fn:[S[n1,n2,n3]]'],
  [[/ab+c/gi], 'fn:[R/ab+c/gi]'],
  [
    [{ nested: { deep: [new Int32Array([7])] } }],
    'fn:[{"nested":{"deep":[Int32Array(BwAAAA==)]}}]',
  ],
  [['x'.repeat(300)], 'fn:#S-pCgVTy9QdXdhzZ8Hiet8HuRAjUqqtb-AHd3PI-oT4'],
];

describe('key encoding', () => {
  it.each(GOLDEN.map(([args, key]) => [key, args] as const))('golden key %s', (key, args) => {
    expect(callKey('fn', args)).toBe(key);
  });

  it('gives the same keys in a fresh process (stable across runs)', () => {
    // The child runs this package's own keys.ts, compiled here with TypeScript (no dist needed).
    const dir = mkdtempSync(join(tmpdir(), 'cache-core-keys-'));
    try {
      const src = fileURLToPath(new URL('.', import.meta.url));
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      for (const file of ['keys', 'errors']) {
        const out = ts.transpileModule(readFileSync(join(src, `${file}.ts`), 'utf8'), {
          compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
        });
        writeFileSync(join(dir, `${file}.js`), out.outputText);
      }
      writeFileSync(
        join(dir, 'main.js'),
        `import { callKey } from './keys.js';
         const out = [callKey('fn', [{ b: 2, a: [1, '2'] }]), callKey('fn', [new Map([['z', 1], ['a', { y: 1, x: 2 }]])]), callKey('fn', [new Float64Array([1.5, -2])]), callKey('fn', ['x'.repeat(300)])];
         process.stdout.write(JSON.stringify(out));`,
      );
      const out = JSON.parse(
        execFileSync(process.execPath, [join(dir, 'main.js')], { encoding: 'utf8' }),
      ) as string[];
      expect(out).toEqual([GOLDEN[7]![1], GOLDEN[11]![1], GOLDEN[9]![1], GOLDEN[15]![1]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ignores object key order but distinguishes types and structure', () => {
    expect(encodeKey({ a: 1, b: { c: 2, d: 3 } })).toBe(encodeKey({ b: { d: 3, c: 2 }, a: 1 }));
    const distinct = [
      1,
      '1',
      1n,
      true,
      'true',
      null,
      undefined,
      'null',
      [1, 2],
      [[1, 2]],
      ['1,2'],
      { a: undefined },
      {},
      new Uint8Array([1]),
      new Int8Array([1]),
      [1],
      new Set([1]),
      new Map([[1, 1]]),
      { 1: 1 },
      new Date(0),
      0,
      -0,
      'a"b',
      ['a', 'b'],
      ['a,b'],
    ];
    const encoded = distinct.map((v) => encodeKey(v));
    expect(new Set(encoded).size).toBe(distinct.length);
  });

  it('rejects functions, symbols and cycles with the path of the problem', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => callKey('fn', [1, { f: () => 1 }])).toThrow(CacheKeyError);
    expect(() => callKey('fn', [1, { f: () => 1 }])).toThrow(/args\[1\]\.f/);
    expect(() => callKey('fn', [Symbol('s')])).toThrow(/symbols/);
    expect(() => callKey('fn', [cyclic])).toThrow(/cyclic/);
  });

  it('does not give objects that differ only in symbol-keyed properties one key', () => {
    const side = Symbol('side');
    const buy = () => callKey('fn', [{ qty: 1, [side]: 'buy' }]);
    expect(buy).toThrow(CacheKeyError); // the old code gave both fn:[{"qty":n1}]
    expect(buy).toThrow(/args\[0\]\[Symbol\(side\)\]/);
    const hidden = { qty: 1 };
    Object.defineProperty(hidden, side, { value: 'sell', enumerable: false });
    expect(callKey('fn', [hidden])).toBe('fn:[{"qty":n1}]'); // like non-enumerable string keys
  });

  it('gives URLs that differ different keys', () => {
    const a = encodeKey(new URL('https://api.example.com/bars?symbol=BTC'));
    const b = encodeKey(new URL('https://api.example.com/bars?symbol=ETH'));
    expect(a).not.toBe(b); // the old code encoded every URL as URL{}
    expect(a).toBe('URL("https://api.example.com/bars?symbol=BTC")');
  });
});

describe('cached() function form', () => {
  it('caches by arguments, single-flights concurrent calls, and keys 1 and "1" apart', async () => {
    const cache = make();
    let calls = 0;
    const load = cached(
      async (id: number | string) => {
        calls++;
        await new Promise((r) => setTimeout(r, 2));
        return `row ${typeof id}:${id}`;
      },
      { ttl: 60, cacheLevel: 'memory', cache, name: 'load' },
    );
    const burst = await Promise.all(Array.from({ length: 100 }, () => load(1)));
    expect(new Set(burst)).toEqual(new Set(['row number:1']));
    expect(calls).toBe(1);
    expect(await load('1')).toBe('row string:1');
    expect(calls).toBe(2);
    expect(await load(1)).toBe('row number:1');
    expect(calls).toBe(2);
    expect(load.keyFor(1)).toBe('load:[n1]');
    expect(await load.invalidate(1)).toBe(true);
    await load(1);
    expect(calls).toBe(3);
  });

  it('memoised single-argument keys still keep 0 and -0, 1 and "1" apart', () => {
    const f = cached((x: number | string) => x, { cache: make(), name: 'f' });
    expect([
      f.keyFor(0),
      f.keyFor(-0),
      f.keyFor(0),
      f.keyFor(1),
      f.keyFor('1'),
      f.keyFor(1),
    ]).toEqual(['f:[n0]', 'f:[n-0]', 'f:[n0]', 'f:[n1]', 'f:["1"]', 'f:[n1]']);
    for (let i = 0; i < 5000; i++) expect(f.keyFor(i)).toBe(`f:[n${i}]`); // past the memo bound
  });

  it('uses a custom key function and tags', async () => {
    const cache = make();
    let calls = 0;
    const f = cached((_symbol: string, _debug: { verbose: boolean }) => ++calls, {
      cache,
      name: 'quote',
      key: (symbol) => symbol.toUpperCase(),
      tags: (symbol) => [`sym:${symbol.toUpperCase()}`],
    });
    expect(await f('btc', { verbose: true })).toBe(1);
    expect(await f('BTC', { verbose: false })).toBe(1);
    expect(f.keyFor('btc', { verbose: true })).toBe('quote:BTC');
    expect(await cache.deleteByTag('sym:BTC')).toBe(1);
    expect(await f('btc', { verbose: true })).toBe(2);
  });

  it('rejects a call whose level has no tier, and works once the tier is registered', async () => {
    const cache = make();
    const f = cached((x: number) => x * 2, { cache, cacheLevel: 'redis', name: 'dbl' });
    await expect(f(2)).rejects.toThrow(CacheLevelUnavailableError);
    const l2 = new MemoryTier('l2-redis');
    cache.addTier(l2);
    expect(await f(2)).toBe(4);
    expect(l2.data.has('dbl:[n2]')).toBe(true);
    expect(cache.l1!.has('dbl:[n2]')).toBe(false);
  });

  it('rejects calls once its cache is closed', async () => {
    const cache = new MultiLevelCache();
    const f = cached((x: number) => x, { cache, name: 'closed' });
    expect(await f(1)).toBe(1);
    await cache.close();
    await expect(f(1)).rejects.toThrow(CacheClosedError);
  });

  it('passes errors of the wrapped function to the caller and retries the next call', async () => {
    const cache = make();
    let calls = 0;
    const f = cached(
      (x: number) => {
        calls++;
        if (calls === 1) throw new Error(`first call fails for ${x}`);
        return x;
      },
      { cache, name: 'flaky' },
    );
    await expect(f(3)).rejects.toThrow('first call fails for 3');
    expect(await f(3)).toBe(3);
  });

  it.each([
    [{ ttl: -1 }, 'ttl'],
    [{ cacheLevel: 'ram' }, 'cacheLevel'],
    [{ grace: Infinity }, 'grace'],
    [{ key: 'k' }, 'key'],
    [{ tags: [''] }, 'tags'],
    [{ cache: {} }, 'cache'],
    [{ maxKeyLength: 3 }, 'maxKeyLength'],
  ])('bad option %j throws when cached() runs, naming %s', (options, name) => {
    try {
      cached((x: number) => x, { name: 'f', ...(options as object) });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CacheOptionError);
      expect((error as CacheOptionError).option).toBe(name);
    }
  });

  it('requires a name for anonymous functions', () => {
    expect(() =>
      cached(
        (
          () => (x: number) =>
            x
        )(),
      ),
    ).toThrow(/name/);
  });
});

describe('@cached() decorator form', () => {
  it('caches a method per arguments with a Class.method key prefix', async () => {
    const cache = make();
    class MarketData {
      calls = 0;
      @cached({ ttl: 300, cacheLevel: 'memory', cache })
      async bars(symbol: string, timeframe: string): Promise<string> {
        this.calls++;
        await Promise.resolve();
        return `${symbol}@${timeframe}#${this.calls}`;
      }

      @cached({ ttl: 300, cache, name: 'static-ish' })
      static async version(): Promise<number> {
        await Promise.resolve();
        return 3;
      }
    }
    const md = new MarketData();
    expect(await md.bars('BTC', '1m')).toBe('BTC@1m#1');
    expect(await md.bars('BTC', '1m')).toBe('BTC@1m#1');
    expect(await md.bars('ETH', '1m')).toBe('ETH@1m#2');
    expect(md.calls).toBe(2);
    expect(cache.l1!.has('MarketData.bars:["BTC","1m"]')).toBe(true);
    expect(await MarketData.version()).toBe(3);
    expect(cache.l1!.has('static-ish:[]')).toBe(true);
  });

  it('validates decorator options at class definition time', () => {
    expect(() => cached({ cacheLevel: 'ram' as never })).toThrow(CacheOptionError);
  });
});

describe('default cache', () => {
  it('is built from @peaktrade/config (l1_size, l1_ttl in seconds) and used by cached() without a cache', async () => {
    const config = parseConfig('[performance.cache]\nl1_size = 3\nl1_ttl = 2\n');
    const cache = configureDefaultCache(config);
    caches.push(cache);
    expect(getDefaultCache()).toBe(cache);
    expect(cache.l1!.max).toBe(3);
    expect(cache.l1!.ttlMs).toBe(2000);
    let calls = 0;
    const f = cached((x: number) => x + ++calls, { name: 'dflt' });
    expect(await f(1)).toBe(2);
    expect(await f(1)).toBe(2);
    expect(cache.l1!.has('dflt:[n1]')).toBe(true);
  });

  it('registerDefaultTier adds the Redis/disk tiers to the default cache', async () => {
    const cache = configureDefaultCache(parseConfig(''));
    caches.push(cache);
    const l2 = new MemoryTier('l2-redis');
    registerDefaultTier(l2);
    expect(cache.tierNames).toEqual(['l2-redis']);
    const f = cached((x: number) => x, { name: 'shared', cacheLevel: 'redis' });
    expect(await f(5)).toBe(5);
    expect(l2.data.has('shared:[n5]')).toBe(true);
  });

  it('enable_caching = false makes cached() call straight through', async () => {
    const cache = configureDefaultCache(parseConfig('[performance]\nenable_caching = false\n'));
    caches.push(cache);
    expect(isDefaultCachingEnabled()).toBe(false);
    let calls = 0;
    const f = cached(() => ++calls, { name: 'off' });
    expect(await f()).toBe(1);
    expect(await f()).toBe(2);
  });

  it('functions made earlier switch to a replaced default cache', async () => {
    const first = make();
    setDefaultCache(first);
    const f = cached((x: number) => x, { name: 'switch' });
    await f(1);
    const second = make();
    setDefaultCache(second);
    await f(1);
    expect(first.l1!.has('switch:[n1]')).toBe(true);
    expect(second.l1!.has('switch:[n1]')).toBe(true);
  });

  it('invalidate() after a default-cache switch removes the entry from the cache calls now use', async () => {
    const first = make();
    const second = make();
    let calls = 0;
    const f = cached((x: number) => `${x}#${++calls}`, { name: 'switchInvalidate' });
    setDefaultCache(first);
    expect(await f(1)).toBe('1#1');
    setDefaultCache(second);
    expect(await f(1)).toBe('1#2');
    setDefaultCache(first);
    expect(await f.invalidate(1)).toBe(true); // the old code deleted from `second`
    expect(await f(1)).toBe('1#3');
  });
});
