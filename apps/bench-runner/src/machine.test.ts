import { describe, expect, it } from 'vitest';
import { machineInfo, machineLine, memcpyNote, type MachineInfo } from './machine.js';

const base: MachineInfo = {
  cpuModel: 'AMD EPYC (family 25, model 1, stepping 1)',
  logicalCores: 2,
  totalMemGiB: 23.5,
  freeMemGiB: 20,
  node: 'v20.20.2',
  platform: 'linux-x64',
  kernel: '6.1',
  loadAvg1m: 0.5,
  ci: false,
  date: '2026-11-27T00:00:00.000Z',
};

describe('machine description', () => {
  it('measures the memcpy alignment penalty when it reads the machine', () => {
    const m = machineInfo();
    expect(m.memcpyPenalty).toBeGreaterThanOrEqual(1);
    expect(machineLine(m)).toContain(`memcpy alignment ${m.memcpyPenalty}×`);
  });

  it('leaves the probe out of lines for baselines saved without it', () => {
    expect(machineLine(base)).not.toContain('memcpy');
    expect(memcpyNote(base)).toBe('');
  });

  it('adds the glibc note only from a 3× penalty up', () => {
    expect(memcpyNote({ ...base, memcpyPenalty: 2.9 })).toBe('');
    const note = memcpyNote({ ...base, memcpyPenalty: 10.4 });
    expect(note).toContain('10.4× slower');
    expect(note).toContain('GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=');
  });
});
