// Runtime side of the WebAssembly SIMD backend: instantiation, staging of inputs into wasm memory, and the
// per-kernel choice between WASM and JS.
import { AccelRangeError, WasmMemoryError, WasmUnavailableError } from '../errors.js';
import { currentBackend } from '../settings.js';
import { KERNELS_WASM_BASE64 } from './kernels.generated.js';

// The ES2023 lib this repo compiles against has no WebAssembly typings; these are the few members used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}

/** Exports of src/wasm/kernels.wat, plus the shared memory it imports. */
export interface WasmKernels {
  readonly memory: WasmMemory;
  sum(p: number, n: number): number;
  rolling_moments(
    x: number,
    out: number,
    l0: number,
    h: number,
    start: number,
    w: number,
    mode: number,
    invW: number,
    invDen: number,
    block: number,
    tiny: number,
  ): number;
  ema_lanes(x: number, out: number, s0: number, q: number, start: number, b: number): number;
  sma_cross(
    x: number,
    out: number,
    pos: number,
    from: number,
    to: number,
    fast: number,
    slow: number,
    short: number,
    cost: number,
    initial: number,
    block: number,
    st: number,
  ): number;
}

/** Kernels that have a WASM version. */
export type WasmKernel = 'sum' | 'rollingMean' | 'rollingVar' | 'ema' | 'smaCrossover';

/**
 * Where `auto` uses WASM for ordinary arrays (their values copied into wasm memory and the results copied back):
 * only kernels whose benchmark (bench/numeric-accel.bench.ts, `numeric-accel.wasm.<kernel>.speedup`) showed WASM
 * at least 1.3× faster than the best JS kernel. The rolling kernels stream the arrays through a small scratch
 * area a chunk at a time (rolling-core.ts, `streamedRolling`); the others copy whole arrays, which costs about
 * as much as their SIMD loop saves (in eight full runs on a 2-vCPU Intel Xeon VM, family 6 model 167, 2026-11-27:
 * ema 0.41–0.47×, smaCrossover 0.97–1.08×).
 */
export const WASM_AUTO: Readonly<Record<WasmKernel, boolean>> = {
  sum: false,
  // streamed: 0.74–0.81× of JS (1M points, Intel Xeon family 6 model 167 VM, 2026-11-27): JS's mean is as fast
  rollingMean: false,
  // streamed: rollingStd 1.43–1.56× over JS in the same runs (whole copies gave 1.1–2.0× before); rollingVar and
  // rollingStd share the switch
  rollingVar: true,
  ema: false,
  smaCrossover: false,
};

/**
 * Where `auto` uses WASM when the input (and `out`, for array results) already live in wasm memory (made by
 * {@link wasmArray}), so nothing is copied: kernels whose benchmark (`numeric-accel.wasm.<kernel>.resident`)
 * showed ≥ 1.3× over the JS kernel. See the README's Performance section.
 */
export const WASM_AUTO_RESIDENT: Readonly<Record<WasmKernel, boolean>> = {
  // 3.9–4.0× in three full runs (2026-11-26, AMD EPYC 2 vCPU, shared), sum and mean
  sum: true,
  // 1.41–1.46× (CI lows 1.37–1.39) since the neighbouring-pair kernel; 1.31× before it
  rollingMean: true,
  // rollingVar 2.6–2.8×, rollingStd 2.1–3.5×
  rollingVar: true,
  // JS: 1.11–1.46× (median 1.23×) in the 2026-11-26 runs, 1.35× once on Intel, and 1.04, 1.39, 1.04 and 1.08×
  // in four full runs on an AMD EPYC family 26 VM (2026-11-27): not the ≥ 1.3× the choice asks for
  ema: false,
  // fused crossover: 1.32× (CI 1.30–1.39) and 1.63× in full runs, paired per-round median 1.45–1.47× in a
  // dedicated run (0.70× in one run under a load average above 3)
  smaCrossover: true,
};
let kernels: WasmKernels | null | undefined;
let failure = '';

/** The instantiated kernels, or undefined when this runtime cannot compile WebAssembly SIMD. */
export function wasmKernels(): WasmKernels | undefined {
  if (kernels === undefined) {
    try {
      const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
      if (api === undefined) throw new Error('no WebAssembly in this runtime');
      const bytes = Buffer.from(KERNELS_WASM_BASE64, 'base64');
      // shared: growing a shared memory never detaches the views wasmArray() handed out
      const memory = new api.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
      const instance = new api.Instance(new api.Module(bytes), { env: { memory } });
      kernels = { ...(instance.exports as Omit<WasmKernels, 'memory'>), memory };
    } catch (e) {
      kernels = null;
      failure = e instanceof Error ? e.message : String(e);
    }
  }
  return kernels ?? undefined;
}

