/**
 * @peaktrade/parallel benchmarks. Sized for a 2-core machine.
 * - SMA sweep (1,000 fast/slow pairs over 100k bars; 100 pairs under --quick) with
 *   `@peaktrade/backtest`: serial main thread vs 1 worker vs 2 workers, interleaved rounds, medians.
 * - Getting 1M bars (6 float64 columns, 48 MB) to 2 workers: SharedColumns vs structured clone.
 * - Warm dispatch overhead per task and per strategy after automatic chunking.
 * - mapIo / createLimit overhead per task with 100k items queued.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { backtest, generateOhlcv, type StrategySpec } from '@peaktrade/backtest';
import {
  benchmark,
  defineBenchSuite,
  timeMeasurement,
  type Measurement,
} from '@peaktrade/bench-harness';
import {
  SharedColumns,
  WorkerPool,
  createLimit,
  localBackend,
  mapCpu,
  mapIo,
  parallelBacktest,
  taskRef,
} from '../src/index.js';

const TASKS = new URL('./tasks.mjs', import.meta.url);
const NOOP = taskRef<(x: number) => number>(TASKS, 'noop');
const TOUCH_SHARED = taskRef<(input: null) => [number, number]>(TASKS, 'touchShared');
const TOUCH_CLONED = taskRef<(cols: Record<string, Float64Array>) => [number, number]>(
  TASKS,
  'touchCloned',
);
const NOOP_BACKTEST = taskRef<(data: unknown, s: StrategySpec & { fast: number }) => number>(
  TASKS,
  'noopBacktest',
);
const BACKTEST = taskRef<typeof backtest>(
  pathToFileURL(createRequire(import.meta.url).resolve('@peaktrade/backtest')),
  'backtest',
);

function smaPairs(count: number): StrategySpec[] {
  const out: StrategySpec[] = [];
  for (let slow = 60; out.length < count; slow += 10) {
    for (let fast = 2; fast < 42 && out.length < count; fast++)
      out.push({ kind: 'sma-cross', fast, slow });
  }
  return out;
}

/**
 * The machine's CPU time so far from the first line of /proc/stat, in clock ticks: all of it and the
 * part stolen by the hypervisor (time a vCPU was ready to run but the host ran something else).
 * Undefined where there is no /proc/stat.
 */
