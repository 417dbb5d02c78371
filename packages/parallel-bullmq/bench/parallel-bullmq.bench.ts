// The 1,000-pair SMA sweep over 100k bars: BullMQ with 2 worker processes on this machine,
// against the local piscina backend with 2 threads, in the same run.
import { randomBytes } from 'node:crypto';
import { generateOhlcv } from '@peaktrade/backtest';
import {
  benchmark,
  defineBenchSuite,
  timeMeasurement,
  type Measurement,
} from '@peaktrade/bench-harness';
import { SharedColumns, WorkerPool, localBackend, parallelBacktest } from '@peaktrade/parallel';
import { deleteKeys } from '@peaktrade/test-redis';
import { bullmqBackend } from '../src/index.js';
import { startWorkerProcess } from '../test/workers.js';

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
    const args = [
      '--redis',
      url,
      '--module',
      fn.module,
      '--queue',
      queue,
      '--prefix',
      prefix,
      '--threads',
      '1',
      '--concurrency',
      '1',
    ];
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
      ctx.log(`local pool, ${pairs} pairs × ${bars} bars`);
      const local = await benchmark(
        async () =>
          check(await parallelBacktest(strategies, data, fn, { backend: localBackend({ pool }) })),
        { name: 'local 2 threads', iterations, warmup: 1 },
      );
      ctx.log(`bullmq, 2 worker processes`);
      const remote = await benchmark(
        async () => check(await parallelBacktest(strategies, data, fn, { backend })),
        { name: 'bullmq 2 processes', iterations, warmup: 1 },
      );
      out.push(
        timeMeasurement(
          'parallel-bullmq.sweep.local',
          `Sweep ${pairs} pairs × 100k bars, local pool (2 threads)`,
          local,
          'ms',
        ),
      );
      out.push(
        timeMeasurement(
          'parallel-bullmq.sweep.bullmq',
          `Sweep ${pairs} pairs × 100k bars, BullMQ (2 worker processes × 1 thread)`,
          remote,
          'ms',
        ),
      );
      out.push({
        id: 'parallel-bullmq.sweep.overhead',
        label: 'Distributed overhead: BullMQ time / local pool time',
        value: remote.stats.median / local.stats.median,
        unit: 'x',
        detail: `median of ${iterations} runs each, same machine, same Redis, dataset already uploaded after the warm-up`,
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
