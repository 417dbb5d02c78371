import {
  benchmark,
  defineBenchSuite,
  measureMemory,
  timeMeasurement,
  type Measurement,
} from '@peaktrade/bench-harness';
import {
  Portfolio,
  backtest,
  generateOhlcv,
  paramGrid,
  sweep,
  type StrategySpec,
} from '../src/index.js';
import { naiveBacktest } from '../test/naive-engine.js';

const SMA: StrategySpec = { kind: 'sma-cross', fast: 10, slow: 50 };

/** 1,000 SMA pairs: fast 2..41 × slow 50..290 step 10. */
export const SWEEP_GRID = paramGrid({
  fast: Array.from({ length: 40 }, (_, i) => i + 2),
  slow: Array.from({ length: 25 }, (_, i) => 50 + i * 10),
});

export default defineBenchSuite({
  name: 'backtest',
  description:
    'Backtest engine: 10k-bar SMA backtest vs a naive event-driven engine, 1M bars, a 1,000-pair sweep over 100k bars, portfolio mark-to-market',
  async run(ctx) {
    const out: Measurement[] = [];
    const t = ctx.timeMs;

    // 10k bars, full metrics + equity curve; the naive engine measured in the same run.
    const d10k = generateOhlcv({ bars: 10_000, seed: 1 });
    ctx.log('10k-bar backtest');
    // The equity curve is written into a caller-owned buffer (the documented way to run many
    // backtests without allocating); `backtest.10k.alloc.median` measures a fresh curve per call.
    const eq10k = new Float64Array(10_000);
    // Let TurboFan optimise every path before the first timed call (the harness warmup is short in --quick).
    for (let i = 0; i < 300; i++) {
      backtest(d10k, SMA, { equity: i % 2 === 0 ? eq10k : true, feeBps: 1 });
    }
    const fast = await benchmark(() => backtest(d10k, SMA, { equity: eq10k, feeBps: 1 }), {
      name: 'backtest 10k',
      timeMs: t,
    });
    const fastAlloc = await benchmark(() => backtest(d10k, SMA, { equity: true, feeBps: 1 }), {
      name: 'backtest 10k alloc',
      timeMs: t,
    });
    const naive = await benchmark(() => naiveBacktest(d10k, SMA, { feeBps: 1 }), {
      name: 'naive 10k',
      ...(ctx.quick ? { iterations: 5, warmup: 2 } : { timeMs: t * 2 }),
    });
    out.push(
      timeMeasurement(
        'backtest.10k.median',
        '10k-bar SMA backtest, full metrics + equity curve into a reused buffer (median)',
        fast,
        'us',
      ),
      timeMeasurement(
        'backtest.10k.alloc.median',
        '10k-bar SMA backtest, full metrics + freshly allocated equity curve (median)',
        fastAlloc,
        'us',
      ),
      timeMeasurement(
        'backtest.10k.naive.median',
        '10k-bar SMA backtest, naive event-driven engine (median)',
        naive,
        'us',
      ),
      {
        id: 'backtest.10k.speedup',
        label: 'speed-up of the engine over the naive engine, 10k bars (higher is better)',
        value: naive.stats.median / fastAlloc.stats.median,
        unit: 'x',
        detail:
          'median(naive) / median(engine with a freshly allocated equity curve), same run, same data and strategy (SMA 10/50, 1 bp fees)',
      },
    );

    // 1M bars.
    ctx.log('1M-bar backtest');
    const d1m = generateOhlcv({ bars: 1_000_000, seed: 2 });
    const eq1m = new Float64Array(1_000_000);
    const big = await benchmark(() => backtest(d1m, SMA, { equity: eq1m, feeBps: 1 }), {
      name: 'backtest 1M',
      timeMs: t,
    });
    out.push(
      timeMeasurement(
        'backtest.1m.median',
        '1M-bar SMA backtest, full metrics + equity curve into a reused buffer (median)',
        big,
        'ms',
      ),
    );

    // 1,000-pair SMA sweep over 100k bars, one thread.
    ctx.log('1,000-pair sweep over 100k bars');
    const d100k = generateOhlcv({ bars: 100_000, seed: 3 });
    const sw = await benchmark(() => sweep(d100k, 'sma-cross', SWEEP_GRID, { feeBps: 1 }), {
      name: 'sweep 1000x100k',
      ...(ctx.quick ? { iterations: 1, warmup: 0 } : { timeMs: Math.max(t, 4000) }),
    });
    const barStrategies = SWEEP_GRID.length * 100_000;
    out.push(
      timeMeasurement(
        'backtest.sweep.1000x100k.median',
        '1,000-pair SMA sweep over 100k bars, one thread (median)',
        sw,
        's',
      ),
      {
        id: 'backtest.sweep.throughput',
        label: 'sweep throughput, bar-strategies per second (at the median)',
        value: barStrategies / (sw.stats.median / 1e9),
        unit: 'ops/s',
        detail: '1,000 SMA pairs × 100,000 bars, one thread',
      },
    );
    const mem = await measureMemory(() => sweep(d100k, 'sma-cross', SWEEP_GRID, { feeBps: 1 }), {
      name: 'sweep memory',
    });
    out.push({
      id: 'backtest.sweep.memory',
      label: 'extra memory of the 1,000 × 100k sweep (peak heap growth + external)',
      value: (mem.peakHeapBytes + Math.max(0, mem.externalBytes)) / (1024 * 1024),
      unit: 'MB',
      detail: `peak heap growth ${mem.peakHeapBytes} B, external ${mem.externalBytes} B, ${mem.gcCount} GCs; input data (4.8 MB) excluded`,
    });

    // Portfolio mark-to-market of 100 positions.
    ctx.log('portfolio markToMarket(100)');
    const p = new Portfolio({ assets: 100, cash: 1e6 });
    const pa = new Float64Array(100);
    const pb = new Float64Array(100);
    for (let i = 0; i < 100; i++) {
      pa[i] = 50 + i;
      pb[i] = 50.5 + i;
      p.applyFill(i, i % 3 === 0 ? -10 : 10, pa[i]!);
    }
    let flip = false;
    const mtm = await benchmark(
      () => {
        flip = !flip;
        return p.markToMarket(flip ? pa : pb);
      },
      { name: 'markToMarket 100', timeMs: t },
    );
    out.push(
      timeMeasurement(
        'backtest.portfolio.mtm100.median',
        'Portfolio.markToMarket, 100 positions (median)',
        mtm,
        'ns',
      ),
    );
    return out;
  },
});
