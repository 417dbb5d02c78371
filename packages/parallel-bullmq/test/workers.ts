import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const tasksModule = fileURLToPath(new URL('./fixtures/tasks.mjs', import.meta.url));

/** Command-line arguments of `peaktrade-worker` for tests and benchmarks (one thread by default). */
export function workerCliArgs(o: {
  readonly redis: string;
  readonly queue: string;
  readonly prefix: string;
  readonly module?: string;
  readonly threads?: number;
  readonly concurrency?: number;
  readonly lockMs?: number;
  readonly extra?: readonly string[];
}): string[] {
  return [
    '--redis',
    o.redis,
    '--module',
    o.module ?? tasksModule,
    '--queue',
    o.queue,
    '--prefix',
    o.prefix,
    '--threads',
    String(o.threads ?? 1),
    ...(o.concurrency === undefined ? [] : ['--concurrency', String(o.concurrency)]),
    ...(o.lockMs === undefined ? [] : ['--lock-ms', String(o.lockMs)]),
    ...(o.extra ?? []),
  ];
}

/** A peaktrade-worker child process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Start `peaktrade-worker` with the given arguments and wait for its "ready" line. */
export function startWorkerProcess(args: string[]): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const proc: WorkerProcess = {
    child,
    log: () => err,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          resolve(child.exitCode);
          return;
        }
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready ')) resolve(proc);
    });
    child.once('exit', (code) => reject(new Error(`peaktrade-worker exited with ${code}: ${err}`)));
  });
}

/** Run the CLI to completion (for start-up errors) and collect its exit code and stderr. */
export function runCli(
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: err });
    });
  });
}
