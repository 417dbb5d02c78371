// Benchmarks of @peaktrade/numeric-accel at 1M points. Every ratio is measured in the same run:
// - numeric-accel.<kernel>.vsIdiomatic: idiomatic JS (Array + slice/reduce/map) time / kernel time (goal ≥ 5)
// - numeric-accel.rollingMean.vsSum / rollingStd.vsSum: rolling kernel time on ordinary arrays, default backend
//   ('auto': JS for rollingMean, streamed WASM for rollingStd) / one JS sum pass (goal ≤ 3)
// - numeric-accel.wasm.<kernel>.speedup: JS time / WASM time on ordinary arrays (copies included)
// - numeric-accel.wasm.<kernel>.resident: JS time / WASM time on wasmArray() data (no copies)
//   (backend 'auto' picks WASM only where the matching figure is ≥ 1.3)
// - numeric-accel.rollingStd.wasm.vsSum: WASM rollingStd on wasmArray() data / the same JS sum pass (goal ≤ 3)
// - numeric-accel.sqrtPass.vsSum: a JS loop that only writes Math.sqrt of each value / the same sum pass: the
//   least a JS rollingStd must do besides its sums (one square root per output), for reading rollingStd.vsSum
// - numeric-accel.smaCrossover.*: the fused SMA-crossover backtest (JS and WASM) against the unfused chain of
//   existing kernels, all in one interleaved suite
import {
  benchmark,
  defineBenchSuite,
  ratioMeasurement,
  suite,
  timeMeasurement,
  type Measurement,
} from '@peaktrade/bench-harness';
import * as na from '../src/index.js';

const N = 1_000_000;
const W = 20;

function priceSeries(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const x = new Float64Array(n);
  let p = 100;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    p *= 1 + (s / 2 ** 32 - 0.5) * 0.02;
    x[i] = p;
  }
  return x;
}

/** One square root per value, nothing else: what a JS rollingStd pays for its outputs alone. */
function sqrtPass(x: Float64Array, out: Float64Array): Float64Array {
  for (let i = 0; i < x.length; i++) out[i] = Math.sqrt(x[i]!);
  return out;
}

// ---- idiomatic JavaScript baselines: plain arrays, slice / reduce / map, as application code writes them ----
const add = (a: number, b: number): number => a + b;
const idiomatic = {
  mean: (xs: number[]): number => xs.reduce(add, 0) / xs.length,
  variance(xs: number[]): number {
    const m = idiomatic.mean(xs);
    return xs.map((v) => (v - m) ** 2).reduce(add, 0) / (xs.length - 1);
  },
  rolling: (xs: number[], w: number, f: (win: number[]) => number): number[] =>
    xs.map((_, i) => (i < w - 1 ? NaN : f(xs.slice(i - w + 1, i + 1)))),
  corr(a: number[], b: number[]): number {
    const ma = idiomatic.mean(a);
    const mb = idiomatic.mean(b);
    const cov = a.map((v, i) => (v - ma) * (b[i]! - mb)).reduce(add, 0);
    return (
      cov /
      Math.sqrt(
        a.map((v) => (v - ma) ** 2).reduce(add, 0) * b.map((v) => (v - mb) ** 2).reduce(add, 0),
      )
    );
  },
  ema(xs: number[], alpha: number): number[] {
    let prev: number | undefined;
    return xs.map((v) => (prev = prev === undefined ? v : alpha * v + (1 - alpha) * prev));
  },
};

