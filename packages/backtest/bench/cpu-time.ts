// Process CPU time per call (user + system, via process.cpuUsage) for the backtest workloads.
// On a shared machine wall-clock medians include time the process spent waiting for a core;
// CPU time does not (it still includes cache and hyper-thread contention). Not a bench-runner
// suite (no `.bench.ts`): run by hand with
//   pnpm exec tsx packages/backtest/bench/cpu-time.ts
import { Portfolio, backtest, generateOhlcv, sweep, type StrategySpec } from '../src/index.js';
import { naiveBacktest } from '../test/naive-engine.js';
import { SWEEP_GRID } from './backtest.bench.js';

function cpu(
  name: string,
  fn: () => unknown,
  reps: number,
  inner: number,
  unit: 'ns' | 'us' | 'ms' | 's',
): void {
  for (let i = 0; i < Math.min(inner * 2, 200); i++) fn();
  const xs: number[] = [];
  for (let k = 0; k < reps; k++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < inner; i++) fn();
    const c = process.cpuUsage(c0);
    xs.push((c.user + c.system) / inner); // µs per call
  }
  xs.sort((a, b) => a - b);
  const scale = { ns: 1e3, us: 1, ms: 1e-3, s: 1e-6 }[unit];
  const f = (v: number): string => (v * scale).toPrecision(3);
  console.log(
    `${name}: CPU time per call min ${f(xs[0]!)} ${unit}, median ${f(xs[xs.length >> 1]!)} ${unit} (${reps} × ${inner} calls)`,
  );
}

const SMA: StrategySpec = { kind: 'sma-cross', fast: 10, slow: 50 };
const d10k = generateOhlcv({ bars: 10_000, seed: 1 });
const eq10k = new Float64Array(10_000);
cpu(
  'backtest 10k, equity into a buffer',
  () => backtest(d10k, SMA, { equity: eq10k, feeBps: 1 }),
  30,
  100,
  'us',
);
cpu(
  'backtest 10k, equity allocated',
  () => backtest(d10k, SMA, { equity: true, feeBps: 1 }),
  30,
  100,
  'us',
);
cpu('naive engine 10k', () => naiveBacktest(d10k, SMA, { feeBps: 1 }), 10, 2, 'us');
const d1m = generateOhlcv({ bars: 1_000_000, seed: 2 });
const eq1m = new Float64Array(1_000_000);
cpu(
  'backtest 1M, equity into a buffer',
  () => backtest(d1m, SMA, { equity: eq1m, feeBps: 1 }),
  10,
  2,
  'ms',
);
const d100k = generateOhlcv({ bars: 100_000, seed: 3 });
cpu(
  'sweep 1,000 SMA pairs × 100k bars',
  () => sweep(d100k, 'sma-cross', SWEEP_GRID, { feeBps: 1 }),
  3,
  1,
  's',
);
const p = new Portfolio({ assets: 100, cash: 1e6 });
const prices = Float64Array.from({ length: 100 }, (_, i) => 50 + i);
for (let i = 0; i < 100; i++) p.applyFill(i, i % 3 === 0 ? -10 : 10, prices[i]!);
cpu('Portfolio.markToMarket(100)', () => p.markToMarket(prices), 30, 100_000, 'ns');
