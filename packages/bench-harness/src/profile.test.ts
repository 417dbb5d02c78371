import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchFunctionError } from './errors.js';
import { profileCpu, topFunctions, type CpuProfile } from './profile.js';

const tmp = mkdtempSync(join(tmpdir(), 'pt-bench-profile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function deliberatelyHotLoop(): number {
  let s = 0;
  for (let i = 0; i < 200_000; i++) s = (Math.imul(s, 31) + i) | 0;
  return s;
}

describe('profileCpu()', () => {
  it('writes a valid .cpuprofile whose top self-time function is the hot loop', async () => {
    const outFile = join(tmp, 'deep', 'hot.cpuprofile');
    const r = await profileCpu(() => deliberatelyHotLoop(), { durationMs: 300, outFile, topN: 5 });
    expect(r.file).toBe(outFile);
    expect(r.calls).toBeGreaterThan(0);
    const parsed = JSON.parse(readFileSync(outFile, 'utf8')) as CpuProfile;
    // The shape Chrome DevTools loads: nodes with call frames, samples and matching time deltas.
    expect(Array.isArray(parsed.nodes)).toBe(true);
    expect(parsed.nodes.length).toBeGreaterThan(1);
    const ids = new Set(parsed.nodes.map((n) => n.id));
    for (const n of parsed.nodes) {
      expect(typeof n.callFrame.functionName).toBe('string');
      for (const c of n.children ?? []) expect(ids.has(c)).toBe(true);
    }
    expect(parsed.samples!.length).toBeGreaterThan(50);
    expect(parsed.timeDeltas).toHaveLength(parsed.samples!.length);
    for (const s of parsed.samples!) expect(ids.has(s)).toBe(true);
    expect(parsed.endTime).toBeGreaterThan(parsed.startTime);

    // at most topN entries, by self time; a profile of one hot loop on a fast machine can have fewer
    // than five functions with any self time
    expect(r.top.length).toBeGreaterThanOrEqual(1);
    expect(r.top.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < r.top.length; i++)
      expect(r.top[i]!.selfShare).toBeLessThanOrEqual(r.top[i - 1]!.selfShare);
    expect(r.top[0]!.functionName).toBe('deliberatelyHotLoop');
    expect(r.top[0]!.selfShare).toBeGreaterThan(0.5);
    expect(r.top[0]!.url).toContain('profile.test.ts');
    expect(topFunctions(parsed, 1)[0]!.functionName).toBe('deliberatelyHotLoop');
  });

  it('reports a throwing function as BenchFunctionError and leaves the profiler usable', async () => {
    await expect(
      profileCpu(
        () => {
          throw new Error('x');
        },
        { durationMs: 20 },
      ),
    ).rejects.toBeInstanceOf(BenchFunctionError);
    const again = await profileCpu(() => deliberatelyHotLoop(), { durationMs: 50 });
    expect(again.calls).toBeGreaterThan(0);
  });

  it('rejects bad options', async () => {
    await expect(profileCpu(() => 1, { durationMs: 0 })).rejects.toThrow(/durationMs = 0/);
    await expect(profileCpu(() => 1, { topN: 0 })).rejects.toThrow(/topN = 0/);
  });
});
