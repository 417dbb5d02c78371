import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AccelRangeError, WasmMemoryError } from '../errors.js';
import * as na from '../index.js';
import {
  releaseWasmArrays,
  setWasmMemoryLimit,
  stagingEnd,
  wasmArray,
  wasmCallCount,
} from './backend.js';

function walk(n: number): Float64Array {
  const x = new Float64Array(n);
  let p = 100;
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    p *= 1 + (s / 2 ** 32 - 0.5) * 0.02;
    x[i] = p;
  }
  return x;
}

/** First index where a and b differ (NaN equals NaN), or -1: cheap to report, unlike a diff of 100k values. */
function firstDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

afterAll(() => {
  releaseWasmArrays();
  na.configureAccel({});
});

describe('wasmArray: zero-copy arrays in the WASM backend memory', () => {
  it('returns a zero-filled Float64Array that stays valid while the memory grows', () => {
    const a = wasmArray(1000);
    expect(a).toBeInstanceOf(Float64Array);
    expect(a.length).toBe(1000);
    expect(a.every((v) => v === 0)).toBe(true);
    a.fill(7.5);
    const big = wasmArray(4_000_000); // 32 MB forces the memory to grow
    big[big.length - 1] = 1;
    expect(a.length).toBe(1000);
    expect(a[999]).toBe(7.5);
    a[0] = 1.25;
    expect(a[0]).toBe(1.25);
  });

  it('kernels given resident arrays run on WASM under auto where WASM cleared 1.3x (not ema), matching the JS results', () => {
    const n = 50_000;
    const plain = walk(n);
    const x = wasmArray(n);
    x.set(plain);
    const out = wasmArray(n);
    na.configureAccel({ backend: 'js' });
    const jsSum = na.sum(plain);
    const jsMean = na.rollingMean(plain, { window: 20 });
    const jsStd = na.rollingStd(plain, { window: 20 });
    const jsEma = na.ema(plain, { span: 20 });
    na.configureAccel({ backend: 'auto' });
    const before = wasmCallCount();
    expect(Math.abs(na.sum(x) / jsSum - 1)).toBeLessThan(1e-14);
    na.rollingStd(x, { window: 20, out });
    let worst = 0;
    for (let i = 19; i < n; i++) worst = Math.max(worst, Math.abs(out[i]! - jsStd[i]!) / jsStd[i]!);
    expect(worst).toBeLessThan(1e-9);
    na.ema(x, { span: 20, out });
    worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out[i]! - jsEma[i]!) / jsEma[i]!);
    expect(worst).toBeLessThan(1e-13);
    // ema stays on JS under auto: its resident speed-up did not clear 1.3× (see WASM_AUTO_RESIDENT)
    expect(wasmCallCount() - before).toBe(2);
    // rollingMean cleared the 1.3× bar on resident data with the neighbouring-pair kernel, so auto runs it on WASM
    expect(na.rollingMean(x, { window: 20, out })).toBe(out);
    worst = 0;
    for (let i = 19; i < n; i++)
      worst = Math.max(worst, Math.abs(out[i]! - jsMean[i]!) / jsMean[i]!);
    expect(worst).toBeLessThan(1e-12);
    expect(wasmCallCount() - before).toBe(3);
  });

  it('auto keeps ordinary arrays on JS where copying into wasm memory does not pay, and streams rollingVar/Std', () => {
    na.configureAccel({ backend: 'auto' });
    const x = walk(50_000);
    let before = wasmCallCount();
    na.sum(x);
    na.rollingMean(x, { window: 20 });
    na.ema(x, { span: 20 });
    na.rollingStd(x.subarray(0, 4095), { window: 20 }); // under the length where auto considers WASM
    expect(wasmCallCount()).toBe(before);
    before = wasmCallCount();
    na.rollingStd(x, { window: 20 });
    na.rollingVar(x, { window: 20 });
    expect(wasmCallCount()).toBe(before + 2);
  });

  it('a resident input with an ordinary out still gives the same values (results copied back)', () => {
    const plain = walk(10_000);
    const x = wasmArray(10_000);
    x.set(plain);
    na.configureAccel({ backend: 'wasm' });
    const got = na.rollingMean(x, { window: 5 });
    na.configureAccel({ backend: 'js' });
    const want = na.rollingMean(plain, { window: 5 });
    for (let i = 4; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-10);
  });

  it('rejects a bad length with a RangeError naming it', () => {
    expect(() => wasmArray(-1)).toThrow(AccelRangeError);
    expect(() => wasmArray(1.5)).toThrow(/length/);
  });
});

