import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cpuTopology,
  parseCpuList,
  parseCpuMax,
  parseProcCgroup,
  type TopologyReader,
} from './topology.js';

const FIXTURES = new URL('../test/fixtures/topology/', import.meta.url);

/** A reader over one fixture folder: maps the real paths to the committed files. */
function fixtureReader(
  machine: string,
  platform: string,
  extra: Partial<TopologyReader> = {},
): TopologyReader {
  const dir = new URL(`${machine}/`, FIXTURES);
  const file = (name: string): string | undefined => {
    const url = new URL(name, dir);
    return existsSync(url) ? readFileSync(url, 'utf8') : undefined;
  };
  const cgroupV2Dir = (() => {
    const self = file('proc-self-cgroup');
    const v2 = self === undefined ? undefined : parseProcCgroup(self).v2;
    return v2 === undefined || v2 === '/' ? '/sys/fs/cgroup' : `/sys/fs/cgroup${v2}`;
  })();
  const files: Record<string, string> = {
    '/proc/cpuinfo': 'proc-cpuinfo',
    '/proc/self/cgroup': 'proc-self-cgroup',
    [`${cgroupV2Dir}/cpu.max`]: 'cpu.max',
    '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': 'cpu.cfs_quota_us',
    '/sys/fs/cgroup/cpu/cpu.cfs_period_us': 'cpu.cfs_period_us',
    '/sys/devices/cpu_core/cpus': 'sys-devices-cpu_core-cpus',
    '/sys/devices/cpu_atom/cpus': 'sys-devices-cpu_atom-cpus',
  };
  const sysctl = new Map<string, string>();
  for (const line of (file('sysctl.txt') ?? '').split('\n')) {
    const at = line.indexOf(': ');
    if (at > 0) sysctl.set(line.slice(0, at), line.slice(at + 2));
  }
  return {
    platform,
    arch: platform === 'darwin' ? 'arm64' : 'x64',
    readFile: (path) => (files[path] === undefined ? undefined : file(files[path])),
    sysctl: (name) => sysctl.get(name),
    logicalCpus: () => 2,
    availableParallelism: () => 64,
    model: () => undefined,
    ...extra,
  };
}

describe('cpuTopology from fixture files', () => {
  it('reads the captured 2-vCPU Xeon VM (cgroup v1, no quota)', () => {
    const t = cpuTopology(fixtureReader('linux-xeon-vm', 'linux'));
    expect(t).toEqual({
      logicalCores: 2,
      physicalCores: 2,
      performanceCores: 2,
      efficiencyCores: 0,
      effectiveParallelism: 2,
      model: 'Intel(R) Xeon(R) Processor',
      platform: 'linux',
      arch: 'x64',
    });
  });

  it('counts P- and E-cores on a hybrid i9-12900K from cpu_core / cpu_atom', () => {
    const t = cpuTopology(fixtureReader('linux-hybrid-i9-12900k', 'linux'));
    expect(t.logicalCores).toBe(24);
    expect(t.physicalCores).toBe(16);
    expect(t.performanceCores).toBe(8);
    expect(t.efficiencyCores).toBe(8);
    expect(t.cpuQuota).toBeUndefined();
    expect(t.effectiveParallelism).toBe(24);
    expect(t.model).toBe('12th Gen Intel(R) Core(TM) i9-12900K');
  });

  it('caps effective parallelism by a cgroup v2 cpu.max quota in the process cgroup', () => {
    const t = cpuTopology(fixtureReader('linux-cgroup-v2-quota', 'linux'));
    expect(t.cpuQuota).toBe(1.5);
    expect(t.effectiveParallelism).toBe(1);
    expect(t.logicalCores).toBe(2);
  });

  it('caps effective parallelism by the affinity mask', () => {
    const t = cpuTopology(
      fixtureReader('linux-hybrid-i9-12900k', 'linux', { availableParallelism: () => 6 }),
    );
    expect(t.effectiveParallelism).toBe(6);
  });

  it('reads Apple Silicon performance and efficiency cores from hw.perflevel0/1', () => {
    const t = cpuTopology(fixtureReader('macos-m1-pro', 'darwin'));
    expect(t).toMatchObject({
      logicalCores: 10,
      physicalCores: 10,
      performanceCores: 8,
      efficiencyCores: 2,
      effectiveParallelism: 10,
      model: 'Apple M1 Pro',
      platform: 'darwin',
      arch: 'arm64',
    });
  });

  it('treats an Intel Mac without perflevels as all performance cores', () => {
    const t = cpuTopology(fixtureReader('macos-intel', 'darwin'));
    expect(t).toMatchObject({
      logicalCores: 12,
      physicalCores: 6,
      performanceCores: 6,
      efficiencyCores: 0,
      effectiveParallelism: 12,
    });
  });

  it('describes the live machine consistently', () => {
    const t = cpuTopology();
    expect(t.logicalCores).toBeGreaterThanOrEqual(1);
    expect(t.physicalCores).toBeLessThanOrEqual(t.logicalCores);
    expect(t.effectiveParallelism).toBeGreaterThanOrEqual(1);
    expect(t.effectiveParallelism).toBeLessThanOrEqual(t.logicalCores);
    expect(t.platform).toBe(process.platform);
    expect(cpuTopology()).toBe(t);
  });
});

