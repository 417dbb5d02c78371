import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AccelRangeError } from './errors.js';
import { accelSettings, configureAccel } from './settings.js';
import { cpuTopology } from './topology.js';

const envBefore = process.env.UV_THREADPOOL_SIZE;

afterEach(() => {
  configureAccel({});
  if (envBefore === undefined) delete process.env.UV_THREADPOOL_SIZE;
  else process.env.UV_THREADPOOL_SIZE = envBefore;
});

describe('accelSettings / configureAccel', () => {
  it('defaults to the effective parallelism of the topology and the auto backend', () => {
    expect(accelSettings()).toEqual({
      threads: cpuTopology().effectiveParallelism,
      backend: 'auto',
    });
  });

  it('sets the default pool size that @peaktrade/parallel reads, and restores defaults with {}', () => {
    const r = configureAccel({ threads: 1 });
    expect(r.threads).toBe(1);
    expect(accelSettings().threads).toBe(1);
    configureAccel({});
    expect(accelSettings().threads).toBe(cpuTopology().effectiveParallelism);
  });

  it('sets UV_THREADPOOL_SIZE and warns that a running libuv pool keeps its size', () => {
    const r = configureAccel({ threads: 3 });
    expect(process.env.UV_THREADPOOL_SIZE).toBe('3');
    expect(r.uvThreadpoolSize).toBe(Number(envBefore) || 4);
    expect(r.warnings.some((w) => w.includes('UV_THREADPOOL_SIZE=3'))).toBe(true);
  });

  it('warns when threads exceed the logical CPUs', () => {
    const r = configureAccel({ threads: cpuTopology().logicalCores + 1 });
    expect(r.warnings.some((w) => w.includes('logical CPUs'))).toBe(true);
  });

  it('selects the backend and reports it', () => {
    expect(configureAccel({ backend: 'js' }).backend).toBe('js');
    expect(accelSettings().backend).toBe('js');
    const w = configureAccel({ backend: 'wasm' });
    expect(w.backend).toBe('wasm');
    expect(w.warnings).toEqual([]);
  });

  it('rejects bad options with a RangeError naming the option', () => {
    for (const [opts, param] of [
      [{ threads: 0 }, 'options.threads'],
      [{ threads: 2.5 }, 'options.threads'],
      [{ threads: 5000 }, 'options.threads'],
      [{ backend: 'gpu' }, 'options.backend'],
    ] as const) {
      expect(() => configureAccel(opts as never)).toThrow(AccelRangeError);
      try {
        configureAccel(opts as never);
      } catch (e) {
        expect((e as AccelRangeError).parameter).toBe(param);
        expect(e).toBeInstanceOf(RangeError);
      }
    }
  });
});

/**
 * Threads libuv really starts for a UV_THREADPOOL_SIZE value: a child Node process counts its threads
 * (/proc/self/task) before and after its first threadpool job.
 */
function liveLibuvPoolSize(value: string): number {
  const script =
    "const fs = require('fs'); const before = fs.readdirSync('/proc/self/task').length;" +
    "require('crypto').pbkdf2('a', 'b', 1, 8, 'sha1', () => {" +
    "  console.log(fs.readdirSync('/proc/self/task').length - before); });";
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, UV_THREADPOOL_SIZE: value },
    encoding: 'utf8',
  });
  expect(r.status).toBe(0);
  return Number(r.stdout.trim());
}

describe('uvThreadpoolSize', () => {
  it.skipIf(process.platform !== 'linux')(
    'reports the pool size libuv really starts for unusual UV_THREADPOOL_SIZE values',
    async () => {
      for (const value of ['0', '', 'abc', '7x', '2.9', ' 5']) {
        const live = liveLibuvPoolSize(value);
        process.env.UV_THREADPOOL_SIZE = value;
        // the size is read when the module loads, as libuv reads it when its pool starts
        vi.resetModules();
        const fresh = await import('./settings.js');
        const r = fresh.configureAccel({ threads: live });
        expect([value, r.uvThreadpoolSize]).toEqual([value, live]);
        // asking for the size the pool already has is no reason for the "keeps its pool" warning
        expect(r.warnings.filter((w) => w.includes('libuv'))).toEqual([]);
        fresh.configureAccel({});
      }
    },
  );
});
