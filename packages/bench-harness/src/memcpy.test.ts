import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BenchOptionError } from './errors.js';
import { memcpyAlignmentProbe } from './memcpy.js';

describe('memcpyAlignmentProbe()', () => {
  it('reports the fastest and slowest copy rate over eight relative offsets', () => {
    const p = memcpyAlignmentProbe(64 * 1024, 3);
    expect(p.bytes).toBe(64 * 1024);
    expect(p.fastestGBps).toBeGreaterThanOrEqual(p.slowestGBps);
    expect(p.slowestGBps).toBeGreaterThan(0);
    expect(p.penalty).toBeCloseTo(p.fastestGBps / p.slowestGBps, 9);
    expect(p.penalty).toBeGreaterThanOrEqual(1);
    expect([0, 8, 16, 24, 32, 40, 48, 56]).toContain(p.slowestOffset);
  });

  it('rejects sizes and repetition counts it cannot use, naming the option', () => {
    for (const bad of [0, 63, 1.5, Number.NaN, 2 ** 31])
      expect(() => memcpyAlignmentProbe(bad), String(bad)).toThrow(BenchOptionError);
    expect(() => memcpyAlignmentProbe(4096, 0)).toThrow(/reps/);
    expect(() => memcpyAlignmentProbe(10, 3)).toThrow(/bytes/);
  });

  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'finds no large penalty once glibc is told not to copy with rep movsb',
    () => {
      // With the tunable every offset takes glibc's vector loop; where glibc ignores it (or it is not
      // glibc) there was no rep movsb penalty to begin with. Either way the copies are alike.
      const dist = new URL('../dist/index.js', import.meta.url).href;
      const r = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { memcpyAlignmentProbe } from ${JSON.stringify(dist)};
           const p = [1, 2, 3].map(() => memcpyAlignmentProbe().penalty);
           console.log(Math.min(...p));`,
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, GLIBC_TUNABLES: 'glibc.cpu.x86_rep_movsb_threshold=2147483647' },
        },
      );
      expect(r.stderr).toBe('');
      expect(Number(r.stdout.trim())).toBeLessThan(3);
    },
  );
});