/** Why the WASM backend is unavailable ('' when it is available). */
export function wasmFailure(): string {
  wasmKernels();
  return failure;
}

/**
 * Whether `kernel` should run on WASM for input `x` (and `out`) under the current settings. False also when
 * staging the arrays ({@link stage}) would need more than {@link WASM_MEMORY_MAX_BYTES} of wasm memory: the
 * kernel then runs on JS, as wherever WASM cannot run.
 */
export function useWasm(kernel: WasmKernel, x: Float64Array, out?: Float64Array): boolean {
  if (!wantWasm(kernel, x, out)) return false;
  const end = stagingEnd(
    top,
    x.length,
    isResident(x),
    out !== undefined,
    out !== undefined && isResident(out),
  );
  return end <= memoryLimit && wasmKernels() !== undefined;
}

/**
 * Whether the current backend setting asks for WASM for `kernel` on `x` (and `out`), before any check that the
 * arrays fit in wasm memory: `js` never, `wasm` always, `auto` by {@link WASM_AUTO_RESIDENT} when every array
 * is resident, else by {@link WASM_AUTO} for inputs of at least {@link AUTO_MIN_LENGTH} values.
 */
export function wantWasm(kernel: WasmKernel, x: Float64Array, out?: Float64Array): boolean {
  const backend = currentBackend();
  if (backend === 'js') return false;
  if (backend === 'auto') {
    const resident = isResident(x) && (out === undefined || isResident(out));
    if (resident ? !WASM_AUTO_RESIDENT[kernel] : !WASM_AUTO[kernel] || x.length < AUTO_MIN_LENGTH)
      return false;
  }
  return true;
}

/**
 * @internal Byte offset of a scratch area of `values` Float64 values (plus the 64-byte tail a kernel may read
 * past it) just above the {@link wasmArray} arena, for kernels that stream ordinary arrays through wasm memory a
 * block at a time instead of staging whole copies. Valid until the next kernel call on this thread; undefined
 * when WebAssembly is unavailable or the area would pass the memory limit (the caller then runs on JS).
 */
export function scratchArea(values: number): { k: WasmKernels; at: number } | undefined {
  const k = wasmKernels();
  if (k === undefined) return undefined;
  const at = align(top);
  const end = at + values * 8 + 64;
  if (end > memoryLimit) return undefined;
  ensure(k, end);
  calls++;
  return { k, at };
}

/** Below this length `auto` never pays the copy into wasm memory. */
const AUTO_MIN_LENGTH = 4096;
const MAX_PAGES = 32768; // 2 GiB
/**
 * The most bytes of wasm memory the backend uses: the shared memory's maximum, 32768 pages of 64 KiB = 2 GiB
 * (2^31 bytes, so every byte offset fits the kernels' signed 32-bit arithmetic). {@link wasmArray}'s arena and
 * the staging copies of ordinary arrays share it.
 */
export const WASM_MEMORY_MAX_BYTES = MAX_PAGES * 65536;
let memoryLimit = WASM_MEMORY_MAX_BYTES;
const BASE = 64;
// plain arithmetic, not `& ~63`: sizes checked against the limit may exceed 2^31, where bitwise ops wrap
const align = (bytes: number): number => Math.ceil(bytes / 64) * 64;
/** First byte not handed out by wasmArray(); staging areas for copies start here. */
let top = BASE;
const residentBuffers = new WeakSet<ArrayBufferLike>();
let calls = 0;

/** @internal How many kernel calls ran on WASM so far (tests check the backend really ran). */
export function wasmCallCount(): number {
  return calls;
}

function isResident(a: Float64Array): boolean {
  return residentBuffers.has(a.buffer);
}

/** @internal Whether `a` lives in the WASM backend's memory (made by {@link wasmArray}). */
export function isWasmResident(a: Float64Array): boolean {
  return isResident(a);
}

/**
 * @internal Lowers the memory limit the size checks use (tests exercise them without allocating gigabytes);
 * `undefined` restores {@link WASM_MEMORY_MAX_BYTES}. Never raises it above that.
 */
