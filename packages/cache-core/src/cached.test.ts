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
  it('caches a method per arguments with a Class#method@<source hash> key prefix', async () => {
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
    expect([...cache.l1!.keys()]).toContainEqual(
      expect.stringMatching(/^MarketData#bars@[0-9a-f]{12}:\["BTC","1m"\]$/),
    );
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

describe('default key prefix', () => {
  it('keeps two different functions with the same name apart in the default cache', async () => {
    setDefaultCache(make());
    // Two `function load` from two "modules".
    const moduleA = () =>
      async function load(id: number): Promise<string> {
        await Promise.resolve();
        return `orders:${id}`;
      };
    const moduleB = () =>
      async function load(id: number): Promise<string> {
        await Promise.resolve();
        return `users:${id}`;
      };
    const a = cached(moduleA());
    const b = cached(moduleB());
    expect(await a(1)).toBe('orders:1');
    expect(await b(1)).toBe('users:1'); // the old code returned 'orders:1' (both keyed load:[n1])
    expect(a.keyFor(1)).not.toBe(b.keyFor(1));
    expect(a.keyFor(1)).toMatch(/^load@[0-9a-f]{12}:\[n1\]$/);
  });

  it('throws CacheKeyError when a different function with the same name and source claims the prefix', async () => {
    setDefaultCache(make());
    // One definition, two closures: same name and source text, different results.
    const makeLoader = (table: string) =>
      async function loadRow(id: number): Promise<string> {
        await Promise.resolve();
        return `${table}:${id}`;
      };
    const orders = cached(makeLoader('orders'));
    expect(await orders(1)).toBe('orders:1');
    let error: unknown;
    try {
      cached(makeLoader('users')); // the old code wrapped it, and it answered 'orders:1'
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CacheKeyError);
    expect((error as CacheKeyError).path).toBe('name');
    expect((error as Error).message).toMatch(/loadRow@[0-9a-f]{12}/);
    expect((error as Error).message).toMatch(/explicit `name`/);
    // An explicit name is the way out, and the first function keeps its entries.
    const users = cached(makeLoader('users'), { name: 'users.loadRow' });
    expect(await users(1)).toBe('users:1');
    expect(await orders(1)).toBe('orders:1');
  });

  it('lets the same function wrapped twice share its entries', async () => {
    setDefaultCache(make());
    let calls = 0;
    async function quoteTwice(symbol: string): Promise<string> {
      await Promise.resolve();
      return `${symbol}#${++calls}`;
    }
    const first = cached(quoteTwice);
    const second = cached(quoteTwice);
    expect(await first('BTC')).toBe('BTC#1');
    expect(await second('BTC')).toBe('BTC#1');
    expect(calls).toBe(1);
  });

  it('scopes the check to one cache: the same definition may be wrapped once per cache', async () => {
    const makeLoader = (table: string) =>
      async function perCache(id: number): Promise<string> {
        await Promise.resolve();
        return `${table}:${id}`;
      };
    const c1 = make();
    const c2 = make();
    expect(await cached(makeLoader('a'), { cache: c1 })(1)).toBe('a:1');
    expect(await cached(makeLoader('b'), { cache: c2 })(1)).toBe('b:1');
    // Two namespaces of one name share keys, so they are one scope.
    cached(makeLoader('c'), { cache: c1.namespace('ns') });
    expect(() => cached(makeLoader('d'), { cache: c1.namespace('ns') })).toThrow(CacheKeyError);
  });

  it('derives a prefix that is a pure function of name and source text (stable across processes)', () => {
    // new Function gives a fixed source text, untouched by the test transform.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- that fixed text is the point
    const fn = new Function('x', 'return x * 2') as (x: number) => number;
    expect(fn.name).toBe('anonymous');
    // Golden: changing the derivation changes every default key in Redis and on disk.
    expect(cached(fn, { cache: make() }).keyFor(3)).toBe('anonymous@29973844067f:[n3]');
    // Every `new Function` is named "anonymous": the old code gave all of them one prefix.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- as above
    const other = new Function('x', 'return x * 3') as (x: number) => number;
    expect(cached(other, { cache: make() }).keyFor(3)).not.toBe('anonymous@29973844067f:[n3]');
  });

  it('keeps an explicit name as the exact, stable prefix, and lets functions share it on purpose', async () => {
    const cache = make();
    const a = cached((id: number) => `a${id}`, { cache, name: 'rows' });
    const b = cached((id: number) => `b${id}`, { cache, name: 'rows' });
    expect(a.keyFor(1)).toBe('rows:[n1]');
    expect(await a(1)).toBe('a1');
    expect(await b(1)).toBe('a1'); // same explicit name: shared on purpose
  });

  it('requires an explicit name for bound and native functions', () => {
    function boundLoad(this: { t: string }, id: number): string {
      return `${this.t}${id}`;
    }
    for (const fn of [boundLoad.bind({ t: 'a' }), Math.max]) {
      let error: unknown;
      try {
        cached(fn as (x: number) => unknown);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CacheOptionError);
      expect((error as CacheOptionError).option).toBe('name');
      expect((error as Error).message).toMatch(/bound or native/);
    }
    expect(
      cached(boundLoad.bind({ t: 'a' }), { name: 'boundLoad:a', cache: make() }).keyFor(1),
    ).toBe('boundLoad:a:[n1]');
  });
});

describe('@cached() default key prefix', () => {
  const keysOf = (cache: MultiLevelCache): string[] => [...cache.l1!.keys()];

  it('keeps two same-named classes with a same-named method apart', async () => {
    const cache = make();
    setDefaultCache(cache);
    const moduleA = () => {
      class Repo {
        @cached({ cacheLevel: 'memory' })
        async get(id: number): Promise<string> {
          await Promise.resolve();
          return `orders:${id}`;
        }
      }
      return Repo;
    };
    const moduleB = () => {
      class Repo {
        @cached({ cacheLevel: 'memory' })
        async get(id: number): Promise<string> {
          await Promise.resolve();
          return `users:${id}`;
        }
      }
      return Repo;
    };
    const A = moduleA();
    const B = moduleB();
    expect(await new A().get(1)).toBe('orders:1');
    expect(await new B().get(1)).toBe('users:1'); // the old code: both Repo.get:[n1]
    expect(keysOf(cache).filter((k) => /^Repo#get@[0-9a-f]{12}:\[n1\]$/.test(k))).toHaveLength(2);
  });

  it('rejects the first call of a second class definition with the same name and method source', async () => {
    setDefaultCache(make());
    const define = (table: string) => {
      class Table {
        readonly table = table;
        @cached({ cacheLevel: 'memory' })
        async row(id: number): Promise<string> {
          await Promise.resolve();
          return `${this.table}:${id}`;
        }
      }
      return Table;
    };
    const Orders = define('orders');
    const Users = define('users');
    expect(await new Orders().row(1)).toBe('orders:1');
    await expect(new Users().row(1)).rejects.toThrow(CacheKeyError); // old: 'orders:1'
    await expect(new Users().row(1)).rejects.toThrow(/Table#row@[0-9a-f]{12}/);
  });

  it('keeps a static and an instance method with one name and source apart', async () => {
    const cache = make();
    class Quote {
      @cached({ cache })
      static async price(symbol: string): Promise<string> {
        await Promise.resolve();
        return `${symbol}!`;
      }

      @cached({ cache })
      async price(symbol: string): Promise<string> {
        await Promise.resolve();
        return `${symbol}!`;
      }
    }
    await Quote.price('BTC');
    await new Quote().price('BTC');
    const keys = keysOf(cache).sort();
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^Quote#price@[0-9a-f]{12}:\["BTC"\]$/);
    expect(keys[1]).toMatch(/^Quote\.price@[0-9a-f]{12}:\["BTC"\]$/);
  });

  it('names the defining class, whichever subclass calls first', async () => {
    const cache = make();
    class Base {
      @cached({ cache })
      async bars(symbol: string): Promise<string> {
        await Promise.resolve();
        return symbol;
      }
    }
    class Derived extends Base {}
    await new Derived().bars('BTC'); // the old code named the prefix after Derived here
    await new Base().bars('BTC');
    expect(keysOf(cache)).toHaveLength(1);
    expect(keysOf(cache)[0]).toMatch(/^Base#bars@[0-9a-f]{12}:\["BTC"\]$/);
  });

  it('requires an explicit name for a method of an anonymous class', async () => {
    const cache = make();
    const Anon = (() =>
      class {
        @cached({ cache })
        async get(id: number): Promise<number> {
          await Promise.resolve();
          return id;
        }
      })();
    const error: unknown = await new Anon().get(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheOptionError);
    expect((error as CacheOptionError).option).toBe('name');
    expect((error as Error).message).toMatch(/get/);
  });
});

describe('lone surrogates in keys', () => {
  const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('hex');
  const loneSurrogate = /\p{Cs}/u;

  it.each([
    ['strings', ['\ud800'], ['\ud801']],
    ['long strings (hashed)', ['\ud800'.repeat(300)], ['\ud801'.repeat(300)]],
    ['RegExps', [new RegExp('\ud800')], [new RegExp('\ud801')]],
    [
      'long RegExps (hashed)',
      [new RegExp('\ud800'.repeat(300))],
      [new RegExp('\ud801'.repeat(300))],
    ],
    ['object keys', [{ '\ud800': 1 }], [{ '\ud801': 1 }]],
    [
      'class names',
      [new ({ '\ud800': class {} } as Record<string, new () => object>)['\ud800']!()],
      [new ({ '\ud801': class {} } as Record<string, new () => object>)['\ud801']!()],
    ],
  ] as [string, unknown[], unknown[]][])(
    'gives %s that differ only in a lone surrogate different, well-formed keys',
    (_what, a, b) => {
      const ka = callKey('fn', a);
      const kb = callKey('fn', b);
      expect(ka).not.toBe(kb);
      // Redis and SQLite store keys as UTF-8, where every lone surrogate becomes U+FFFD.
      expect(utf8(ka)).not.toBe(utf8(kb));
      expect(ka).not.toMatch(loneSurrogate);
      expect(kb).not.toMatch(loneSurrogate);
    },
  );

  it('gives two hashed class instances that differ only in class name different keys', () => {
    const A = ({ '\ud800': class {} } as Record<string, new () => object>)['\ud800']!;
    const B = ({ '\ud801': class {} } as Record<string, new () => object>)['\ud801']!;
    const long = 'x'.repeat(300);
    expect(callKey('fn', [Object.assign(new A(), { long })])).not.toBe(
      callKey('fn', [Object.assign(new B(), { long })]),
    );
  });

  it('rejects an explicit name with a lone surrogate', () => {
    expect(() => cached((x: number) => x, { name: 'q\ud800' })).toThrow(CacheOptionError);
    expect(() => cached((x: number) => x, { name: 'q\ud800' })).toThrow(/lone surrogate/);
  });

  it('rejects a call whose custom key() returns a lone surrogate', async () => {
    const f = cached((x: string) => x, { cache: make(), name: 'k', key: (x) => x });
    expect(await f('\ud83d\ude00')).toBe('\ud83d\ude00'); // a well-formed pair is fine
    await expect(f('\ud800')).rejects.toThrow(CacheKeyError);
    await expect(f('\ud800')).rejects.toThrow(/key\(\)/);
  });

  it('escapes a lone surrogate in a derived default prefix', () => {
    const holder = { ['w\ud800']: (x: number) => x };
    const key = cached(holder['w\ud800'], { cache: make() }).keyFor(1);
    expect(key).not.toMatch(loneSurrogate);
    expect(key).toMatch(/^"w\\ud800"@[0-9a-f]{12}:\[n1\]$/);
  });
});

describe('custom key()', () => {
  it('rejects a call whose custom key() returns a non-string, without calling the function', async () => {
    let calls = 0;
    const f = cached((q: { symbol: string }) => `${q.symbol}#${++calls}`, {
      cache: make(),
      name: 'quote',
      key: (q) => q as unknown as string,
    });
    for (const q of [{ symbol: 'BTC' }, { symbol: 'ETH' }]) {
      // The old code keyed both 'quote:[object Object]', and ETH answered 'BTC#1'.
      const error: unknown = await f(q).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CacheKeyError);
      expect((error as CacheKeyError).path).toBe('key()');
      expect((error as Error).message).toMatch(/returned an object, not a string/);
    }
    expect(calls).toBe(0);
    const n = cached((x: number) => x, { cache: make(), name: 'n', key: (x) => x as never });
    await expect(n(1)).rejects.toThrow(/key\(\).*returned a number \(1\)/);
    expect(() => n.keyFor(1)).toThrow(CacheKeyError);
    await expect(n.invalidate(1)).rejects.toThrow(CacheKeyError);
  });
});
