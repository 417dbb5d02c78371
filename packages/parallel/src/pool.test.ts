import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { threadId, type Worker, type WorkerOptions } from 'node:worker_threads';
import { accelSettings, cpuTopology } from '@peaktrade/numeric-accel';
import { defaultConfig } from '@peaktrade/config';
import { afterEach, describe, expect, it } from 'vitest';
import { TASKS, task, until } from '../test/helpers.js';
import {
  AbortError,
  InvalidOptionError,
  NotCloneableError,
  PoolClosedError,
  QueueFullError,
  SharedColumns,
  TaskFailedError,
  TaskLoadError,
  WorkerCrashedError,
  WorkerPool,
  loadTask,
  taskRef,
} from './index.js';
import { piscinaErrorKind } from './pool.js';

/**
 * Make the next worker thread piscina starts die during its start-up, before it can take a task:
 * `'exit'` calls `process.exit(5)`, `'throw'` throws, first thing. It is a real thread, started
 * through a stand-in for `worker_threads.Worker` (the class piscina looks up at each start) that
 * gives it that code instead of piscina's worker entry. Returns the undo.
 */
function dyingWorkers(how: 'exit' | 'throw'): () => void {
  // The builtin's own exports object, which piscina (CommonJS) reads `Worker` from.
  const workerThreads = createRequire(import.meta.url)('node:worker_threads') as {
    Worker: typeof Worker;
  };
  const RealWorker = workerThreads.Worker;
  let armed = true;
  workerThreads.Worker = class extends RealWorker {
    constructor(filename: string | URL, options?: WorkerOptions) {
      if (!armed) {
        super(filename, options);
        return;
      }
      armed = false;
      const code = how === 'exit' ? 'process.exit(5)' : "throw new Error('start-up failed')";
      super(code, { ...options, eval: true });
    }
  };
  return () => {
    workerThreads.Worker = RealWorker;
  };
}

/** `promise`'s outcome, or `'still pending after 5 s'` (a hang fails the test with a clear value). */
function settledWithin5s(promise: Promise<unknown>): Promise<unknown> {
  return Promise.race([
    promise.then(
      (value: unknown) => ({ value }),
      (error: unknown) => error,
    ),
    new Promise((resolve) => setTimeout(() => resolve('still pending after 5 s'), 5000)),
  ]);
}

const pools: WorkerPool[] = [];
function pool(options: ConstructorParameters<typeof WorkerPool>[0] = {}): WorkerPool {
  const p = new WorkerPool({ maxWorkers: 2, ...options });
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close({ force: true })));
});

