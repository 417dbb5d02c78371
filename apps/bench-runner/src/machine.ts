import { cpus, freemem, loadavg, platform, arch, release, totalmem } from 'node:os';
import { cpuDescription } from '@peaktrade/bench-harness';

/** The machine a run happened on, printed beside every figure. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly logicalCores: number;
  readonly totalMemGiB: number;
  readonly freeMemGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly kernel: string;
  /** 1-minute load average when the run started: a busy machine gives noisier figures. */
  readonly loadAvg1m: number;
  readonly ci: boolean;
  /** ISO timestamp of the start of the run. */
  readonly date: string;
}

/** Read the machine description at the start of a run. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    // With family/model/stepping on Linux: cloud VMs name different processors alike.
    cpuModel: cpuDescription(),
    logicalCores: list.length,
    totalMemGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    freeMemGiB: Math.round((freemem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${platform()}-${arch()}`,
    kernel: release(),
    loadAvg1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    ci: Boolean(process.env.CI),
    date: new Date().toISOString(),
  };
}

/** One line describing the machine, for tables and logs. */
export function machineLine(m: MachineInfo): string {
  return `${m.cpuModel}, ${m.logicalCores} logical cores, ${m.totalMemGiB} GiB, Node ${m.node}, ${m.platform}, load ${m.loadAvg1m}${m.ci ? ', CI' : ''}, ${m.date.slice(0, 10)}`;
}
