import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigReadError,
  ConfigSyntaxError,
  ConfigValidationError,
  defaultConfig,
  loadConfig,
  parseConfig,
} from './index.js';

const specFile = fileURLToPath(new URL('../test/fixtures/spec.toml', import.meta.url));

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

describe('loadConfig', () => {
  it("accepts the spec's performance.toml as it is", () => {
    const config = loadConfig({ path: specFile, env: {} });
    expect(config.performance.enable_caching).toBe(true);
    expect(config.performance.cache.l1_size).toBe(1000);
    expect(config.performance.cache.l1_ttl).toBe(300);
    expect(config.performance.cache.l3_enabled).toBe(true);
    expect(config.performance.parallel.max_workers).toBe(8);
    expect(config.performance.parallel.use_processes).toBe(true);
    // Keys the spec leaves out get their documented defaults.
    expect(config.performance.serialize.level).toBe(3);
    expect(config.performance.serialize.threshold_bytes).toBe(1024);
  });

  it('uses the defaults when no file exists', () => {
    const empty = mkdtempSync(join(tmpdir(), 'pt-config-'));
    const config = loadConfig({ cwd: empty, env: {} });
    expect(config).toEqual(defaultConfig());
    expect(config.performance.cache.l1_size).toBe(1000);
    expect(config.performance.cache.redis_url).toBe('redis://127.0.0.1:6379');
    expect(config.performance.parallel.max_workers).toBeGreaterThanOrEqual(1);
  });

  it('finds config/performance.toml in a parent folder', () => {
    const root = mkdtempSync(join(tmpdir(), 'pt-config-'));
    mkdirSync(join(root, 'config'));
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    writeFileSync(join(root, 'config', 'performance.toml'), '[performance.cache]\nl1_size = 42\n');
    expect(loadConfig({ cwd: join(root, 'a', 'b'), env: {} }).performance.cache.l1_size).toBe(42);
  });

  it('fails when an explicitly named file is missing', () => {
    const error = catchError(() => loadConfig({ path: '/nonexistent/peaktrade.toml', env: {} }));
    expect(error).toBeInstanceOf(ConfigReadError);
    expect((error as ConfigReadError).code).toBe('E_CONFIG_READ');
    expect((error as Error).message).toContain('/nonexistent/peaktrade.toml');
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ path: specFile, env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.performance.cache)).toBe(true);
    expect(() => {
      (config.performance.cache as { l1_size: number }).l1_size = 1;
    }).toThrow(TypeError);
  });
});

describe('environment overrides', () => {
  it('override file values with PEAKTRADE_PERFORMANCE__SECTION__KEY', () => {
    const config = loadConfig({
      path: specFile,
      env: {
        PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE: '5000',
        PEAKTRADE_PERFORMANCE__PARALLEL__USE_PROCESSES: 'false',
        PEAKTRADE_PERFORMANCE__CACHE__REDIS_URL: 'redis://10.0.0.5:6380/2',
        PEAKTRADE_PERFORMANCE__ENABLE_CACHING: 'false',
      },
    });
    expect(config.performance.cache.l1_size).toBe(5000);
    expect(config.performance.parallel.use_processes).toBe(false);
    expect(config.performance.cache.redis_url).toBe('redis://10.0.0.5:6380/2');
    expect(config.performance.enable_caching).toBe(false);
    // Untouched file values stay.
    expect(config.performance.parallel.max_workers).toBe(8);
  });

  it('validate overridden values and name the variable', () => {
    const error = catchError(() =>
      loadConfig({ path: specFile, env: { PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE: 'lots' } }),
    );
    expect(error).toBeInstanceOf(ConfigValidationError);
    const { message } = error as Error;
    expect(message).toContain('performance.cache.l1_size');
    expect(message).toContain('"lots"');
    expect(message).toContain('env PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE');
  });

  it('name the variable when it creates an unknown section or a bad inline table', () => {
    const unknown = catchError(() =>
      parseConfig('', { source: 'f.toml', env: { PEAKTRADE_PERFORMANCE__CAHCE__L1_SIZE: '5' } }),
    ) as ConfigValidationError;
    expect(unknown.issues).toHaveLength(1);
    expect(unknown.issues[0]).toMatchObject({
      path: 'performance.cahce',
      source: 'env PEAKTRADE_PERFORMANCE__CAHCE__L1_SIZE',
    });
    const inline = catchError(() =>
      parseConfig('', {
        source: 'f.toml',
        env: { PEAKTRADE_PERFORMANCE__CACHE: '{ l1_size = 0 }' },
      }),
    ) as ConfigValidationError;
    expect(inline.issues[0]).toMatchObject({
      path: 'performance.cache.l1_size',
      source: 'env PEAKTRADE_PERFORMANCE__CACHE',
    });
  });

  it('never drop a value that stands where an override needs a table', () => {
    // From the file: `cache = 3` is invalid and must still be reported.
    const file = catchError(() =>
      parseConfig('[performance]\ncache = 3\n', {
        source: 'f.toml',
        env: { PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE: '5' },
      }),
    ) as ConfigValidationError;
    expect(file).toBeInstanceOf(ConfigValidationError);
    expect(file.issues).toContainEqual(
      expect.objectContaining({ path: 'performance.cache', value: 3, line: 2 }),
    );
    expect(file.message).toContain('env PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE');
    // From another variable.
    const env = catchError(() =>
      parseConfig('', {
        env: { PEAKTRADE_PERFORMANCE__CACHE: '3', PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE: '5' },
      }),
    ) as ConfigValidationError;
    expect(env).toBeInstanceOf(ConfigValidationError);
    expect(env.message).toContain('env PEAKTRADE_PERFORMANCE__CACHE)');
    // A variable below a leaf key maps to nothing.
    const leaf = catchError(() =>
      parseConfig('[performance.cache]\nl1_size = 5\n', {
        env: { PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE__X: '1' },
      }),
    ) as ConfigValidationError;
    expect(leaf.issues).toHaveLength(1);
    expect(leaf.issues[0]?.source).toBe('env PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE__X');
  });

  it('take a multi-line value as a string, not its first line', () => {
    const error = catchError(() =>
      parseConfig('', { env: { PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE: '5\nl1_ttl = 9' } }),
    ) as ConfigValidationError;
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect(error.issues[0]).toMatchObject({
      path: 'performance.cache.l1_size',
      value: '5\nl1_ttl = 9',
      source: 'env PEAKTRADE_PERFORMANCE__CACHE__L1_SIZE',
    });
  });

  it('ignore unrelated PEAKTRADE_ variables without a path separator', () => {
    expect(() => parseConfig('', { env: { PEAKTRADE_HOME: '/x' } })).not.toThrow();
  });
});