function cpuTicks(): { readonly total: number; readonly steal: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/);
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is in user)
    const ticks = fields.slice(1, 9).map(Number);
    if (fields[0] !== 'cpu' || ticks.length < 8 || ticks.some((t) => !Number.isFinite(t)))
      return undefined;
    return { total: ticks.reduce((a, b) => a + b, 0), steal: ticks[7]! };
  } catch {
    return undefined;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function perItem(
  id: string,
  label: string,
  ns: number,
  items: number,
  detail: string,
): Measurement {
  return { id, label, value: ns / items / 1e3, unit: 'us', detail };
}

export default defineBenchSuite({
  name: 'parallel',
  description:
    'Worker pool: SMA sweep scaling, shared vs cloned data delivery, dispatch and mapIo overhead',
  async run(ctx) {
    const out: Measurement[] = [];
    const timeMs = ctx.timeMs;
    const pool1 = new WorkerPool({ maxWorkers: 1, minWorkers: 1 });
    const pool2 = new WorkerPool({ maxWorkers: 2, minWorkers: 2 });
    try {
      // ---- SMA sweep scaling -------------------------------------------------------------
      const pairs = ctx.quick ? 100 : 1000;
      const rounds = ctx.quick ? 1 : 2;
      const bars = 100_000;
      const data = SharedColumns.from(generateOhlcv({ bars, seed: 11 }));
      const specs = smaPairs(pairs);
      const warm = smaPairs(40);
      ctx.log(`warming workers (${warm.length} strategies each pool)`);
      for (const s of warm.slice(0, 10)) backtest(data.columns, s);
      await parallelBacktest(warm, data, BACKTEST, { backend: localBackend({ pool: pool1 }) });
      await parallelBacktest(warm, data, BACKTEST, { backend: localBackend({ pool: pool2 }) });
      // The machine is shared, so load drifts over seconds. The 1,000 pairs are cut into blocks of
      // 200 and the three variants run block by block in rotating order: each block gives one
      // 1-worker/2-worker ratio measured under nearly the same load. Sweep times are the sum over
      // blocks (all 1,000 pairs), median over rounds; the scaling is the median of block ratios.
      const BLOCK = Math.min(200, pairs);
      const blocks: StrategySpec[][] = [];
      for (let i = 0; i < specs.length; i += BLOCK) blocks.push(specs.slice(i, i + BLOCK));
      // CPU time stolen by the hypervisor while the 2-worker blocks ran: with both vCPUs busy, any
      // steal slows them directly, so this says whether the machine was quiet for the scaling figure.
      const stolen = { total: 0, steal: 0, known: true };
      const run = async (name: 'serial' | 'w1' | 'w2', block: StrategySpec[]): Promise<number> => {
        const c0 = name === 'w2' ? cpuTicks() : undefined;
        const t0 = process.hrtime.bigint();
        if (name === 'serial') for (const s of block) backtest(data.columns, s);
        else
          await parallelBacktest(block, data, BACKTEST, {
            backend: localBackend({ pool: name === 'w1' ? pool1 : pool2 }),
          });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (name === 'w2') {
          const c1 = cpuTicks();
          if (c0 === undefined || c1 === undefined) stolen.known = false;
          else {
            stolen.total += c1.total - c0.total;
            stolen.steal += c1.steal - c0.steal;
          }
        }
        return ms;
      };
      const totals: Record<'serial' | 'w1' | 'w2', number[]> = { serial: [], w1: [], w2: [] };
      const ratios: number[] = [];
      const order = ['w1', 'w2', 'serial'] as const;
      let turn = 0;
      for (let r = 0; r < rounds; r++) {
        const sum = { serial: 0, w1: 0, w2: 0 };
        for (const block of blocks) {
          const t = { serial: 0, w1: 0, w2: 0 };
          for (let k = 0; k < order.length; k++) {
            const name = order[(k + turn) % order.length] as 'serial' | 'w1' | 'w2';
            t[name] = await run(name, block);
          }
          turn++;
          sum.serial += t.serial;
          sum.w1 += t.w1;
          sum.w2 += t.w2;
          ratios.push(t.w1 / t.w2);
        }
        totals.serial.push(sum.serial);
        totals.w1.push(sum.w1);
        totals.w2.push(sum.w2);
        ctx.log(
          `sweep round ${r + 1}/${rounds}: serial ${sum.serial.toFixed(0)} ms, 1 worker ${sum.w1.toFixed(0)} ms, 2 workers ${sum.w2.toFixed(0)} ms`,
        );
      }
      const tS = median(totals.serial);
      const t1 = median(totals.w1);
      const t2 = median(totals.w2);
      const measured = median(ratios);
      // Two workers cannot do the same work more than 2x faster than one: a figure well above
      // that means the 1-worker runs were slowed by something else on the machine. It is
      // reported as not a number (so the target fails) with the figure in the detail, not passed.
      const implausible = measured > 2 * 1.1;
      const scaling = implausible ? Number.NaN : measured;
      if (implausible)
        ctx.log(
          `sweep scaling ${measured.toFixed(2)}x is above 2.2x: the 1-worker runs were disturbed`,
        );
      const cond = `${pairs} sma-cross pairs × ${bars} bars in blocks of ${BLOCK}, ${rounds} round(s), variants interleaved per block, shared 2-core machine`;
      out.push({
        id: 'parallel.sweep.serial_ms',
        label: 'SMA sweep, serial main thread',
        value: tS,
        unit: 'ms',
        detail: cond,
      });
      out.push({
        id: 'parallel.sweep.1w_ms',
        label: 'SMA sweep, 1 worker',
        value: t1,
        unit: 'ms',
        detail: cond,
      });
      out.push({
        id: 'parallel.sweep.2w_ms',
        label: 'SMA sweep, 2 workers',
        value: t2,
        unit: 'ms',
        detail: cond,
      });
      out.push({
        id: 'parallel.sweep.scaling_1w_to_2w',
        label: 'Speed-up 1 → 2 workers (goal ≥ 1.7 on a quiet machine)',
        value: scaling,
        unit: 'x',
        detail: `${implausible ? `IMPLAUSIBLE ${measured.toFixed(2)}x from 2 workers (the 1-worker runs were disturbed; rerun); ` : ''}median over ${ratios.length} blocks of time(1 worker) / time(2 workers); ${cond}`,
      });
      if (stolen.known && stolen.total > 0) {
        out.push({
          id: 'parallel.sweep.steal_pct',
          label: 'CPU time stolen by the hypervisor during the 2-worker blocks',
          value: (100 * stolen.steal) / stolen.total,
          unit: '%',
          detail: `/proc/stat steal ticks / all ticks, summed over the 2-worker blocks (${stolen.total} ticks); near 0 on a quiet machine`,
        });
      }
      out.push({
        id: 'parallel.sweep.efficiency_per_core',
        label: 'Parallel efficiency per core, 2 workers',
        value: (100 * scaling) / 2,
        unit: '%',
        detail: `speed-up / 2 cores; ${cond}`,
      });
      out.push({
        id: 'parallel.sweep.speedup_vs_serial',
        label: 'Speed-up of 2 workers over serial main thread',
        value: tS / t2,
        unit: 'x',
        detail: `median(serial) / median(2 workers); ${cond}`,
      });
      data.release();

      // ---- 1M bars to 2 workers: shared vs structured clone ---------------------------------
      const big = generateOhlcv({ bars: 1_000_000, seed: 5 });
      const bigShared = SharedColumns.from(big);
      const plain = {
        time: big.time,
        open: big.open,
        high: big.high,
        low: big.low,
        close: big.close,
        volume: big.volume,
      };
      const sanity = await Promise.all([
        pool2.run(TOUCH_SHARED, null, { shared: bigShared }),
        pool2.run(TOUCH_SHARED, null, { shared: bigShared }),
      ]);
      ctx.log(`shared delivery reached threads ${sanity.map((s) => s[0]).join(', ')}`);
      const shared = await benchmark(
        async () => {
          // A fresh id each time: both workers must fetch the dataset (the one-time cost per worker).
          const fresh = SharedColumns.wrap(bigShared.buffer, bigShared.length);
          await Promise.all([
            pool2.run(TOUCH_SHARED, null, { shared: fresh }),
            pool2.run(TOUCH_SHARED, null, { shared: fresh }),
          ]);
          fresh.release();
        },
        { name: 'shared 1M bars to 2 workers', timeMs },
      );
      const cloned = await benchmark(
        () => Promise.all([pool2.run(TOUCH_CLONED, plain), pool2.run(TOUCH_CLONED, plain)]),
        {
          name: 'structured clone 1M bars to 2 workers',
          timeMs: ctx.quick ? timeMs : timeMs * 2,
          iterations: ctx.quick ? 2 : 5,
        },
      );
      const noData = await benchmark(() => Promise.all([pool2.run(NOOP, 1), pool2.run(NOOP, 1)]), {
        name: '2 tasks, no data',
        timeMs,
      });
      out.push(
        timeMeasurement(
          'parallel.data.shared_1m_ms',
          '1M bars to 2 workers, SharedColumns (goal < 1 ms)',
          shared,
          'ms',
        ),
      );
      out.push(
        timeMeasurement(
          'parallel.data.clone_1m_ms',
          '1M bars to 2 workers, structured clone',
          cloned,
          'ms',
        ),
      );
      out.push(
        timeMeasurement(
          'parallel.data.no_data_ms',
          '2 tasks to 2 workers, no data (dispatch floor)',
          noData,
          'ms',
        ),
      );
      out.push({
        id: 'parallel.data.shared_vs_clone',
        label: 'Shared delivery time / structured clone time',
        value: shared.stats.median / cloned.stats.median,
        unit: 'x',
        detail: 'median ratio; 1M bars × 6 float64 columns (48 MB)',
      });
      bigShared.release();

      // ---- Warm dispatch overhead -------------------------------------------------------------
      // 50 round trips back to back per sample: submit → the worker runs a no-op → the result is
      // back on this thread, then the next one. Each task waits for the previous one, so this is
      // the full per-task cost of dispatching to a worker that is already running. (Timed one per
      // sample, the worker idles between samples and the figure includes its wake-up from sleep:
      // that is `idle_task_us` below.)
      // A cross-thread round trip whose threads sleep between messages pays two wake-ups (worker,
      // then main thread); on a VM an idle vCPU halts and waking it goes through the hypervisor,
      // 20 µs per round trip when the machine is busy, 50-80 µs when it is idle. The pool avoids
      // both while tasks are short (`spinMicros`: the worker polls for its next task, this thread
      // for the result). Alternated in the same conditions: the same pool with `spinMicros: 0`
      // (both threads sleep) and a bare worker_threads postMessage ping-pong (no piscina, no pool;
      // both threads sleep): what sleeping costs on this machine at that moment. The pool's loop
      // is also timed as CPU time of all threads (polling trades CPU time for the wake-ups).
      const ROUND_TRIPS = 50;
      const ping = new Worker(
        "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));",
        { eval: true },
      );
      const pingOnce = (i: number): Promise<unknown> =>
        new Promise((resolve) => {
          ping.once('message', resolve);
          ping.postMessage(i);
        });
      const taskMedians: number[] = [];
      const sleepingMedians: number[] = [];
      const pingMedians: number[] = [];
      const sleeping = new WorkerPool({ maxWorkers: 1, minWorkers: 1, spinMicros: 0 });
      let cpuUsTotal = 0;
      let cpuTrips = 0;
      try {
        await pool1.run(NOOP, 0);
        await sleeping.run(NOOP, 0);
        await pingOnce(0);
        for (let r = 0; r < 3; r++) {
          const trips = await benchmark(
            async () => {
              const c0 = process.cpuUsage();
              for (let i = 0; i < ROUND_TRIPS; i++) await pool1.run(NOOP, i);
              const c = process.cpuUsage(c0);
              cpuUsTotal += c.user + c.system;
              cpuTrips += ROUND_TRIPS;
            },
            { name: 'warm round trips ×50', timeMs },
          );
          const slept = await benchmark(
            async () => {
              for (let i = 0; i < ROUND_TRIPS; i++) await sleeping.run(NOOP, i);
            },
            { name: 'warm round trips ×50, spinMicros 0', timeMs },
          );
          const floor = await benchmark(
            async () => {
              for (let i = 0; i < ROUND_TRIPS; i++) await pingOnce(i);
            },
            { name: 'bare postMessage ping-pong ×50', timeMs },
          );
          taskMedians.push(trips.stats.median);
          sleepingMedians.push(slept.stats.median);
          pingMedians.push(floor.stats.median);
        }
      } finally {
        await Promise.all([ping.terminate(), sleeping.close()]);
      }
      out.push(
        perItem(
          'parallel.dispatch.task_us',
          'Warm dispatch, one task at a time (goal ≤ 50 µs)',
          median(taskMedians),
          ROUND_TRIPS,
          'full round trip (submit → no-op on the worker → result on the main thread), 50 sequential per sample to one warm worker, default spinMicros (100); median of 3 benchmark medians (alternated with the two below) / 50',
        ),
      );
      out.push({
        id: 'parallel.dispatch.task_cpu_us',
        label: 'Warm dispatch, CPU time per round trip, all threads',
        value: cpuUsTotal / cpuTrips,
        unit: 'us',
        detail: `process.cpuUsage (main + worker) over the task_us loop, mean of ${cpuTrips} round trips incl. warm-up; includes both threads' polling and any system time spent waking threads`,
      });
      out.push(
        perItem(
          'parallel.dispatch.task_sleeping_us',
          'Warm dispatch, one task at a time, spinMicros 0 (both threads sleep)',
          median(sleepingMedians),
          ROUND_TRIPS,
          'as task_us, on a second 1-worker pool that never polls; alternated with task_us',
        ),
      );
      out.push(
        perItem(
          'parallel.dispatch.pingpong_us',
          'Bare worker_threads postMessage ping-pong round trip (both threads sleep)',
          median(pingMedians),
          ROUND_TRIPS,
          'an echo worker without piscina or the pool, alternated with task_us; what a round trip between sleeping threads costs on this machine at that moment',
        ),
      );
      // A task to a worker that has gone to sleep: each sample waits 2 ms first, longer than the
      // pool's spinMicros (100 µs), so the worker has stopped polling for a next task.
      const IDLE_SAMPLES = ctx.quick ? 40 : 150;
      const idleUs: number[] = [];
      for (let i = 0; i < IDLE_SAMPLES; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        const t0 = process.hrtime.bigint();
        await pool1.run(NOOP, i);
        idleUs.push(Number(process.hrtime.bigint() - t0) / 1e3);
      }
      out.push({
        id: 'parallel.dispatch.idle_task_us',
        label: 'One task to a worker that has gone to sleep (includes its wake-up)',
        value: median(idleUs),
        unit: 'us',
        detail: `median of ${IDLE_SAMPLES} single round trips, each after 2 ms of idling (the worker polls for ${pool1.spinMicros} µs after a task)`,
      });
      const BURST = 1000;
      const burstInput = Array.from({ length: BURST }, (_, i) => i);
      const burst = await benchmark(() => Promise.all(burstInput.map((i) => pool2.run(NOOP, i))), {
        name: 'burst of 1000 tasks',
        timeMs,
      });
      out.push(
        perItem(
          'parallel.dispatch.burst_task_us',
          'Dispatch per task, 1000 in flight on 2 workers',
          burst.stats.median,
          BURST,
          'median / 1000',
        ),
      );

      const STRATS = ctx.quick ? 20_000 : 100_000;
      const noopSpecs = smaPairs(STRATS).map((s, i) => ({
        ...(s as { fast: number }),
        kind: 'sma-cross' as const,
        slow: 10_000 + i,
      }));
      const tiny = SharedColumns.from(generateOhlcv({ bars: 100, seed: 1 }));
      let cpuUs = 0;
      let cpuRuns = 0;
      const perStrategy = await benchmark(
        async () => {
          const c0 = process.cpuUsage();
          await parallelBacktest(noopSpecs as never[], tiny, NOOP_BACKTEST, {
            backend: localBackend({ pool: pool2, verifyData: false }),
          });
          const c = process.cpuUsage(c0);
          cpuUs += c.user + c.system;
          cpuRuns++;
        },
        { name: 'per strategy after chunking', timeMs, iterations: ctx.quick ? 2 : 5 },
      );
      out.push(
        perItem(
          'parallel.dispatch.strategy_us',
          'Overhead per strategy after automatic chunking (goal ≤ 1 µs)',
          perStrategy.stats.median,
          STRATS,
          `${STRATS} no-op strategies on 2 workers, median / ${STRATS}`,
        ),
      );
      out.push({
        id: 'parallel.dispatch.strategy_cpu_us',
        label: 'CPU time per strategy after chunking, all threads',
        value: cpuUs / cpuRuns / STRATS,
        unit: 'us',
        detail: `process.cpuUsage (main + 2 workers) / ${STRATS} no-op strategies, mean of ${cpuRuns} runs incl. warmup; less sensitive to a busy machine than wall time`,
      });
      tiny.release();
      const ITEMS = 100_000;
      const items = Array.from({ length: ITEMS }, (_, i) => i);
      const mapped = await benchmark(() => mapCpu(items, NOOP, { pool: pool2 }), {
        name: 'mapCpu 100k tiny items',
        timeMs,
        iterations: ctx.quick ? 2 : 5,
      });
      out.push(
        perItem(
          'parallel.mapcpu.item_us',
          'mapCpu per tiny item (auto chunking, 2 workers)',
          mapped.stats.median,
          ITEMS,
          `median / ${ITEMS}`,
        ),
      );

      // ---- mapIo / limit overhead ---------------------------------------------------------------
      const ioItems = Array.from({ length: ITEMS }, (_, i) => i);
      // An async no-op: the figure includes the task's own promise, so it is an upper bound on overhead.
      const ioFn = (x: number): Promise<number> => Promise.resolve(x);
      const io = await benchmark(() => mapIo(ioItems, ioFn, { concurrency: 64 }), {
        name: 'mapIo 100k',
        timeMs,
      });
      out.push(
        perItem(
          'parallel.mapio.task_us',
          'mapIo overhead per task, 100k items (goal ≤ 2 µs)',
          io.stats.median,
          ITEMS,
          'concurrency 64, async no-op fn',
        ),
      );
      const limited = await benchmark(
        () => {
          const limit = createLimit(64);
          const ps = new Array<Promise<number>>(ITEMS);
          for (let i = 0; i < ITEMS; i++) ps[i] = limit(ioFn, i);
          return Promise.all(ps);
        },
        { name: 'limit 100k queued', timeMs },
      );
      out.push(
        perItem(
          'parallel.limit.task_us',
          'createLimit overhead per call, 100k queued (goal ≤ 2 µs)',
          limited.stats.median,
          ITEMS,
          'concurrency 64, async no-op fn',
        ),
      );

      const m = pool2.metrics();
      ctx.log(
        `pool2 metrics: completed ${m.completed}, failed ${m.failed}, utilisation ${(100 * m.utilisation).toFixed(0)}%, ` +
          `queue wait p50/p99 ${m.queueWaitMs.p50.toFixed(3)}/${m.queueWaitMs.p99.toFixed(3)} ms, run p50/p99 ${m.runTimeMs.p50.toFixed(3)}/${m.runTimeMs.p99.toFixed(3)} ms`,
      );
      return out;
    } finally {
      await Promise.all([pool1.close({ force: true }), pool2.close({ force: true })]);
    }
  },
});
