import { afterAll, describe, expect, it } from 'vitest';
import { AccelRangeError } from '../errors.js';
import * as na from '../index.js';
import { releaseWasmArrays, wasmArray, wasmCallCount } from './backend.js';

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

  it('kernels given resident arrays run on WASM under auto and match the JS results', () => {
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
    expect(wasmCallCount() - before).toBe(3);
    // rollingMean cleared the 1.3× bar on resident data with the neighbouring-pair kernel, so auto runs it on WASM
    expect(na.rollingMean(x, { window: 20, out })).toBe(out);
    worst = 0;
    for (let i = 19; i < n; i++)
      worst = Math.max(worst, Math.abs(out[i]! - jsMean[i]!) / jsMean[i]!);
    expect(worst).toBeLessThan(1e-12);
    expect(wasmCallCount() - before).toBe(4);
  });

  it('auto keeps ordinary arrays on JS (copying into wasm memory does not pay)', () => {
    na.configureAccel({ backend: 'auto' });
    const x = walk(50_000);
    const before = wasmCallCount();
    na.sum(x);
    na.rollingStd(x, { window: 20 });
    na.ema(x, { span: 20 });
    expect(wasmCallCount()).toBe(before);
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