describe('bad input', () => {
  it('a wrong type names the key path, the value, the rule and the line', () => {
    const text = '[performance]\nenable_caching = true\n\n[performance.cache]\nl1_size = "big"\n';
    const error = catchError(() =>
      parseConfig(text, { source: 'perf.toml' }),
    ) as ConfigValidationError;
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect(error.code).toBe('E_CONFIG_INVALID');
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({
      path: 'performance.cache.l1_size',
      value: 'big',
      line: 5,
    });
    expect(error.issues[0]?.rule).toMatch(/number/i);
    expect(error.message).toContain('performance.cache.l1_size = "big"');
    expect(error.message).toContain('perf.toml:5');
  });

  it('an out-of-range value names the key, the value, the bound and the line', () => {
    const text = '[performance.cache]\nl1_size = 0\n[performance.serialize]\nlevel = 99\n';
    const error = catchError(() =>
      parseConfig(text, { source: 'perf.toml' }),
    ) as ConfigValidationError;
    expect(error.issues.map((i) => [i.path, i.value, i.line])).toEqual([
      ['performance.cache.l1_size', 0, 2],
      ['performance.serialize.level', 99, 4],
    ]);
    expect(error.issues[0]?.rule).toMatch(/>=\s*1/);
    expect(error.issues[1]?.rule).toMatch(/<=\s*22/);
  });

  it('an unknown key is refused, with the allowed keys and the line', () => {
    const text = '[performance.cache]\nl1_size = 10\nl1_sise = 10\n';
    const error = catchError(() =>
      parseConfig(text, { source: 'perf.toml' }),
    ) as ConfigValidationError;
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({
      path: 'performance.cache.l1_sise',
      value: 10,
      line: 3,
    });
    expect(error.issues[0]?.rule).toContain('unknown key');
    expect(error.issues[0]?.rule).toContain('l1_size');
  });

  it('an unknown section is refused', () => {
    const error = catchError(() =>
      parseConfig('[performance.cahce]\nl1_size = 1\n'),
    ) as ConfigValidationError;
    expect(error.issues[0]).toMatchObject({ path: 'performance.cahce', line: 1 });
  });

  it('a TOML syntax error names the file and the line', () => {
    const text = '[performance]\nenable_caching = true\n[performance.cache\nl1_size = 1\n';
    const error = catchError(() => parseConfig(text, { source: 'perf.toml' })) as ConfigSyntaxError;
    expect(error).toBeInstanceOf(ConfigSyntaxError);
    expect(error.code).toBe('E_CONFIG_TOML_SYNTAX');
    expect(error.line).toBe(3);
    expect(error.message).toContain('perf.toml');
    expect(error.message).toContain('line 3');
  });

  it('shows NaN and Infinity as such in the message, not as null', () => {
    const text = '[performance.cache]\nl1_ttl = nan\n[performance.db]\nslow_query_ms = inf\n';
    const error = catchError(() => parseConfig(text, { source: 'perf.toml' })) as Error;
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect(error.message).toContain('performance.cache.l1_ttl = NaN');
    expect(error.message).toContain('performance.db.slow_query_ms = Infinity');
  });

  it('refuses timer delays that setTimeout cannot honour (> 2^31 - 1 ms)', () => {
    const text =
      '[performance.parallel]\nidle_timeout_ms = 3000000000\n[performance.data_loader]\ntimeout_ms = 2147483648\n';
    const error = catchError(() =>
      parseConfig(text, { source: 'perf.toml' }),
    ) as ConfigValidationError;
    expect(error.issues.map((i) => [i.path, i.line])).toEqual([
      ['performance.parallel.idle_timeout_ms', 2],
      ['performance.data_loader.timeout_ms', 4],
    ]);
    const edge = '[performance.parallel]\nidle_timeout_ms = 2147483647\n';
    expect(parseConfig(edge).performance.parallel.idle_timeout_ms).toBe(2 ** 31 - 1);
  });

  it('reports every problem at once, not just the first', () => {
    const text =
      '[performance.cache]\nl1_size = -1\nl1_ttl = "soon"\n[performance.parallel]\nmax_workers = 0\n';
    const error = catchError(() => parseConfig(text)) as ConfigValidationError;
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      'performance.cache.l1_size',
      'performance.cache.l1_ttl',
      'performance.parallel.max_workers',
    ]);
  });
});
