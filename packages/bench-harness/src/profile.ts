import { Session } from 'node:inspector/promises';
import { writeFileAtomic } from './atomic.js';
import { nowNs } from './clock.js';
import { BenchFunctionError, BenchOptionError, ProfileError } from './errors.js';

/** A node of a V8 CPU profile (the `.cpuprofile` format Chrome DevTools opens). */
export interface CpuProfileNode {
  id: number;
  callFrame: {
    functionName: string;
    scriptId: string;
    url: string;
    lineNumber: number;
    columnNumber: number;
  };
  hitCount?: number;
  children?: number[];
}

/** A V8 CPU profile. Times in µs. */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One function's share of the profile. */
export interface HotFunction {
  /** Function name, `(anonymous)` when it has none. */
  readonly functionName: string;
  readonly url: string;
  /** 1-based line of the function. */
  readonly line: number;
  /** Time spent in the function itself (not its callees), ms. */
  readonly selfMs: number;
  /** `selfMs` as a share of all sampled time, 0..1. */
  readonly selfShare: number;
  /** Samples that landed in the function. */
  readonly samples: number;
}

/** Options of {@link profileCpu}. */
export interface ProfileCpuOptions {
  /** How long to keep calling `fn`, ms. Default 1000. */
  readonly durationMs?: number;
  /** Functions to return, by self time. Default 10. */
  readonly topN?: number;
  /** Where to write the `.cpuprofile` (folders are created; written atomically). Default: not written. */
  readonly outFile?: string;
  /** Sampling interval, µs. Default 100. */
  readonly samplingIntervalUs?: number;
  /** Arguments passed to every call. */
  readonly args?: readonly unknown[];
}

/** What {@link profileCpu} recorded. */
export interface CpuProfileResult {
  readonly profile: CpuProfile;
  /** The `.cpuprofile` path when `outFile` was given. */
  readonly file?: string;
  /** Top functions by self time, highest first. `(idle)`, `(program)` and `(garbage collector)` included. */
  readonly top: readonly HotFunction[];
  /** Calls of `fn` made while profiling. */
  readonly calls: number;
}

/** Top `n` functions by self time of a profile (aggregated by name, url and line). */
export function topFunctions(profile: CpuProfile, n = 10): HotFunction[] {
  const byId = new Map<number, CpuProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfUs = new Map<number, number>();
  const hits = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the gap before sample i; attribute the gap after it (the next delta).
    const dt = Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0);
    const id = samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    hits.set(id, (hits.get(id) ?? 0) + 1);
    total += dt;
  }
  const agg = new Map<string, { f: CpuProfileNode['callFrame']; us: number; hits: number }>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    const key = `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}`;
    const e = agg.get(key) ?? { f, us: 0, hits: 0 };
    e.us += us;
    e.hits += hits.get(id) ?? 0;
    agg.set(key, e);
  }
  return [...agg.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, n)
    .map((e) => ({
      functionName: e.f.functionName || '(anonymous)',
      url: e.f.url,
      line: e.f.lineNumber + 1,
      selfMs: e.us / 1000,
      selfShare: total > 0 ? e.us / total : 0,
      samples: e.hits,
    }));
}

/**
 * Profiles `fn` with V8's sampling CPU profiler through `node:inspector`: calls it (awaiting
 * promises) repeatedly for `durationMs`, optionally writes a `.cpuprofile` (open it in Chrome
 * DevTools → Performance, or VS Code) and returns the top functions by self time.
 *
 * @throws {BenchOptionError} for invalid options; {@link BenchFunctionError} when `fn` throws;
 *   {@link ProfileError} when the inspector fails.
 */
export async function profileCpu(
  fn: (...args: never[]) => unknown,
  options: ProfileCpuOptions = {},
): Promise<CpuProfileResult> {
  if (typeof fn !== 'function') throw new BenchOptionError('fn', fn, 'a function');
  const durationMs = options.durationMs ?? 1000;
  if (!(durationMs > 0 && Number.isFinite(durationMs)))
    throw new BenchOptionError('durationMs', options.durationMs, 'a number of ms > 0');
  const topN = options.topN ?? 10;
  if (!Number.isSafeInteger(topN) || topN < 1)
    throw new BenchOptionError('topN', options.topN, 'an integer ≥ 1');
  const interval = options.samplingIntervalUs ?? 100;
  if (!Number.isSafeInteger(interval) || interval < 1) {
    throw new BenchOptionError(
      'samplingIntervalUs',
      options.samplingIntervalUs,
      'an integer number of µs ≥ 1',
    );
  }
  const args = options.args ?? [];
  const call = fn as (...a: unknown[]) => unknown;
  const session = new Session();
  let profile: CpuProfile;
  let calls = 0;
  try {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval });
    await session.post('Profiler.start');
  } catch (error) {
    session.disconnect();
    throw new ProfileError(
      'could not start the profiler (is another inspector session profiling?)',
      { cause: error },
    );
  }
  try {
    const end = nowNs() + durationMs * 1e6;
    try {
      while (nowNs() < end) {
        const r = call(...args);
        if (r instanceof Promise) await r;
        calls++;
      }
    } catch (error) {
      throw new BenchFunctionError('profileCpu', { cause: error });
    }
  } finally {
    try {
      const stopped = await session.post('Profiler.stop');
      profile = stopped.profile as unknown as CpuProfile;
      await session.post('Profiler.disable');
    } finally {
      session.disconnect();
    }
  }
  let file: string | undefined;
  if (options.outFile !== undefined) {
    file = options.outFile;
    writeFileAtomic(file, JSON.stringify(profile));
  }
  const result: CpuProfileResult = { profile, top: topFunctions(profile, topN), calls };
  return file === undefined ? result : { ...result, file };
}