export function setWasmMemoryLimit(bytes: number | undefined): void {
  memoryLimit = Math.min(bytes ?? WASM_MEMORY_MAX_BYTES, WASM_MEMORY_MAX_BYTES);
}

/**
 * @internal The end (exclusive, in bytes, including the 64-byte tail every kernel may read past its arrays) of
 * the wasm memory {@link stage} needs when the arena ends at `arenaTop`, for an input of `length` values and,
 * with `hasOut`, an output of the same length. Resident arrays are used in place; ordinary ones get a staging
 * copy above the arena.
 */
export function stagingEnd(
  arenaTop: number,
  length: number,
  xResident: boolean,
  hasOut: boolean,
  outResident: boolean,
): number {
  const bytes = length * 8;
  let end = align(arenaTop);
  if (!xResident) end = align(end + bytes);
  if (hasOut && !outResident) end += bytes;
  return end + 64;
}

function ensure(k: WasmKernels, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  // callers check the size first (useWasm, wasmArray); this keeps the engine's RangeError from ever surfacing
  if (bytes > memoryLimit) {
    throw new WasmMemoryError(
      `staging needs ${bytes} bytes of WebAssembly memory, above the limit of ${memoryLimit} bytes`,
      bytes,
      memoryLimit,
    );
  }
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
}

/**
 * A zero-filled Float64Array of `length` that lives in the WASM backend's memory, so kernels given it (as input
 * and as `out`) skip copying. The memory is shared, so the array stays valid when the memory grows. Arrays are
 * carved from an arena that only {@link releaseWasmArrays} empties; all of them together are limited to
 * {@link WASM_MEMORY_MAX_BYTES} (2 GiB).
 * @throws AccelRangeError for a bad length; WasmUnavailableError where WebAssembly SIMD is unavailable;
 * WasmMemoryError when the arena has no room left for `length` values.
 */
export function wasmArray(length: number): Float64Array {
  if (!Number.isInteger(length) || length < 0 || length > 2 ** 27) {
    throw new AccelRangeError('length', length, 'an integer in [0, 2^27]');
  }
  const k = wasmKernels();
  if (k === undefined) throw new WasmUnavailableError(failure);
  const at = align(top);
  const end = at + length * 8 + 64;
  if (end > memoryLimit) {
    throw new WasmMemoryError(
      `wasmArray(${length}) needs ${length * 8} bytes, but the WebAssembly memory holds at most ` +
        `${memoryLimit} bytes and ${at - BASE} of them are held by earlier wasmArray() arrays ` +
        '(releaseWasmArrays() frees them)',
      end,
      memoryLimit,
    );
  }
  ensure(k, end);
  top = at + length * 8;
  const buffer = k.memory.buffer;
  residentBuffers.add(buffer);
  const a = new Float64Array(buffer, at, length);
  a.fill(0);
  return a;
}

/**
 * Empties the arena behind {@link wasmArray}. Every array it returned is then reused by later calls, so only
 * call this when none of them is in use any more.
 */
export function releaseWasmArrays(): void {
  top = BASE;
}

/**
 * Byte offsets of `x` and of an output area of its length (when `out` is given) in wasm memory. Arrays made by
 * {@link wasmArray} are used in place; others are copied into a staging area above the arena. `copyOut` says
 * whether the caller must copy results back with {@link unstage}. Call it only after {@link useWasm} said yes,
 * which checks that the staging area fits.
 */
export function stage(
  k: WasmKernels,
  x: Float64Array,
  out?: Float64Array,
): { xp: number; op: number; copyOut: boolean } {
  const xResident = isResident(x);
  const outResident = out !== undefined && isResident(out);
  ensure(k, stagingEnd(top, x.length, xResident, out !== undefined, outResident));
  calls++;
  const next = align(top);
  const xp = xResident ? x.byteOffset : next;
  const op = outResident ? out.byteOffset : xResident ? next : align(next + x.length * 8);
  if (!xResident) new Float64Array(k.memory.buffer, xp, x.length).set(x);
  return { xp, op, copyOut: !outResident };
}

/** Copies `out[from, to)` back from the staged output area at `op`. */
export function unstage(
  k: WasmKernels,
  op: number,
  out: Float64Array,
  from: number,
  to: number,
): void {
  if (to <= from) return;
  out.set(new Float64Array(k.memory.buffer, op + from * 8, to - from), from);
}
