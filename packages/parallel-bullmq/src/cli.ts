#!/usr/bin/env node
// peaktrade-worker: start a BullMQ worker for parallelBacktest on this host.
import { parseArgs } from 'node:util';
import { startWorker } from './worker.js';

const HELP = `peaktrade-worker — run parallelBacktest jobs from a BullMQ queue on this host

Usage:
  peaktrade-worker --redis <url> --module <file|package> [options]

Options:
  --redis <url>          Redis URL (default $REDIS_URL or redis://127.0.0.1:6379)
  --module <spec>        module whose exports jobs call as fn(data, strategy, options),
                         e.g. ./my-backtests.js or @peaktrade/backtest (required)
  --queue <name>         queue name (default peaktrade-backtest)
  --prefix <prefix>      key prefix for datasets and results (default peaktrade)
  --concurrency <n>      jobs at once (default 2)
  --threads <n>          worker threads of the local pool (default: CPU count)
  --lock-ms <ms>         a job whose worker dies is taken over after this (default 5000)
  --help

Stops gracefully on SIGTERM/SIGINT: active jobs finish (a second signal hands them back).

Example:
  peaktrade-worker --redis redis://10.0.0.5:6379 --module @peaktrade/backtest --concurrency 2
`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        redis: { type: 'string' },
        module: { type: 'string' },
        queue: { type: 'string' },
        prefix: { type: 'string' },
        concurrency: { type: 'string' },
        threads: { type: 'string' },
        'lock-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`peaktrade-worker: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.module) {
    process.stderr.write(`peaktrade-worker: --module is required\n\n${HELP}`);
    return 2;
  }
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };
  const log = (line: string) => process.stderr.write(`[peaktrade-worker] ${line}\n`);
  let worker;
  try {
    const concurrency = int('concurrency', values.concurrency);
    const threads = int('threads', values.threads);
    const lockDurationMs = int('lock-ms', values['lock-ms']);
    worker = await startWorker({
      connection: values.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      module: values.module,
      log,
      ...(values.queue ? { queueName: values.queue } : {}),
      ...(values.prefix ? { keyPrefix: values.prefix } : {}),
      ...(concurrency ? { concurrency } : {}),
      ...(threads ? { threads } : {}),
      ...(lockDurationMs ? { lockDurationMs } : {}),
    });
  } catch (error) {
    process.stderr.write(`peaktrade-worker: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`ready ${worker.id}\n`);
  let signals = 0;
  await new Promise<void>((resolve) => {
    const stop = () => {
      signals++;
      log(
        signals === 1
          ? 'stopping: finishing active jobs (signal again to hand them back)'
          : 'stopping now: handing active jobs back',
      );
      void worker.close(signals > 1).then(resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  log(`stopped after ${worker.jobsDone()} jobs`);
  return 0;
}

process.exitCode = await main();
