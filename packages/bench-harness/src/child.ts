/**
 * Entry point of an isolated benchmark child process (forked by `isolate.ts`). It receives one
 * job over IPC, imports the benches module, measures one variant and sends the result back.
 * @internal
 */
import { pathToFileURL } from 'node:url';
import { benchmark, type BenchFn } from './benchmark.js';

/** The job a parent sends. @internal */
export interface ChildJob {
  readonly module: string;
  readonly exportName: string;
  readonly variant: string;
  readonly timeMs: number;
  readonly seed: number;
}

async function loadBenches(job: ChildJob): Promise<Record<string, BenchFn>> {
  const url = job.module.startsWith('file:') ? job.module : pathToFileURL(job.module).href;
  const mod = (await import(url)) as Record<string, unknown>;
  let exported = mod[job.exportName];
  if (typeof exported === 'function') exported = await (exported as () => unknown)();
  if (exported === null || typeof exported !== 'object') {
    throw new Error(
      `module ${job.module} has no export "${job.exportName}" holding a record of benchmark functions`,
    );
  }
  return exported as Record<string, BenchFn>;
}

async function runJob(job: ChildJob): Promise<void> {
  const benches = await loadBenches(job);
  const fn = benches[job.variant];
  if (typeof fn !== 'function')
    throw new Error(`export "${job.exportName}" has no function "${job.variant}"`);
  const result = await benchmark(fn, { name: job.variant, timeMs: job.timeMs, seed: job.seed });
  process.send!({ ok: true, result });
}

process.once('message', (job: ChildJob) => {
  runJob(job).then(
    () => process.disconnect(),
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      process.send!({ ok: false, message: e.message, stack: e.stack ?? '' }, () =>
        process.disconnect(),
      );
    },
  );
});