describe('WorkerPool', () => {
  it('runs an exported function on a worker thread and returns its result', async () => {
    const p = pool();
    expect(await p.run(task<(x: number) => number>('double'), 21)).toBe(42);
    const tid = await p.run(task('whoAmI'), undefined);
    expect(tid).not.toBe(threadId);
  });

  it('loads the ES module worker with import(), never through require(esm) (a Node 20 race there aborts the process)', async () => {
    const p = pool({ maxWorkers: 1 });
    const files = await p.run(task<() => string[]>('requiredFiles'), undefined);
    // piscina require()s its worker file: that is the CommonJS entry, which imports the ES module worker
    expect(files.some((f) => f.endsWith('worker-entry.cjs'))).toBe(true);
    expect(files).not.toContain(fileURLToPath(new URL('../dist/worker.js', import.meta.url)));
  });

  it('rejects a throwing task with TaskFailedError carrying the remote name and code, and the worker survives', async () => {
    const p = pool({ maxWorkers: 1 });
    const before = await p.run(task('whoAmI'), undefined);
    const error = await p.run(task('failOn'), 13).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).remoteName).toBe('RangeError');
    expect((error as TaskFailedError).remoteCode).toBe('E_TEST_BAD');
    expect((error as TaskFailedError).message).toContain('bad item 13');
    expect(await p.run(task('whoAmI'), undefined)).toBe(before);
    expect(p.metrics()).toMatchObject({ completed: 2, failed: 1, crashed: 0 });
  });

  it('reports a missing export or module with TaskLoadError naming what exists', async () => {
    const p = pool({ maxWorkers: 1 });
    const missing = await p.run(task('nope'), 1).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TaskLoadError);
    expect((missing as Error).message).toMatch(/no exported function 'nope'.*double/);
    const notFn = await p.run(task('notAFunction'), 1).catch((e: unknown) => e);
    expect(notFn).toBeInstanceOf(TaskLoadError);
    const noModule = await p
      .run(taskRef(new URL('./fixtures/absent.mjs', TASKS), 'x'), 1)
      .catch((e: unknown) => e);
    expect(noModule).toBeInstanceOf(TaskLoadError);
    expect((noModule as Error).message).toContain('absent.mjs');
  });

  it('survives a worker that throws outside a task: only that task fails, the next ones succeed', async () => {
    const p = pool();
    const [crash, other] = await Promise.allSettled([
      p.run(task('throwOutside'), undefined),
      p.run(task('spin'), 100),
    ]);
    expect(crash.status).toBe('rejected');
    const error = (crash as PromiseRejectedResult).reason as WorkerCrashedError;
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect(error.reason).toBe('uncaught');
    expect(error.message).toContain('thrown from a timer');
    expect(other).toEqual({ status: 'fulfilled', value: 100 });
    const after = await Promise.all([1, 2, 3, 4].map((x) => p.run(task('double'), x)));
    expect(after).toEqual([2, 4, 6, 8]);
    expect(p.metrics()).toMatchObject({ crashed: 1, failed: 1 });
  });

  it('reports a worker that dies while idle as workerCrash, without failing a later task', async () => {
    const p = pool({ maxWorkers: 1 });
    const crashes: Error[] = [];
    p.on('workerCrash', (error) => crashes.push(error));
    expect(await p.run(task('throwLater'), 5)).toBe('done');
    await until(() => p.metrics().idleCrashes === 1);
    expect(crashes[0]?.message).toContain('late throw');
    expect(await p.run(task('double'), 3)).toBe(6);
    expect(p.metrics()).toMatchObject({ failed: 0, crashed: 0, idleCrashes: 1 });
  });

  it('does not count a reply that arrives just after its task was aborted as a worker crash', async () => {
    const p = pool({ maxWorkers: 1 });
    const crashes: Error[] = [];
    p.on('workerCrash', (error) => crashes.push(error));
    for (let i = 0; i < 4; i++) {
      expect(await p.run(task('double'), i)).toBe(2 * i); // a warm worker takes the next task at once
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const controller = new AbortController();
      const aborted = p
        .run(task('flagThenReturn'), flag.buffer, { signal: controller.signal })
        .catch((e: unknown) => e);
      // Block this thread until the worker has finished the task, then a little longer so its
      // reply is queued on our side, and abort before the reply can be read: piscina terminates
      // the worker and then receives a reply for a task it no longer knows.
      Atomics.wait(flag, 0, 0, 10_000);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30);
      controller.abort();
      expect(await aborted).toBeInstanceOf(AbortError);
    }
    // At least one of the replies arrived late (else this test proved nothing); none is a crash.
    await until(() => p.metrics().lateReplies + p.metrics().idleCrashes >= 1);
    expect(await p.run(task('double'), 5)).toBe(10);
    expect(crashes).toEqual([]);
    expect(p.metrics()).toMatchObject({ idleCrashes: 0, crashed: 0, cancelled: 4 });
    expect(p.metrics().lateReplies).toBeGreaterThanOrEqual(1);
    // A genuine idle crash is still reported as one.
    expect(await p.run(task('throwLater'), 10)).toBe('done');
    await until(() => p.metrics().idleCrashes === 1);
    expect(crashes.map((e) => e.message)).toEqual(['late throw from a finished task']);
  });

  it("classifies piscina's 'error' events: a worker's own error is a crash, a late reply is not, the rest is other", () => {
    const late = new Error('Unexpected message from Worker: { taskId: 3, result: {} }');
    expect(piscinaErrorKind(new Error('x'), true)).toBe('crash');
    expect(piscinaErrorKind({ not: 'an error' }, true)).toBe('crash');
    expect(piscinaErrorKind(late, false)).toBe('late-reply');
    expect(piscinaErrorKind(new Error('Close operation timed out'), false)).toBe('other');
    expect(piscinaErrorKind('something new', false)).toBe('other');
  });

  it('names what was thrown when a worker dies of something that is not an Error', async () => {
    const p = pool({ maxWorkers: 1 });
    const dom = await p.run(task('throwValueOutside'), 'dom').catch((e: unknown) => e);
    expect(dom).toBeInstanceOf(WorkerCrashedError);
    expect(dom).toMatchObject({ reason: 'uncaught' });
    expect((dom as Error).message).toContain('DOMException: InvalidStateError: the widget is gone');
    const plain = await p.run(task('throwValueOutside'), 'object').catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(WorkerCrashedError);
    expect((plain as Error).message).toContain("{ code: 42, why: 'a plain object' }");
    expect((plain as Error).message).not.toContain('[object Object]');
    const crashes: Error[] = [];
    p.on('workerCrash', (error) => crashes.push(error));
    expect(await p.run(task('throwValueLater'), 5)).toBe('done');
    await until(() => crashes.length === 1);
    expect(crashes[0]).toBeInstanceOf(Error);
    expect(crashes[0]?.message).toContain("{ late: true, what: 'plain object' }");
    expect(p.metrics()).toMatchObject({ crashed: 2, idleCrashes: 1 });
  });

  it('rejects an input that cannot be cloned with NotCloneableError naming the task; the worker is kept', async () => {
    const p = pool({ maxWorkers: 1 });
    const crashes: Error[] = [];
    p.on('workerCrash', (error) => crashes.push(error));
    const before = await p.run(task('whoAmI'), undefined);
    class Holder {
      readonly callback = (): number => 1;
    }
    const inputs: unknown[] = [{ fn() {} }, Symbol('s'), new WeakMap(), new Holder()];
    for (const input of inputs) {
      const error = await p.run(task('echo'), input).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotCloneableError);
      const e = error as NotCloneableError;
      expect(e.direction).toBe('input');
      expect(e.task).toBe(`${TASKS.href}#echo`);
      expect(e.index).toBeUndefined();
      expect(e.message).toMatch(/^Cannot send the input of .*tasks\.mjs#echo to a worker thread/);
      expect((e.cause as Error).name).toBe('DataCloneError');
    }
    expect(await p.run(task('whoAmI'), undefined)).toBe(before);
    expect(await p.run(task('double'), 2)).toBe(4);
    expect(p.metrics()).toMatchObject({ failed: 4, crashed: 0, idleCrashes: 0 });
    expect(crashes).toEqual([]);
  });

  it('rejects an input whose getter throws while it is cloned with NotCloneableError (cause: the getter error); the worker is kept (workers and inline)', async () => {
    const messages: string[] = [];
    for (const inline of [false, true]) {
      const p = pool({ inline, maxWorkers: 1 });
      const crashes: Error[] = [];
      p.on('workerCrash', (error) => crashes.push(error));
      const before = await p.run(task('whoAmI'), undefined);
      const boom = new Error('boom');
      const input = {
        ok: 1,
        get x(): number {
          throw boom;
        },
      };
      const error = await p.run(task('echo'), input).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotCloneableError);
      const e = error as NotCloneableError;
      expect(e).toMatchObject({ direction: 'input', part: 'the input', index: undefined });
      expect(e.cause).toBe(boom);
      expect(e.message).toMatch(
        /^Cannot send the input of .*tasks\.mjs#echo to a worker thread: reading the input threw while it was being structured-cloned \(Error: boom\)/,
      );
      // A getter on the way back fails the same way, named as the result.
      const result = await p.run(task('returnThrowingGetter'), undefined).catch((e: unknown) => e);
      expect(result).toBeInstanceOf(NotCloneableError);
      expect(result).toMatchObject({ direction: 'result', part: 'the result' });
      expect((result as Error).message).toContain('(Error: result getter failed)');
      messages.push(e.message, (result as Error).message);
      expect(await p.run(task('whoAmI'), undefined)).toBe(before);
      expect(await p.run(task('double'), 2)).toBe(4);
      expect(p.metrics()).toMatchObject({ failed: 2, crashed: 0, idleCrashes: 0 });
      expect(crashes).toEqual([]);
    }
    expect(messages.slice(2)).toEqual(messages.slice(0, 2));
  });

  it('fails only the task whose result cannot be cloned back; the worker survives', async () => {
    const p = pool({ maxWorkers: 1 });
    const crashes: Error[] = [];
    p.on('workerCrash', (error) => crashes.push(error));
    const before = await p.run(task('whoAmI'), undefined);
    const error = await p.run(task('returnFunction'), undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotCloneableError);
    const e = error as NotCloneableError;
    expect(e.direction).toBe('result');
    expect(e.task).toBe(`${TASKS.href}#returnFunction`);
    expect(e.message).toMatch(/^Cannot send the result of .*#returnFunction back/);
    expect((e.cause as Error).name).toBe('DataCloneError');
    expect((e.cause as Error).message).toContain('could not be cloned');
    expect(await p.run(task('whoAmI'), undefined)).toBe(before);
    expect(await p.run(task('double'), 3)).toBe(6);
    expect(p.metrics()).toMatchObject({ completed: 3, failed: 1, crashed: 0, idleCrashes: 0 });
    expect(crashes).toEqual([]);
  });

  it('reports a worker that exits on its own while idle as workerCrash, and the next task runs', async () => {
    const p = pool({ maxWorkers: 1 });
    const crashes: Error[] = [];
    p.on('workerCrash', (error) => crashes.push(error));
    expect(await p.run(task('exitLater'), 20)).toBe('done');
    await until(() => p.metrics().idleCrashes === 1);
    expect(crashes).toHaveLength(1);
    expect(crashes[0]?.message).toMatch(/^Worker thread [1-9]\d* exited with code 3 while idle/);
    expect(await p.run(task('double'), 3)).toBe(6);
    expect(p.metrics()).toMatchObject({ failed: 0, crashed: 0, idleCrashes: 1 });
  });

  it('replaces a kept-alive worker that exits while idle', async () => {
    const p = pool({ maxWorkers: 1, minWorkers: 1 });
    const crashes: Error[] = [];
    p.on('workerCrash', (error) => crashes.push(error));
    const first = await p.run(task('whoAmI'), undefined);
    expect(await p.run(task('exitLater'), 20)).toBe('done');
    await until(() => p.metrics().idleCrashes === 1);
    // A replacement starts without waiting for a task.
    await until(() => p.threadCount === 1);
    const second = await p.run(task('whoAmI'), undefined);
    expect(second).not.toBe(first);
    expect(crashes).toHaveLength(1);
  });

  it('survives process.exit in a worker with a clear WorkerCrashedError', async () => {
    const p = pool({ maxWorkers: 1 });
    const error = await p.run(task('exitWorker'), 7).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect((error as WorkerCrashedError).reason).toBe('exit');
    expect((error as Error).message).toContain('code: 7');
    expect(await p.run(task('double'), 5)).toBe(10);
  });

  it('reports a worker that dies during a graceful close as crashed, not as closed by force', async () => {
    const p = pool({ maxWorkers: 1 });
    const crashing = p.run(task('exitWorker'), 7);
    const closing = p.close(); // graceful: the running task is let finish (here: crash)
    const error = await crashing.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect((error as WorkerCrashedError).reason).toBe('exit');
    await closing;
    expect(p.metrics()).toMatchObject({ failed: 1, crashed: 1, cancelled: 0 });
  });

  it('survives a worker running out of memory under resourceLimits', async () => {
    const p = pool({
      maxWorkers: 1,
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    const error = await p.run(task('allocateForever'), undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect((error as WorkerCrashedError).reason).toBe('oom');
    expect((error as Error).message).toContain('resourceLimits');
    expect(await p.run(task('double'), 6)).toBe(12);
  });

  it('fails the tasks, instead of hanging, when resourceLimits are too small for a worker to start', async () => {
    const p = pool({ maxWorkers: 2, resourceLimits: { maxOldGenerationSizeMb: 1 } });
    const outcomes = await Promise.allSettled([1, 2, 3].map((x) => p.run(task('double'), x)));
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      const error = (o as PromiseRejectedResult).reason as WorkerCrashedError;
      expect(error).toBeInstanceOf(WorkerCrashedError);
      expect(error.reason).toBe('oom');
    }
    expect(p.metrics()).toMatchObject({ running: 0, queued: 0, failed: 3, crashed: 3 });
    await p.close(); // graceful: must not wait for tasks that can never run
    expect(p.threadCount).toBe(0);
  });

  it('fails the waiting task, instead of hanging, when the worker started in place of a crashed one dies during start-up', async () => {
    // Both ways a task can kill its worker (exit at once; throw, then be terminated) and both
    // ways a start-up can end (exit; throw): the replacement started for the next task dies.
    for (const crash of ['exitWorker', 'throwOutside'] as const) {
      for (const how of ['exit', 'throw'] as const) {
        const p = pool({ maxWorkers: 1 });
        const crashes: Error[] = [];
        p.on('workerCrash', (error) => crashes.push(error));
        expect(await p.run(task('double'), 1)).toBe(2);
        const restore = dyingWorkers(how);
        let crashed: unknown;
        let waiting: unknown;
        try {
          const first = p.run(task(crash), 7);
          const next = p.run(task('double'), 2); // queued: needs the replacement
          crashed = await settledWithin5s(first);
          waiting = await settledWithin5s(next);
        } finally {
          restore();
        }
        expect(crashed).toBeInstanceOf(WorkerCrashedError);
        expect(waiting).toBeInstanceOf(WorkerCrashedError);
        const e = waiting as WorkerCrashedError;
        expect(e.reason).toBe(how === 'exit' ? 'exit' : 'uncaught');
        expect(e.message).toMatch(
          how === 'exit'
            ? /#double \(exit\): no worker could start to run it, so it never ran: Worker thread \d+ exited with code 5 during start-up/
            : /#double \(uncaught\): no worker could start to run it, so it never ran: Worker thread \d+ failed during start-up, before it could take a task: Error: start-up failed/,
        );
        expect(p.metrics()).toMatchObject({ running: 0, failed: 2, crashed: 2 });
        expect(crashes).toEqual([]);
        // The pool starts a sound worker for the next task.
        expect(await p.run(task('double'), 3)).toBe(6);
        await p.close();
        expect(p.threadCount).toBe(0);
      }
    }
  });

  it('reports a kept-alive worker replacement that dies during start-up as workerCrash', async () => {
    for (const how of ['exit', 'throw'] as const) {
      const p = pool({ maxWorkers: 1, minWorkers: 1 });
      const crashes: Error[] = [];
      p.on('workerCrash', (error) => crashes.push(error));
      expect(await p.run(task('double'), 1)).toBe(2);
      const restore = dyingWorkers(how);
      try {
        // The worker exits while idle; piscina starts a replacement at once (minWorkers), which dies.
        expect(await p.run(task('exitLater'), 20)).toBe('done');
        await until(() => p.metrics().idleCrashes === 2);
      } finally {
        restore();
      }
      expect(crashes[0]?.message).toMatch(/exited with code 3 while idle/);
      expect(crashes[1]?.message).toMatch(
        how === 'exit'
          ? /^Worker thread \d+ exited with code 5 during start-up, before it could take a task$/
          : /^Worker thread \d+ failed during start-up, before it could take a task: Error: start-up failed$/,
      );
      expect(await p.run(task('double'), 3)).toBe(6);
      expect(p.metrics()).toMatchObject({ failed: 0, crashed: 0, idleCrashes: 2 });
      await p.close();
      expect(p.threadCount).toBe(0);
    }
  });

  it('aborts a queued task without running it and a running task by terminating its worker', async () => {
    const p = pool({ maxWorkers: 1 });
    const running = new AbortController();
    const queued = new AbortController();
    const a = p.run(task('spin'), 1e9, { signal: running.signal });
    const b = p.run(task('double'), 1, { signal: queued.signal });
    await until(() => p.metrics().running === 1);
    expect(p.metrics().queued).toBe(1);
    queued.abort(new Error('not needed'));
    await expect(b).rejects.toBeInstanceOf(AbortError);
    expect(p.metrics().queued).toBe(0);
    running.abort();
    await expect(a).rejects.toBeInstanceOf(AbortError);
    expect(await p.run(task('double'), 4)).toBe(8);
    expect(p.metrics().cancelled).toBe(2);
    expect(p.metrics().idleCrashes).toBe(0); // terminated on purpose, not a crash
  });

  it('keeps its busy count right through crashes and aborts: a running task sees only itself', async () => {
    const p = pool({ maxWorkers: 1 });
    const counters = async (): Promise<number[]> =>
      (await p.run(task('poolCounters'), 0)) as number[];
    expect((await counters())[1]).toBe(1);
    const running = new AbortController();
    const a = p.run(task('spin'), 1e9, { signal: running.signal });
    await until(() => p.metrics().running === 1);
    running.abort();
    await expect(a).rejects.toBeInstanceOf(AbortError);
    await expect(p.run(task('exitWorker'), 3)).rejects.toBeInstanceOf(WorkerCrashedError);
    await expect(p.run(task('failOn'), 13)).rejects.toThrow(/bad item 13/);
    const [, busy, polling] = await counters();
    expect(busy).toBe(1);
    expect(polling).toBe(0);
  });

  it("rejects with QueueFullError beyond maxQueue when onQueueFull is 'reject'", async () => {
    const p = pool({ maxWorkers: 1, maxQueue: 2, onQueueFull: 'reject' });
    const accepted = [p.run(task('spin'), 30), p.run(task('double'), 1), p.run(task('double'), 2)];
    await expect(p.run(task('double'), 3)).rejects.toBeInstanceOf(QueueFullError);
    expect(await Promise.all(accepted)).toEqual([30, 2, 4]);
  });

  it("parks submitters beyond maxQueue when onQueueFull is 'wait' and runs them in order", async () => {
    const p = pool({ maxWorkers: 1, maxQueue: 2 });
    const order: number[] = [];
    const all = [
      p.run(task('spin'), 30),
      ...[1, 2, 3, 4, 5].map((x) => p.run(task('double'), x).then((v) => (order.push(x), v))),
    ];
    expect(p.metrics()).toMatchObject({ running: 1, queued: 2, waiting: 3 });
    expect(await Promise.all(all)).toEqual([30, 2, 4, 6, 8, 10]);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('closes gracefully: running and queued tasks finish, new ones are refused, no worker is left', async () => {
    const p = pool();
    const work = [p.run(task('spin'), 20), p.run(task('spin'), 20), p.run(task('double'), 1)];
    const closing = p.close();
    await expect(p.run(task('double'), 1)).rejects.toBeInstanceOf(PoolClosedError);
    expect(await Promise.all(work)).toEqual([20, 20, 2]);
    await closing;
    expect(p.threadCount).toBe(0);
  });

  it('close({ force: true }) drops queued tasks and terminates running ones', async () => {
    const p = pool({ maxWorkers: 1 });
    const running = p.run(task('spin'), 1e9);
    const queued = p.run(task('double'), 1);
    await until(() => p.metrics().running === 1 && p.threadCount === 1);
    const outcomes = Promise.allSettled([running, queued]);
    await p.close({ force: true });
    const [r, q] = await outcomes;
    expect((r as PromiseRejectedResult).reason).toBeInstanceOf(PoolClosedError);
    expect((q as PromiseRejectedResult).reason).toBeInstanceOf(PoolClosedError);
    expect(p.threadCount).toBe(0);
  });

  it('stops idle workers after idleTimeoutMs', async () => {
    const p = pool({ idleTimeoutMs: 20 });
    await Promise.all([p.run(task('spin'), 5), p.run(task('spin'), 5)]);
    expect(p.threadCount).toBeGreaterThan(0);
    await until(() => p.threadCount === 0);
    // Stopped by the pool on purpose: not a crash.
    expect(p.metrics().idleCrashes).toBe(0);
    expect(await p.run(task('double'), 2)).toBe(4);
  });

  it('takes its size from options, then the config section, then numeric-accel', () => {
    const config = defaultConfig().performance.parallel;
    expect(new WorkerPool({ maxWorkers: 3, inline: true }).maxWorkers).toBe(3);
    const fromConfig = new WorkerPool({
      config: { ...config, max_workers: 5, idle_timeout_ms: 123, max_queue: 7 },
    });
    expect([fromConfig.maxWorkers, fromConfig.idleTimeoutMs, fromConfig.maxQueue]).toEqual([
      5, 123, 7,
    ]);
    expect(new WorkerPool({ config: { ...config, use_processes: false } }).inline).toBe(true);
    expect(new WorkerPool().maxWorkers).toBe(accelSettings().threads);
  });

  it('fromConfig builds a pool from a [performance.parallel] section with overrides on top', async () => {
    const config = { ...defaultConfig().performance.parallel, max_workers: 3, max_queue: 9 };
    const p = await WorkerPool.fromConfig({ maxQueue: 4 }, config);
    pools.push(p);
    expect([p.maxWorkers, p.maxQueue]).toEqual([3, 4]);
    expect(await p.run(task('double'), 8)).toBe(16);
  });

  it('rejects bad options at construction, naming the option, the value and what is allowed', () => {
    expect(() => new WorkerPool({ maxWorkers: 0 })).toThrow(InvalidOptionError);
    expect(() => new WorkerPool({ maxWorkers: 1.5 })).toThrow(
      /maxWorkers: got 1\.5; expected an integer from 1 to 1024/,
    );
    expect(() => new WorkerPool({ maxQueue: 0 })).toThrow(/maxQueue/);
    expect(() => new WorkerPool({ idleTimeoutMs: -1 })).toThrow(/idleTimeoutMs/);
    expect(() => new WorkerPool({ onQueueFull: 'drop' as never })).toThrow(
      /onQueueFull: got "drop"/,
    );
    expect(() => new WorkerPool({ maxWorkers: 2, minWorkers: 3 })).toThrow(/minWorkers/);
    expect(() => new WorkerPool({ spinMicros: -1 })).toThrow(
      /spinMicros: got -1; expected an integer from 0 to 10000/,
    );
    expect(() => new WorkerPool({ spinMicros: 1.5 })).toThrow(/spinMicros/);
    expect(() => new WorkerPool({ spinMicros: 10_001 })).toThrow(/spinMicros/);
  });

  it('spinMicros: 100 by default; a worker polling for its next task stops as soon as the pool posts one', async () => {
    expect(new WorkerPool({ inline: true }).spinMicros).toBe(100);
    expect(new WorkerPool({ inline: true, spinMicros: 0 }).spinMicros).toBe(0);
    // Each worker polls for up to 10 ms after sending a result. A poll that missed the pool's
    // doorbell would hold every next task back for those 10 ms (300 ms over 30 tasks).
    const p = pool({ maxWorkers: 1, minWorkers: 1, spinMicros: 10_000 });
    expect(await p.run(task('double'), 1)).toBe(2);
    const t0 = performance.now();
    for (let i = 0; i < 30; i++) expect(await p.run(task('double'), i)).toBe(2 * i);
    expect(performance.now() - t0).toBeLessThan(150);
    // and tasks that fail (the worker counts itself busy while one runs) leave it polling as before
    await expect(p.run(task('failOn'), 13)).rejects.toThrow(/bad item 13/);
    const t1 = performance.now();
    for (let i = 0; i < 30; i++) expect(await p.run(task('double'), i)).toBe(2 * i);
    expect(performance.now() - t1).toBeLessThan(150);
  });

  // The pool's thread polls only while a CPU is free besides the running worker.
  it.skipIf(cpuTopology().effectiveParallelism < 2)(
    "the pool's thread polls for a short task's result and stops as soon as it is posted",
    async () => {
      // Each poll may last 10 ms: one that missed the result would hold every task for that long.
      const p = pool({ maxWorkers: 1, minWorkers: 1, spinMicros: 10_000 });
      expect(await p.run(task('double'), 1)).toBe(2);
      const before = p.metrics().resultPolls;
      const t0 = performance.now();
      for (let i = 0; i < 30; i++) expect(await p.run(task('double'), i)).toBe(2 * i);
      expect(performance.now() - t0).toBeLessThan(150);
      const after = p.metrics().resultPolls;
      // A busy machine may leave no CPU free for a poll now and then, so not every task has one,
      // and may hold a worker off its CPU for longer than a poll now and then (a miss). Without
      // the workers' count of posted results, no poll would see one.
      const polls = after.count - before.count;
      expect(polls).toBeGreaterThan(10);
      expect(after.hits - before.hits).toBeGreaterThanOrEqual(polls - 3);
    },
  );

  it.skipIf(cpuTopology().effectiveParallelism < 2)(
    'polls that time out (tasks longer than spinMicros) make the pool poll ever less often',
    async () => {
      const p = pool({ maxWorkers: 1, minWorkers: 1, spinMicros: 100 });
      for (let i = 0; i < 40; i++) expect(await p.run(task('spin'), 3)).toBe(3);
      // Polls at the starts 1, 2, 4, 7, 12, 21 and 38: after two timeouts in a row the next 1, 2,
      // 4, 8 and 16 starts skip theirs. Without the back-off there would be one per start. (A poll
      // that starts late on a busy machine can find a result already posted: a hit, which resets
      // the back-off, hence the margin.)
      const { count, hits } = p.metrics().resultPolls;
      expect(count).toBeGreaterThan(0);
      expect(count).toBeLessThanOrEqual(15);
      expect(hits).toBeLessThanOrEqual(3);
      // spinMicros: 0 turns the polls off on this side too.
      const off = pool({ maxWorkers: 1, minWorkers: 1, spinMicros: 0 });
      for (let i = 0; i < 20; i++) expect(await off.run(task('double'), i)).toBe(2 * i);
      expect(off.metrics().resultPolls).toEqual({ count: 0, hits: 0 });
    },
  );

  it('rejects task references that a worker could not resolve', () => {
    expect(() => taskRef('./tasks.js', 'x')).toThrow(
      /module: got "\.\/tasks\.js".*import\.meta\.url/,
    );
    expect(() => taskRef(TASKS, '')).toThrow(/exportName/);
    const p = pool();
    return expect(p.run({ module: 42, export: 'x' } as never, 1)).rejects.toThrow(/ref\.module/);
  });

  it('loadTask resolves a reference the way workers do, with TaskLoadError for a bad one', async () => {
    const double = await loadTask(task<(x: number) => number>('double'));
    expect(double(4)).toBe(8);
    await expect(loadTask(task('notAFunction'))).rejects.toBeInstanceOf(TaskLoadError);
  });

  it('runs tasks on the calling thread in inline mode', async () => {
    const p = pool({ inline: true });
    expect(await p.run(task('whoAmI'), undefined)).toBe(threadId);
    await expect(p.run(task('failOn'), 13)).rejects.toBeInstanceOf(TaskFailedError);
  });

  it('inline mode hands tasks a copy of the input and callers a copy of the result, as worker mode does', async () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const results: unknown[] = [];
    for (const inline of [false, true]) {
      const p = pool({ inline });
      const input = {
        list: [1],
        at: new Date(0),
        map: new Map([['a', 1]]),
        point: new Point(1, 2),
      };
      const out = await p.run(task('mutateInput'), input);
      expect(input.list).toEqual([1]);
      expect(input).not.toHaveProperty('touched');
      expect(out).not.toBe(input);
      results.push(out);
      const a = await p.run(task<() => { count: number }>('keptObject'), undefined);
      const b = await p.run(task<() => { count: number }>('keptObject'), undefined);
      expect(a).not.toBe(b);
      a.count++;
      expect(await p.run(task('keptObject'), undefined)).toEqual({ count: 0 });
    }
    // Same value either way: the Point arrives as a plain object, the Date and Map as themselves.
    expect(results[1]).toStrictEqual(results[0]);
    expect(results[0]).not.toBeInstanceOf(Point);
  });

  it('inline mode rejects what cannot be cloned with the same NotCloneableError as worker mode', async () => {
    const seen: string[] = [];
    for (const inline of [false, true]) {
      const p = pool({ inline, maxWorkers: 1 });
      const input = await p.run(task('echo'), { fn() {} }).catch((e: unknown) => e);
      const result = await p.run(task('returnFunction'), undefined).catch((e: unknown) => e);
      expect(input).toBeInstanceOf(NotCloneableError);
      expect(result).toBeInstanceOf(NotCloneableError);
      seen.push((input as Error).message, (result as Error).message);
      expect(await p.run(task('double'), 4)).toBe(8);
      expect(p.metrics()).toMatchObject({ failed: 2, crashed: 0 });
    }
    expect(seen.slice(2)).toEqual(seen.slice(0, 2));
  });

  it('inline mode still hands shared columns as shared, read-only views', async () => {
    const shared = SharedColumns.from({ close: new Float64Array([1.5, 2]) });
    for (const inline of [false, true]) {
      const p = pool({ inline });
      expect(await p.run(task('sharedInfo'), undefined, { shared })).toEqual({
        shared: true,
        frozen: true,
        first: 1.5,
      });
    }
    shared.release();
  });

  it('reports metrics: counts, utilisation and queue-wait/run-time percentiles', async () => {
    const p = pool({ maxWorkers: 1 });
    await Promise.all([1, 2, 3, 4].map((x) => p.run(task('spin'), 5 + x)));
    const m = p.metrics();
    expect(m).toMatchObject({ completed: 4, failed: 0, running: 0, queued: 0 });
    expect(m.queueWaitMs.count).toBe(4);
    expect(m.runTimeMs.count).toBe(4);
    expect(m.runTimeMs.p99).toBeGreaterThanOrEqual(m.runTimeMs.p50);
    expect(m.runTimeMs.p50).toBeGreaterThan(5);
    expect(m.utilisation).toBeGreaterThan(0);
    expect(m.utilisation).toBeLessThanOrEqual(1);
  });
});