describe('topology parsers', () => {
  it('parses CPU lists with ranges and singles', () => {
    expect(parseCpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('')).toEqual([]);
  });
  it('parses cpu.max quota, unlimited and a missing period', () => {
    expect(parseCpuMax('max 100000\n')).toBeUndefined();
    expect(parseCpuMax('200000 100000')).toBe(2);
    expect(parseCpuMax('50000')).toBe(0.5);
  });
  it('parses /proc/self/cgroup v1 and v2 lines', () => {
    expect(parseProcCgroup('0::/a/b\n')).toEqual({ v2: '/a/b' });
    expect(parseProcCgroup('3:cpu,cpuacct:/docker/x\n0::/\n')).toEqual({
      cpuV1: '/docker/x',
      v2: '/',
    });
  });
});

/** A Linux reader over an in-memory file map (paths as the kernel shows them). */
function filesReader(files: Record<string, string>): TopologyReader {
  return {
    platform: 'linux',
    arch: 'x64',
    readFile: (path) => files[path],
    sysctl: () => undefined,
    logicalCpus: () => 8,
    availableParallelism: () => 8,
    model: () => 'test',
  };
}

describe('cgroup CPU quotas up the hierarchy', () => {
  it('a parent cgroup v2 quota applies when the process cgroup itself says max', () => {
    const t = cpuTopology(
      filesReader({
        '/proc/self/cgroup': '0::/kubepods.slice/pod7/ctr\n',
        '/sys/fs/cgroup/kubepods.slice/pod7/ctr/cpu.max': 'max 100000\n',
        '/sys/fs/cgroup/kubepods.slice/pod7/cpu.max': '250000 100000\n',
        '/sys/fs/cgroup/kubepods.slice/cpu.max': 'max 100000\n',
      }),
    );
    expect(t.cpuQuota).toBe(2.5);
    expect(t.effectiveParallelism).toBe(2);
  });

  it('the smallest quota wins when several levels set one, and a quota below one CPU still allows 1 thread', () => {
    const t = cpuTopology(
      filesReader({
        '/proc/self/cgroup': '0::/app.slice/job.service\n',
        '/sys/fs/cgroup/app.slice/job.service/cpu.max': '300000 100000\n',
        '/sys/fs/cgroup/app.slice/cpu.max': '50000 100000\n',
      }),
    );
    expect(t.cpuQuota).toBe(0.5);
    expect(t.effectiveParallelism).toBe(1);
  });

  it('a parent cgroup v1 cfs quota applies when the process cgroup has -1', () => {
    const t = cpuTopology(
      filesReader({
        '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n',
        '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '-1\n',
        '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
        '/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us': '300000\n',
        '/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_period_us': '100000\n',
      }),
    );
    expect(t.cpuQuota).toBe(3);
    expect(t.effectiveParallelism).toBe(3);
  });

  it('no cgroup files at all, or only unlimited ones, means no quota', () => {
    expect(cpuTopology(filesReader({})).cpuQuota).toBeUndefined();
    const t = cpuTopology(
      filesReader({
        '/proc/self/cgroup': '0::/user.slice\n',
        '/sys/fs/cgroup/user.slice/cpu.max': 'max 100000\n',
      }),
    );
    expect(t.cpuQuota).toBeUndefined();
    expect(t.effectiveParallelism).toBe(8);
  });
});
