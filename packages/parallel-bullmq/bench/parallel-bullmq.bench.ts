// The 1,000-pair SMA sweep over 100k bars: BullMQ with 2 worker processes on this machine,
// against the local piscina backend with 2 threads, in the same run.
import { randomBytes } from 'node:crypto';
import { generateOhlcv } from '@peaktrade/backtest';
import {
  bootstrapRatioCI,
  defineBenchSuite,
  nowNs,
  summarize,
  type Measurement,
} from '@peaktrade/bench-harness';
import { SharedColumns, WorkerPool, localBackend, parallelBacktest } from '@peaktrade/parallel';
import { deleteKeys } from '@peaktrade/test-redis';
import { bullmqBackend } from '../src/index.js';
import { startWorkerProcess, workerCliArgs } from '../test/workers.js';

export default defineBenchSuite({
  name: 'parallel-bullmq',
  description: 'SMA sweep with 2 BullMQ worker processes vs the local 2-thread pool',
  requires: ['redis'],
  async run(ctx) {
    const url = ctx.redisUrl!;
    const tag = randomBytes(4).toString('hex');
    const queue = `pt-bench-${tag}`;
    const prefix = `pt-bench-bq:${tag}`;
    const pairs = ctx.quick ? 100 : 1000;
    const bars = 100_000;
    const data = SharedColumns.from(generateOhlcv({ bars, seed: 5 }));
    const strategies = Array.from({ length: pairs }, (_, i) => ({
      kind: 'sma-cross' as const,
      fast: 5 + (i % 40),
      slow: 50 + Math.floor(i / 40) * 4,
    }));
    const fn = { module: import.meta.resolve('@peaktrade/backtest'), export: 'backtest' };
    const args = workerCliArgs({ redis: url, queue, prefix, module: fn.module, concurrency: 1 });
    const workers = await Promise.all([startWorkerProcess(args), startWorkerProcess(args)]);
    const backend = bullmqBackend({
      connection: url,
      queueName: queue,
      keyPrefix: prefix,
    });
    const pool = new WorkerPool({ maxWorkers: 2, minWorkers: 2 });
    const out: Measurement[] = [];
    try {
      const check = (outcomes: { ok: boolean }[]) => {
        if (outcomes.length !== pairs || !outcomes.every((o) => o.ok))
          throw new Error('sweep lost or failed strategies');
      };
      const iterations = ctx.quick ? 3 : 7;
      const runLocal = async () =>
        check(await parallelBacktest(strategies, data, fn, { backend: localBackend({ pool }) }));
      const runRemote = async () =>
        check(await parallelBacktest(strategies, data, fn, { backend }));
      const timed = async (run: () => Promise<void>) => {
        const t0 = nowNs();
        await run();
        return nowNs() - t0;
      };
      // One warm-up call each (the BullMQ one uploads the dataset), then rounds that run both
      // backends back to back, in alternating order (local, bullmq / bullmq, local, ...). On a
      // shared machine the load drifts over seconds; measuring all local runs first and all BullMQ
      // runs after let that drift land on one side only, so the ratio moved with the neighbours'
      // load. Interleaved, both backends see the same conditions.
      ctx.log(`warm-up, ${pairs} pairs × ${bars} bars`);
      await runLocal();
      await runRemote();
      const localNs: number[] = [];
      const remoteNs: number[] = [];
      for (let round = 0; round < iterations; round++) {
        if (round % 2 === 0) {
          localNs.push(await timed(runLocal));
          remoteNs.push(await timed(runRemote));
        } else {
          remoteNs.push(await timed(runRemote));
          localNs.push(await timed(runLocal));
        }
        const l = localNs[round]! / 1e6;
        const r = remoteNs[round]! / 1e6;
        ctx.log(
          `round ${round + 1}/${iterations}: local ${l.toFixed(1)} ms, bullmq ${r.toFixed(1)} ms (${(r / l).toFixed(2)}x)`,
        );
      }
      const local = summarize(localNs);
      const remote = summarize(remoteNs);
      const ms = (ns: number) => ns / 1e6;
      const detail = `median of ${iterations} runs, interleaved with the other backend's`;
      out.push({
        id: 'parallel-bullmq.sweep.local',
        label: `Sweep ${pairs} pairs × 100k bars, local pool (2 threads)`,
        value: ms(local.median),
        unit: 'ms',
        ci: [ms(local.ci95[0]), ms(local.ci95[1])],
        detail,
      });
      out.push({
        id: 'parallel-bullmq.sweep.bullmq',
        label: `Sweep ${pairs} pairs × 100k bars, BullMQ (2 worker processes × 1 thread)`,
        value: ms(remote.median),
        unit: 'ms',
        ci: [ms(remote.ci95[0]), ms(remote.ci95[1])],
        detail,
      });
      const ci = bootstrapRatioCI(remoteNs, localNs);
      out.push({
        id: 'parallel-bullmq.sweep.overhead',
        label: 'Distributed overhead: BullMQ time / local pool time',
        value: remote.median / local.median,
        unit: 'x',
        ci: [ci[0], ci[1]],
        detail: `median / median of ${iterations} runs each, in alternating rounds, same machine, same Redis, dataset already uploaded after the warm-up`,
      });
      out.push({
        id: 'parallel-bullmq.dataset.uploads',
        label: 'Dataset uploads over all sweeps',
        value: backend.stats().uploads,
        unit: 'count',
      });
      return out;
    } finally {
      await backend.close();
      await pool.close();
      await Promise.all(workers.map((w) => w.stop('SIGKILL')));
      await deleteKeys(url, `${prefix}:*`, `bull:${queue}:*`);
    }
  },
});
