import { cpus, freemem, loadavg, platform, arch, release, totalmem } from 'node:os';
import { cpuDescription, memcpyAlignmentProbe } from '@peaktrade/bench-harness';

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
  /**
   * How many times slower the slowest 256 KiB copy was than the fastest over eight relative
   * alignments (bench-harness `memcpyAlignmentProbe`). Around 1 on most machines; 10 or more where
   * glibc copies with `rep movsb` on AMD Zen 3/4, which makes large-copy figures depend on allocation
   * addresses. Absent in baselines saved before it was recorded.
   */
  readonly memcpyPenalty?: number;
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
    memcpyPenalty: Math.round(memcpyAlignmentProbe().penalty * 10) / 10,
    date: new Date().toISOString(),
  };
}

/** One line describing the machine, for tables and logs. */
export function machineLine(m: MachineInfo): string {
  const memcpy = m.memcpyPenalty === undefined ? '' : `, memcpy alignment ${m.memcpyPenalty}×`;
  return `${m.cpuModel}, ${m.logicalCores} logical cores, ${m.totalMemGiB} GiB, Node ${m.node}, ${m.platform}, load ${m.loadAvg1m}${memcpy}${m.ci ? ', CI' : ''}, ${m.date.slice(0, 10)}`;
}

/**
 * A sentence for reports when large copies are much slower at some alignments on this machine
 * (empty otherwise), with the glibc setting that avoids it.
 */
export function memcpyNote(m: MachineInfo): string {
  if (m.memcpyPenalty === undefined || m.memcpyPenalty < 3) return '';
  return (
    `Large copies (256 KiB) ran up to ${m.memcpyPenalty}× slower at some relative offsets on this machine ` +
    '(glibc before 2.39 copies with `rep movsb` on AMD Zen 3/4, slow when the destination is 1–31 bytes ' +
    'past the source modulo 4096). Figures that copy large buffers (serialize, data-loader) can vary ' +
    'between processes with where buffers were allocated. ' +
    '`GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=2147483647` removes this penalty; the runner does not set it.'
  );
}