describe('WASM memory limit: arrays too large to stage run on JS, a full arena throws WasmMemoryError', () => {
  afterEach(() => {
    setWasmMemoryLimit(undefined);
    releaseWasmArrays();
    na.configureAccel({});
  });

  it('the limit is the 2 GiB maximum of the shared memory', () => {
    expect(na.WASM_MEMORY_MAX_BYTES).toBe(2 ** 31);
  });

  it('stagingEnd counts each ordinary array once above the arena, without 32-bit wraparound', () => {
    // rolling kernel on an ordinary 2^27-value (1 GiB) input and out: 2 GiB of copies, over the limit
    expect(stagingEnd(64, 2 ** 27, false, true, false)).toBe(64 + 2 ** 31 + 64);
    expect(stagingEnd(64, 2 ** 27, false, true, false)).toBeGreaterThan(na.WASM_MEMORY_MAX_BYTES);
    // sum of the same input copies only the input (no output area): fits
    expect(stagingEnd(64, 2 ** 27, false, false, false)).toBe(64 + 2 ** 30 + 64);
    // a 2^28-value (2 GiB) input on its own is over the limit (bitwise alignment used to wrap this negative)
    expect(stagingEnd(64, 2 ** 28, false, false, false)).toBe(64 + 2 ** 31 + 64);
    // resident input and out are used in place: only the 64-byte tail above the (aligned) arena
    expect(stagingEnd(1_000_001, 2 ** 28, true, true, true)).toBe(1_000_064 + 64);
    // a resident input with an ordinary out stages the out only
    expect(stagingEnd(2 ** 30, 2 ** 27, true, true, false)).toBe(2 ** 30 + 2 ** 30 + 64);
  });

  it('backend wasm: a kernel whose staging copies exceed the limit runs on JS with identical results', () => {
    releaseWasmArrays();
    setWasmMemoryLimit(1 << 20); // 1 MiB
    const x = walk(100_000); // 800 kB: input + out copies need 1.6 MB
    na.configureAccel({ backend: 'js' });
    const want = {
      ema: na.ema(x, { span: 20 }),
      cross: na.smaCrossover(x, { fast: 5, slow: 20, allowShort: true }).equity,
      sum: na.sum(walk(200_000)),
    };
    na.configureAccel({ backend: 'wasm' });
    const before = wasmCallCount();
    expect(firstDifference(na.ema(x, { span: 20 }), want.ema)).toBe(-1);
    const cross = na.smaCrossover(x, { fast: 5, slow: 20, allowShort: true }).equity;
    expect(firstDifference(cross, want.cross)).toBe(-1);
    expect(na.sum(walk(200_000))).toBe(want.sum); // 1.6 MB input alone
    expect(wasmCallCount()).toBe(before);
    // what fits still runs on WASM: the sum of x copies 800 kB
    na.sum(x);
    expect(wasmCallCount()).toBe(before + 1);
  });

  it('rolling kernels stream ordinary arrays through a small scratch area: far above the limit they still run on WASM, bit for bit as on resident arrays', () => {
    // 300k values (2.4 MB each for input and out), NaN gaps on and around the 4096-output chunk edges and a flat
    // stretch (both make the kernel stop and hand a block to the JS path)
    const x = walk(300_001);
    for (const i of [0, 19, 4095, 4096, 4097, 8191, 8192, 100_000, 299_999]) x[i] = NaN;
    x.fill(7, 150_000, 153_000);
    const kernels = {
      mean: (a: Float64Array, w: number, out?: Float64Array) =>
        na.rollingMean(a, out ? { window: w, out } : { window: w }),
      var: (a: Float64Array, w: number, out?: Float64Array) =>
        na.rollingVar(a, out ? { window: w, out } : { window: w }),
      std: (a: Float64Array, w: number, out?: Float64Array) =>
        na.rollingStd(a, out ? { window: w, out } : { window: w }),
    };
    na.configureAccel({ backend: 'wasm' });
    for (const w of [2, 3, 20, 5000]) {
      for (const [name, run] of Object.entries(kernels)) {
        releaseWasmArrays();
        setWasmMemoryLimit(undefined);
        const rx = wasmArray(x.length);
        rx.set(x);
        const want = run(rx, w, wasmArray(x.length)).slice();
        releaseWasmArrays();
        setWasmMemoryLimit(1 << 20); // 1 MiB: whole copies of input and out would need 4.8 MB
        const before = wasmCallCount();
        const got = run(x, w);
        expect(wasmCallCount(), `${name} w=${w} ran on WASM`).toBe(before + 1);
        expect(firstDifference(got, want), `${name} w=${w}`).toBe(-1);
      }
    }
    // a window whose chunk of inputs alone does not fit the limit runs on JS, with JS's results
    const w = 200_000; // 1.6 MB of inputs per chunk
    setWasmMemoryLimit(1 << 20);
    const before = wasmCallCount();
    const got = na.rollingStd(x, { window: w });
    expect(wasmCallCount()).toBe(before);
    na.configureAccel({ backend: 'js' });
    expect(firstDifference(got, na.rollingStd(x, { window: w }))).toBe(-1);
  });

  it('a resident input with an ordinary out falls back to JS when the out copy does not fit', () => {
    releaseWasmArrays();
    setWasmMemoryLimit(1 << 20);
    na.configureAccel({ backend: 'wasm' });
    const small = wasmArray(50_000); // 400 kB arena + a 400 kB staged out: fits
    small.set(walk(50_000));
    let before = wasmCallCount();
    na.rollingMean(small, { window: 20 });
    expect(wasmCallCount()).toBe(before + 1);
    releaseWasmArrays();
    const big = wasmArray(100_000); // 800 kB arena + an 800 kB staged out: over 1 MiB
    big.set(walk(100_000));
    before = wasmCallCount();
    const got = na.rollingMean(big, { window: 20 });
    expect(wasmCallCount()).toBe(before);
    na.configureAccel({ backend: 'js' });
    expect(firstDifference(got, na.rollingMean(walk(100_000), { window: 20 }))).toBe(-1);
  });

  it('wasmArray beyond the limit throws WasmMemoryError naming the size and the limit', () => {
    releaseWasmArrays();
    setWasmMemoryLimit(1 << 20);
    wasmArray(100_000);
    let caught: unknown;
    try {
      wasmArray(100_000);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(WasmMemoryError);
    expect(caught).toBeInstanceOf(na.PeakTradeError);
    const err = caught as WasmMemoryError;
    expect(err.code).toBe('E_NUMERIC_ACCEL_WASM_MEMORY');
    expect(err.limitBytes).toBe(1 << 20);
    expect(err.requiredBytes).toBeGreaterThan(1 << 20);
    expect(err.message).toContain('wasmArray(100000) needs 800000 bytes');
    expect(err.message).toContain(String(1 << 20));
    expect(err.message).toContain('releaseWasmArrays()');
    // releasing the arena makes room again
    releaseWasmArrays();
    expect(wasmArray(100_000).length).toBe(100_000);
  });
});
