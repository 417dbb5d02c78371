import type { MachineInfo } from '../machine.js';

/** A fixed machine description for report and baseline tests (fields overridable). */
export function testMachine(overrides: Partial<MachineInfo> = {}): MachineInfo {
  return {
    cpuModel: 'Test CPU',
    logicalCores: 2,
    totalMemGiB: 8,
    freeMemGiB: 4,
    node: 'v20.20.2',
    platform: 'linux-x64',
    kernel: '6.1',
    loadAvg1m: 0.1,
    ci: false,
    date: '2026-11-27T00:00:00.000Z',
    ...overrides,
  };
}
