import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What {@link cpuTopology} found about the CPUs this process may use. */
export interface CpuTopology {
  /** Logical CPUs (hardware threads) the OS reports. */
  readonly logicalCores: number;
  /** Physical cores (logical CPUs sharing a core counted once); equals `logicalCores` when unknown. */
  readonly physicalCores: number;
  /** Physical performance cores (Apple `hw.perflevel0`, Intel hybrid `cpu_core`); all cores on non-hybrid CPUs. */
  readonly performanceCores: number;
  /** Physical efficiency cores (Apple `hw.perflevel1`, Intel hybrid `cpu_atom`); 0 on non-hybrid CPUs. */
  readonly efficiencyCores: number;
  /**
   * Threads worth running CPU-bound work on: the CPUs in this process's affinity mask, capped by the cgroup
   * CPU quota (rounded down, at least 1).
   */
  readonly effectiveParallelism: number;
  /**
   * cgroup CPU quota in CPUs (`cpu.max` quota / period, or cgroup v1 cfs): the smallest limit of the process's
   * cgroup and its ancestors, absent when all are unlimited. May be below 1 (e.g. 0.5).
   */
  readonly cpuQuota?: number;
  /** CPU model string (first CPU), `'unknown'` when the OS does not say. */
  readonly model: string;
  /** `process.platform` value, e.g. `linux`, `darwin`. */
  readonly platform: string;
  /** `process.arch` value, e.g. `x64`, `arm64`. */
  readonly arch: string;
}

/**
 * Where {@link cpuTopology} reads from. Tests pass fixture files of real outputs; the default reads the live
 * system. Every member is optional; a missing one falls back to the live system.
 */
export interface TopologyReader {
  /** `process.platform`. */
  readonly platform?: string;
  /** `process.arch`. */
  readonly arch?: string;
  /** Text of a file such as `/proc/cpuinfo` or `/sys/fs/cgroup/cpu.max`, or `undefined` if it cannot be read. */
  readFile?(path: string): string | undefined;
  /** Value of a macOS `sysctl -n <name>`, or `undefined` if the key does not exist. */
  sysctl?(name: string): string | undefined;
  /** Number of logical CPUs (`os.cpus().length`). */
  logicalCpus?(): number;
  /** CPUs in the process's affinity mask (`os.availableParallelism()`). */
  availableParallelism?(): number;
  /** CPU model string (`os.cpus()[0].model`). */
  model?(): string | undefined;
}

function liveReadFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function liveSysctl(name: string): string | undefined {
  if (process.platform !== 'darwin') return undefined;
  try {
    return execFileSync('sysctl', ['-n', name], {
      encoding: 'utf8',
      timeout: 2000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The reader over the live system (files, `sysctl`, `node:os`). */
export const liveTopologyReader: Required<TopologyReader> = {
  platform: process.platform,
  arch: process.arch,
  readFile: liveReadFile,
  sysctl: liveSysctl,
  logicalCpus: () => os.cpus().length,
  availableParallelism: () => os.availableParallelism(),
  model: () => os.cpus()[0]?.model,
};

/** Parses a Linux CPU list such as `0-7,16-23` into the CPU numbers. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) continue;
    for (let c = lo; c <= hi; c++) cpus.push(c);
  }
  return cpus;
}

/** Parses cgroup v2 `cpu.max` (`"max 100000"` or `"150000 100000"`) into CPUs, or `undefined` when unlimited. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return undefined;
  const q = Number(quota);
  const p = Number(period ?? '100000');
  if (!(q > 0) || !(p > 0)) return undefined;
  return q / p;
}

/** Per-processor `physical id` / `core id` pairs from `/proc/cpuinfo`, keyed by processor number. */
export function parseCpuinfo(text: string): {
  cores: Map<number, string>;
  model: string | undefined;
} {
  const cores = new Map<number, string>();
  let model: string | undefined;
  for (const block of text.split(/\n\s*\n/)) {
    let proc: number | undefined;
    let phys = '0';
    let core: string | undefined;
    for (const line of block.split('\n')) {
      const idx = line.indexOf(':');
      if (idx < 0) continue;
      const key = line.slice(0, idx).trim();
      const value = line.slice(idx + 1).trim();
      if (key === 'processor') proc = Number(value);
      else if (key === 'physical id') phys = value;
      else if (key === 'core id') core = value;
      else if (
        (key === 'model name' || key === 'Model' || key === 'cpu model') &&
        model === undefined
      )
        model = value;
    }
    if (proc !== undefined && Number.isInteger(proc))
      cores.set(proc, core === undefined ? `p${proc}` : `${phys}:${core}`);
  }
  return { cores, model };
}

function sysctlInt(reader: TopologyReader, name: string): number | undefined {
  const v = reader.sysctl?.(name);
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Parses `/proc/self/cgroup` into the v2 path and the v1 `cpu` controller path (either may be absent). */
export function parseProcCgroup(text: string): { v2?: string; cpuV1?: string } {
  const result: { v2?: string; cpuV1?: string } = {};
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1).trim();
    if (controllers === '') result.v2 = path;
    else if (controllers.split(',').includes('cpu')) result.cpuV1 = path;
  }
  return result;
}

/**
 * The directories from the process's cgroup up to the mount root: `base + path`, then each parent, then `base`.
 * The kernel enforces every ancestor's limit, so a quota set on a parent (a systemd slice, a pod) applies even
 * when the process's own cgroup says `max`.
 */
function cgroupDirs(base: string, path: string | undefined): string[] {
  const dirs: string[] = [];
  const parts = (path ?? '').split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  for (let k = parts.length; k > 0; k--) dirs.push(`${base}/${parts.slice(0, k).join('/')}`);
  dirs.push(base);
  return dirs;
}

/** The smaller of two quotas in CPUs, `undefined` meaning unlimited. */
function minQuota(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function cgroupQuota(read: (path: string) => string | undefined): number | undefined {
  const self = read('/proc/self/cgroup');
  const paths = self === undefined ? {} : parseProcCgroup(self);
  // cgroup v2: the smallest cpu.max from the process's own cgroup up to the mount root (inside a container the
  // root is the container's cgroup; a path from the host's namespace that does not exist there is skipped)
  let v2Found = false;
  let quota: number | undefined;
  for (const dir of cgroupDirs('/sys/fs/cgroup', paths.v2)) {
    const text = read(`${dir}/cpu.max`);
    if (text === undefined) continue;
    v2Found = true;
    quota = minQuota(quota, parseCpuMax(text));
  }
  if (v2Found) return quota;
  // cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us (-1 = unlimited), likewise the smallest up the hierarchy
  for (const base of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
    let v1Found = false;
    for (const dir of cgroupDirs(base, paths.cpuV1)) {
      const q = read(`${dir}/cpu.cfs_quota_us`);
      const p = read(`${dir}/cpu.cfs_period_us`);
      if (q === undefined || p === undefined) continue;
      v1Found = true;
      const qv = Number(q.trim());
      const pv = Number(p.trim());
      quota = minQuota(quota, qv > 0 && pv > 0 ? qv / pv : undefined);
    }
    if (v1Found) return quota;
  }
  return undefined;
}

let cached: CpuTopology | undefined;

/**
 * Describes the CPUs: logical and physical cores, performance and efficiency cores (Apple Silicon via
 * `sysctl hw.perflevel0/1`, hybrid Intel via `/sys/devices/cpu_core/cpus` and `cpu_atom/cpus`), the cgroup
 * CPU quota (`cpu.max`, or cgroup v1 `cfs_quota_us`) and the resulting effective parallelism.
 * The live result is computed once and cached; a `reader` (for tests or other hosts) is never cached.
 */
export function cpuTopology(reader?: TopologyReader): CpuTopology {
  if (reader === undefined && cached !== undefined) return cached;
  const r = reader ?? liveTopologyReader;
  const live = liveTopologyReader;
  const platform = r.platform ?? live.platform;
  const arch = r.arch ?? live.arch;
  const read = (path: string): string | undefined => (r.readFile ?? live.readFile)(path);
  let logical = Math.max(1, (r.logicalCpus ?? live.logicalCpus)());
  let physical = logical;
  let perf: number;
  let eff = 0;
  let model = (r.model ?? live.model)();
  let quota: number | undefined;

  if (platform === 'darwin') {
    logical = sysctlInt(r, 'hw.logicalcpu') ?? logical;
    physical = sysctlInt(r, 'hw.physicalcpu') ?? physical;
    const levels = sysctlInt(r, 'hw.nperflevels') ?? 0;
    const p0 = sysctlInt(r, 'hw.perflevel0.physicalcpu');
    const p1 = sysctlInt(r, 'hw.perflevel1.physicalcpu');
    if (levels >= 2 && p0 !== undefined && p1 !== undefined) {
      perf = p0;
      eff = p1;
    } else {
      perf = physical;
    }
    model = r.sysctl?.('machdep.cpu.brand_string')?.trim() || model;
  } else if (platform === 'linux') {
    const info = read('/proc/cpuinfo');
    const parsed = info === undefined ? undefined : parseCpuinfo(info);
    if (parsed !== undefined && parsed.cores.size > 0) {
      logical = parsed.cores.size;
      physical = new Set(parsed.cores.values()).size;
      model = parsed.model ?? model;
    }
    const coreList = read('/sys/devices/cpu_core/cpus');
    const atomList = read('/sys/devices/cpu_atom/cpus');
    if (coreList !== undefined && atomList !== undefined) {
      const countPhysical = (cpus: number[]): number => {
        if (parsed === undefined) return cpus.length;
        const keys = new Set<string>();
        for (const c of cpus) keys.add(parsed.cores.get(c) ?? `p${c}`);
        return keys.size;
      };
      perf = countPhysical(parseCpuList(coreList));
      eff = countPhysical(parseCpuList(atomList));
    } else perf = physical;
    quota = cgroupQuota(read);
  } else {
    perf = physical;
  }

  const affinity = Math.max(
    1,
    Math.min(logical, (r.availableParallelism ?? live.availableParallelism)()),
  );
  const effective =
    quota === undefined ? affinity : Math.max(1, Math.min(affinity, Math.floor(quota)));
  const topo: CpuTopology = {
    logicalCores: logical,
    physicalCores: physical,
    performanceCores: perf,
    efficiencyCores: eff,
    effectiveParallelism: effective,
    ...(quota === undefined ? {} : { cpuQuota: quota }),
    model: model ?? 'unknown',
    platform,
    arch,
  };
  if (reader === undefined) cached = topo;
  return topo;
}