export default defineBenchSuite({
  name: 'numeric-accel',
  description:
    'Float64Array kernels at 1M points against one sum pass, idiomatic JS and the WASM backend',
  async run(ctx) {
    const x = priceSeries(N, 1);
    const y = priceSeries(N, 2);
    const r = na.pctChange(x);
    r[0] = 0;
    // Idiomatic baselines take 0.1-2 s per call at 1M points. Under --quick they run on the first 250k points and
    // their time is scaled ×4 (every one of them is linear in n); the full run times them at 1M.
    const idiomN = ctx.quick ? N / 4 : N;
    const idiomScale = N / idiomN;
    const xs = Array.from(x.subarray(0, idiomN));
    const ys = Array.from(y.subarray(0, idiomN));
    const rs = Array.from(r.subarray(0, idiomN));
    const out = new Float64Array(N);
    const scratch = new Float64Array(N);
    const timeMs = ctx.quick ? 40 : Math.min(ctx.timeMs, 300);
    const rounds = ctx.quick ? 3 : 6;
    const measurements: Measurement[] = [];
    const prev = na.accelSettings();
    na.configureAccel({ backend: 'js' });
    // the same prices in wasm memory (na.wasmArray), for the WASM figures; undefined without WebAssembly
    let rx: Float64Array | undefined;
    let rout: Float64Array | undefined;
    try {
      rx = na.wasmArray(N);
      rx.set(x);
      rout = na.wasmArray(N);
    } catch {
      ctx.log('WebAssembly unavailable: WASM measurements skipped');
    }
    const js = (): void => {
      na.configureAccel({ backend: 'js' });
    };
    const auto = (): void => {
      na.configureAccel({ backend: 'auto' });
    };

    // 1. bandwidth floor: rolling mean / std as a caller gets them (ordinary arrays, backend 'auto') against one
    // JS sum pass, plus rollingStd on WASM data. The JS backend's rollingStd is timed in section 3.
    {
      const floor: Record<string, () => unknown> = {
        sum: () => (js(), na.sum(x)),
        rollingMean: () => (auto(), na.rollingMean(x, { window: W, out })),
        rollingStd: () => (auto(), na.rollingStd(x, { window: W, out })),
        sqrtPass: () => sqrtPass(x, out),
      };
      if (rx !== undefined && rout !== undefined) {
        const [a, o] = [rx, rout];
        floor.rollingStdWasm = () => {
          na.configureAccel({ backend: 'auto' });
          return na.rollingStd(a, { window: W, out: o });
        };
      }
      const s = await suite('numeric-accel floor', floor, {
        baseline: 'sum',
        timeMs: ctx.quick ? 150 : 600,
        rounds: ctx.quick ? 4 : 10,
      });
      measurements.push(
        timeMeasurement('numeric-accel.sum.1m', 'sum, 1M points (median)', s.results.sum!, 'ms'),
      );
      measurements.push(
        timeMeasurement(
          'numeric-accel.rollingMean.1m',
          `rollingMean window ${W}, 1M points (median)`,
          s.results.rollingMean!,
          'ms',
        ),
      );
      measurements.push(
        timeMeasurement(
          'numeric-accel.rollingStd.1m',
          `rollingStd window ${W}, 1M points (median)`,
          s.results.rollingStd!,
          'ms',
        ),
      );
      measurements.push({
        ...ratioMeasurement(
          'numeric-accel.rollingMean.vsSum',
          'rollingMean / one sum pass (goal ≤ 3)',
          s,
          'rollingMean',
        ),
        detail: `window ${W}, 1M points, ordinary arrays, backend auto (runs JS), baseline: JS sum()`,
      });
      measurements.push({
        ...ratioMeasurement(
          'numeric-accel.rollingStd.vsSum',
          'rollingStd / one sum pass (goal ≤ 3)',
          s,
          'rollingStd',
        ),
        detail: `window ${W}, 1M points, ordinary arrays, backend auto (runs WASM, streamed through wasm memory), baseline: JS sum(); the JS backend's time is in numeric-accel.wasm.rollingStd.speedup`,
      });
      measurements.push({
        ...ratioMeasurement(
          'numeric-accel.sqrtPass.vsSum',
          'A JS loop writing Math.sqrt of each value / one sum pass',
          s,
          'sqrtPass',
        ),
        detail:
          'out[i] = Math.sqrt(x[i]) over the same 1M values into the same out array, baseline: JS sum(); one square root per output is the least any JS rollingStd computes besides its window sums',
      });
      if (s.ratios.rollingStdWasm !== undefined) {
        measurements.push({
          ...ratioMeasurement(
            'numeric-accel.rollingStd.wasm.vsSum',
            'rollingStd on WASM (wasmArray data) / one JS sum pass (goal ≤ 3)',
            s,
            'rollingStdWasm',
          ),
          detail: `window ${W}, 1M points, backend auto on wasmArray() input and out (runs WASM), baseline: JS sum() over the same values; WASM median ${(s.results.rollingStdWasm!.stats.median / 1e6).toFixed(3)} ms`,
        });
      }
      ctx.log(
        `floor: rollingMean ${s.ratios.rollingMean!.ratio.toFixed(2)}x, rollingStd ${s.ratios.rollingStd!.ratio.toFixed(2)}x, rollingStd on WASM data ${s.ratios.rollingStdWasm?.ratio.toFixed(2) ?? '-'}x of sum`,
      );
    }

    // 2. every kernel against idiomatic JS
    const alpha = 2 / (W + 1);
    const pairs: [string, () => unknown, () => unknown][] = [
      ['sum', () => na.sum(x), () => xs.reduce(add, 0)],
      ['mean', () => na.mean(x), () => idiomatic.mean(xs)],
      ['variance', () => na.variance(x), () => idiomatic.variance(xs)],
      ['std', () => na.std(x), () => Math.sqrt(idiomatic.variance(xs))],
      ['min', () => na.min(x), () => xs.reduce((a, b) => Math.min(a, b))],
      ['max', () => na.max(x), () => xs.reduce((a, b) => Math.max(a, b))],
      [
        'argmin',
        () => na.argmin(x),
        () => xs.reduce((best, v, i) => (v < xs[best]! ? i : best), 0),
      ],
      [
        'argmax',
        () => na.argmax(x),
        () => xs.reduce((best, v, i) => (v > xs[best]! ? i : best), 0),
      ],
      [
        'cumsum',
        () => na.cumsum(x, { out }),
        () => {
          let s = 0;
          return xs.map((v) => (s += v));
        },
      ],
      [
        'cumprod',
        () => na.cumprod(r, { out }),
        () => {
          let p = 1;
          return rs.map((v) => (p *= v));
        },
      ],
      [
        'cummax',
        () => na.cummax(x, { out }),
        () => {
          let m = -Infinity;
          return xs.map((v) => (m = Math.max(m, v)));
        },
      ],
      ['diff', () => na.diff(x, { out }), () => xs.map((v, i) => (i === 0 ? NaN : v - xs[i - 1]!))],
      ['shift', () => na.shift(x, { out }), () => [NaN, ...xs.slice(0, -1)]],
      [
        'pctChange',
        () => na.pctChange(x, { out }),
        () => xs.map((v, i) => (i === 0 ? NaN : v / xs[i - 1]! - 1)),
      ],
      [
        'logReturns',
        () => na.logReturns(x, { out }),
        () => xs.map((v, i) => (i === 0 ? NaN : Math.log(v / xs[i - 1]!))),
      ],
      [
        'rollingSum',
        () => na.rollingSum(x, { window: W, out }),
        () => idiomatic.rolling(xs, W, (win) => win.reduce(add, 0)),
      ],
      [
        'rollingMean',
        () => na.rollingMean(x, { window: W, out }),
        () => idiomatic.rolling(xs, W, idiomatic.mean),
      ],
      [
        'rollingStd',
        () => na.rollingStd(x, { window: W, out }),
        () => idiomatic.rolling(xs, W, (win) => Math.sqrt(idiomatic.variance(win))),
      ],
      [
        'rollingMin',
        () => na.rollingMin(x, { window: W, out }),
        () => idiomatic.rolling(xs, W, (win) => win.reduce((a, b) => Math.min(a, b))),
      ],
      [
        'rollingMax',
        () => na.rollingMax(x, { window: W, out }),
        () => idiomatic.rolling(xs, W, (win) => win.reduce((a, b) => Math.max(a, b))),
      ],
      [
        'rollingCorr',
        () => na.rollingCorr(x, y, { window: W, out }),
        () =>
          xs.map((_, i) =>
            i < W - 1
              ? NaN
              : idiomatic.corr(xs.slice(i - W + 1, i + 1), ys.slice(i - W + 1, i + 1)),
          ),
      ],
      ['ema', () => na.ema(x, { alpha, adjust: false, out }), () => idiomatic.ema(xs, alpha)],
      [
        'rsi',
        () => na.rsi(x, { period: 14, out }),
        () => {
          const d = xs.map((v, i) => (i === 0 ? 0 : v - xs[i - 1]!));
          const up = idiomatic.ema(
            d.map((v) => Math.max(v, 0)),
            1 / 14,
          );
          const down = idiomatic.ema(
            d.map((v) => Math.max(-v, 0)),
            1 / 14,
          );
          return up.map((u, i) => 100 - 100 / (1 + u / down[i]!));
        },
      ],
      [
        'zscore',
        () => na.zscore(x, { out }),
        () => {
          const m = idiomatic.mean(xs);
          const s = Math.sqrt(idiomatic.variance(xs));
          return xs.map((v) => (v - m) / s);
        },
      ],
      [
        'drawdown',
        () => na.drawdown(x, { out }),
        () => {
          let peak = -Infinity;
          return xs.map((v) => {
            peak = Math.max(peak, v);
            return v / peak - 1;
          });
        },
      ],
      [
        'maxDrawdown',
        () => na.maxDrawdown(x),
        () => {
          let peak = -Infinity;
          const dd = xs.map((v) => {
            peak = Math.max(peak, v);
            return v / peak - 1;
          });
          const worst = dd.reduce((a, b) => Math.min(a, b));
          return { value: worst, troughIndex: dd.indexOf(worst) };
        },
      ],
      [
        'sharpe',
        () => na.sharpe(r),
        () => (idiomatic.mean(rs) / Math.sqrt(idiomatic.variance(rs))) * Math.sqrt(252),
      ],
      [
        'sortino',
        () => na.sortino(r),
        () => {
          const down = rs.map((v) => Math.min(v, 0));
          return (
            (idiomatic.mean(rs) / Math.sqrt(down.map((v) => v * v).reduce(add, 0) / rs.length)) *
            Math.sqrt(252)
          );
        },
      ],
      [
        'quantile',
        () => na.quantile(x, 0.95, { scratch }),
        () => {
          const sorted = [...xs].sort((a, b) => a - b);
          const pos = 0.95 * (sorted.length - 1);
          const lo = Math.floor(pos);
          return sorted[lo]! + (sorted[lo + 1]! - sorted[lo]!) * (pos - lo);
        },
      ],
    ];
    const speedups: string[] = [];
    for (const [kernel, ours, idiom] of pairs) {
      // the idiomatic versions take 0.1-2 s per call at 1M points, so they get a fixed small number of calls
      // (measured right after the kernel, same process and data) instead of an interleaved suite
      const k = await benchmark(ours, { name: `numeric-accel ${kernel}`, timeMs });
      const i = await benchmark(idiom, {
        name: `numeric-accel ${kernel} idiomatic`,
        iterations: ctx.quick ? 1 : 3,
        warmup: ctx.quick ? 0 : 1,
        timeMs,
      });
      const ratio = (i.stats.median * idiomScale) / k.stats.median;
      measurements.push({
        id: `numeric-accel.${kernel}.vsIdiomatic`,
        label: `${kernel}: idiomatic JS time / kernel time (goal ≥ 5)`,
        value: ratio,
        unit: 'x',
        detail: `1M points, medians: kernel ${(k.stats.median / 1e6).toFixed(3)} ms (${k.iterations} calls), idiomatic ${((i.stats.median * idiomScale) / 1e6).toFixed(1)} ms (${i.iterations} calls${idiomScale === 1 ? '' : `, timed on ${idiomN} points ×${idiomScale}`}); JS backend`,
      });
      speedups.push(`${kernel} ${ratio.toFixed(1)}x`);
    }
    ctx.log(`vs idiomatic: ${speedups.join(', ')}`);

    // 3. WASM against JS for each kernel that has both
    const wasmPairs: [string, () => unknown][] = [
      ['sum', () => na.sum(x)],
      ['mean', () => na.mean(x)],
      ['rollingMean', () => na.rollingMean(x, { window: W, out })],
      ['rollingVar', () => na.rollingVar(x, { window: W, out })],
      ['rollingStd', () => na.rollingStd(x, { window: W, out })],
      ['ema', () => na.ema(x, { span: W, out })],
    ];
    for (const [kernel, fn] of wasmPairs) {
      const s = await suite(
        `numeric-accel wasm ${kernel}`,
        {
          wasm: () => {
            na.configureAccel({ backend: 'wasm' });
            return fn();
          },
          js: () => {
            na.configureAccel({ backend: 'js' });
            return fn();
          },
        },
        { baseline: 'wasm', timeMs, rounds },
      );
      const m = ratioMeasurement(
        `numeric-accel.wasm.${kernel}.speedup`,
        `${kernel}: JS time / WASM time (WASM used by auto only if ≥ 1.3)`,
        s,
        'js',
      );
      measurements.push({
        ...m,
        detail: `1M points, WASM includes copying the input into and the output out of wasm memory; WASM median ${(s.results.wasm!.stats.median / 1e6).toFixed(3)} ms, JS ${(s.results.js!.stats.median / 1e6).toFixed(3)} ms`,
      });
      ctx.log(`wasm ${kernel}: ${m.value.toFixed(2)}x`);
    }
    // 4. WASM on arrays that already live in wasm memory (na.wasmArray): the public API with no copies, under
    // backend 'auto' (which picks WASM for resident arrays only where WASM_AUTO_RESIDENT says so) against JS on
    // ordinary arrays. Forced to 'wasm' here so kernels that auto keeps on JS are measured too.
    if (rx !== undefined && rout !== undefined) {
      const resident: [string, (a: Float64Array, o: Float64Array) => unknown][] = [
        ['sum', (a) => na.sum(a)],
        ['mean', (a) => na.mean(a)],
        ['rollingMean', (a, o) => na.rollingMean(a, { window: W, out: o })],
        ['rollingVar', (a, o) => na.rollingVar(a, { window: W, out: o })],
        ['rollingStd', (a, o) => na.rollingStd(a, { window: W, out: o })],
        ['ema', (a, o) => na.ema(a, { span: W, out: o })],
      ];
      for (const [kernel, fn] of resident) {
        const s = await suite(
          `numeric-accel wasm resident ${kernel}`,
          {
            wasm: () => {
              na.configureAccel({ backend: 'wasm' });
              return fn(rx, rout);
            },
            js: () => {
              na.configureAccel({ backend: 'js' });
              return fn(x, out);
            },
          },
          { baseline: 'wasm', timeMs, rounds },
        );
        const m = ratioMeasurement(
          `numeric-accel.wasm.${kernel}.resident`,
          `${kernel}: JS time / WASM time on wasmArray() data (no copies)`,
          s,
          'js',
        );
        measurements.push({
          ...m,
          detail: `1M points, input and out made by wasmArray(); WASM median ${(s.results.wasm!.stats.median / 1e6).toFixed(3)} ms, JS (ordinary arrays) ${(s.results.js!.stats.median / 1e6).toFixed(3)} ms`,
        });
        ctx.log(`wasm resident ${kernel}: ${m.value.toFixed(2)}x`);
      }
    }

    // 5. fused SMA-crossover backtest (fast 10, slow 50, long/short, 5 bp cost): fused JS, fused WASM (on
    // wasmArray() data, and with copies), and the unfused chain of existing kernels, interleaved in one suite
    {
      const cross = { fast: 10, slow: 50, allowShort: true, cost: 0.0005 };
      const fastMa = new Float64Array(N);
      const slowMa = new Float64Array(N);
      const pos = new Float64Array(N);
      const held = new Float64Array(N);
      const ret = new Float64Array(N);
      const unfused = (): unknown => {
        js();
        na.rollingMean(x, { window: cross.fast, out: fastMa });
        na.rollingMean(x, { window: cross.slow, out: slowMa });
        for (let t = 0; t < N; t++) {
          const d = fastMa[t]! - slowMa[t]!;
          pos[t] = d > 0 ? 1 : d < 0 ? -1 : 0;
        }
        na.shift(pos, { fillValue: 0, out: held });
        na.pctChange(x, { out: ret });
        na.diff(pos, { out: fastMa });
        fastMa[0] = pos[0]!;
        for (let t = 0; t < N; t++) {
          const r = ret[t]!;
          slowMa[t] = 1 + (held[t]! * (r === r ? r : 0) - cross.cost * Math.abs(fastMa[t]!));
        }
        na.cumprod(slowMa, { out });
        return na.maxDrawdown(out);
      };
      const variants: Record<string, () => unknown> = {
        fusedJs: () => (js(), na.smaCrossover(x, { ...cross, out })),
        unfused,
      };
      if (rx !== undefined && rout !== undefined) {
        const [a, o] = [rx, rout];
        variants.wasmResident = () => {
          na.configureAccel({ backend: 'auto' });
          return na.smaCrossover(a, { ...cross, out: o });
        };
        variants.wasmCopy = () => {
          na.configureAccel({ backend: 'wasm' });
          return na.smaCrossover(x, { ...cross, out });
        };
      }
      const s = await suite('numeric-accel fused smaCrossover', variants, {
        baseline: 'fusedJs',
        timeMs,
        rounds,
      });
      const ms = (v: string): string => (s.results[v]!.stats.median / 1e6).toFixed(3);
      const inverse = (m: Measurement, id: string, label: string, detail: string): Measurement => ({
        id,
        label,
        value: 1 / m.value,
        unit: 'x',
        ...(m.ci === undefined ? {} : { ci: [1 / m.ci[1], 1 / m.ci[0]] as [number, number] }),
        detail,
      });
      measurements.push(
        timeMeasurement(
          'numeric-accel.smaCrossover.1m',
          'fused smaCrossover (JS), 1M bars (median)',
          s.results.fusedJs!,
          'ms',
        ),
      );
      measurements.push({
        ...ratioMeasurement(
          'numeric-accel.smaCrossover.fusedVsUnfused',
          'smaCrossover: unfused kernel chain time / fused JS time',
          s,
          'unfused',
        ),
        detail: `1M bars, fast 10 / slow 50, long-short, 5 bp; medians: fused JS ${ms('fusedJs')} ms, unfused chain ${ms('unfused')} ms (rollingMean ×2, shift, pctChange, diff, cumprod, maxDrawdown + elementwise loops); JS backend`,
      });
      const line = [`fused JS ${ms('fusedJs')} ms`, `unfused ${ms('unfused')} ms`];
      if (s.ratios.wasmResident !== undefined && s.ratios.wasmCopy !== undefined) {
        const res = inverse(
          ratioMeasurement('x', 'x', s, 'wasmResident'),
          'numeric-accel.wasm.smaCrossover.resident',
          'smaCrossover: fused JS time / fused WASM time on wasmArray() data (no copies)',
          `1M bars; WASM median ${ms('wasmResident')} ms (backend auto), JS ${ms('fusedJs')} ms; unfused chain / WASM = ${(s.results.unfused!.stats.median / s.results.wasmResident!.stats.median).toFixed(2)}x`,
        );
        const copy = inverse(
          ratioMeasurement('x', 'x', s, 'wasmCopy'),
          'numeric-accel.wasm.smaCrossover.speedup',
          'smaCrossover: fused JS time / fused WASM time (WASM used by auto only if ≥ 1.3)',
          `1M bars, WASM includes copying close in and the equity curve out; WASM median ${ms('wasmCopy')} ms, JS ${ms('fusedJs')} ms`,
        );
        measurements.push(res, copy);
        line.push(`WASM resident ${ms('wasmResident')} ms (${res.value.toFixed(2)}x)`);
        line.push(`WASM copying ${ms('wasmCopy')} ms (${copy.value.toFixed(2)}x)`);
      }
      ctx.log(`fused smaCrossover: ${line.join(', ')}`);
    }
    if (rx !== undefined) na.releaseWasmArrays();
    na.configureAccel({ backend: prev.backend, threads: prev.threads });
    return measurements;
  },
});
