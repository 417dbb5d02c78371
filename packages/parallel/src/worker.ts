/**
 * The pool's worker entry (piscina loads `dist/worker.js`). It imports the task module named
 * in each message, calls the named export and resolves shared-columns ids through a
 * per-worker cache, so a dataset crosses to each worker once.
 */
import { BroadcastChannel, MessagePort, workerData } from 'node:worker_threads';
import {
  execute,
  recoverUnsentReply,
  toError,
  unsentReply,
  type TaskMessage,
  type TaskReply,
  BUSY,
  DOORBELL,
  RESULTS,
  SPINNING,
  type WorkerSetup,
} from './runtime.js';
import { CHANNEL_NAME, viewColumns, type SharedChannelMessage } from './shared-columns.js';

type Views = Readonly<Record<string, Float64Array>>;

/** Datasets kept per worker; the oldest is dropped beyond this. */
const MAX_CACHED = 16;
/** How long a worker waits for the owner to answer for a dataset. */
const REQUEST_TIMEOUT_MS = 10_000;

const cache = new Map<string, Views>();
const pending = new Map<
  string,
  { resolve: (v: Views) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
>();
let channel: BroadcastChannel | undefined;

function getChannel(): BroadcastChannel {
  if (channel !== undefined) return channel;
  const bc = new BroadcastChannel(CHANNEL_NAME);
  bc.onmessage = (event: unknown) => {
    const msg = (event as { data: SharedChannelMessage }).data;
    if (msg.type === 'columns') {
      const { handle } = msg;
      let views = cache.get(handle.id);
      if (views === undefined) {
        views = Object.freeze(viewColumns(handle.buffer, handle.names, handle.length));
        cache.set(handle.id, views);
        if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
      }
      settle(handle.id, views, undefined);
    } else if (msg.type === 'missing') {
      settle(
        msg.id,
        undefined,
        new Error(`Shared columns ${msg.id} are not available: released, or never created`),
      );
    } else if (msg.type === 'release') {
      cache.delete(msg.id);
    }
  };
  bc.unref();
  channel = bc;
  return bc;
}

function settle(id: string, views: Views | undefined, error: Error | undefined): void {
  const p = pending.get(id);
  if (p === undefined) return;
  pending.delete(id);
  clearTimeout(p.timer);
  if (error !== undefined) p.reject(error);
  else p.resolve(views as Views);
}

function resolveShared(id: string): Views | Promise<Views> {
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const bc = getChannel();
  return new Promise<Views>((resolve, reject) => {
    const prior = pending.get(id);
    if (prior !== undefined) {
      // Another task on this worker already asked: piggy-back on its answer.
      const { resolve: r0, reject: j0 } = prior;
      prior.resolve = (v) => (r0(v), resolve(v));
      prior.reject = (e) => (j0(e), reject(e));
      return;
    }
    const timer = setTimeout(
      () =>
        settle(
          id,
          undefined,
          new Error(
            `Shared columns ${id}: no answer from the owning thread within ${REQUEST_TIMEOUT_MS} ms`,
          ),
        ),
      REQUEST_TIMEOUT_MS,
    );
    pending.set(id, { resolve, reject, timer });
    bc.postMessage({ type: 'need', id } satisfies SharedChannelMessage);
  });
}

// Polling for the next task. A worker that has sent its result would go back to its event loop and
// sleep until the next task's message wakes it; on a VM that wake-up costs tens of µs per task (the
// idle vCPU has halted). So for up to `spinMicros` it polls the pool's doorbell instead, which the
// pool rings right after handing piscina a task: the message is then already in this worker's port,
// and the event loop picks it up without sleeping. Any task of the pool rings it, so a worker that
// is not getting the next task stops polling as soon as another one does. It polls only while
// running and polling workers leave a CPU for the pool's thread, which has to wake up to take the
// result and post the next task: a poll that kept it off a CPU would delay exactly that.
// The pool's thread polls the other way (see WorkerPool's #pollForResult): each posted result is
// counted in RESULTS, which it watches while it waits for a short task's result.
const setup = workerData as Partial<WorkerSetup> | null | undefined;
const state =
  setup?.state instanceof Int32Array && (setup.spinMicros ?? 0) > 0 ? setup.state : undefined;
const spinMs = (setup?.spinMicros ?? 0) / 1000;
const cpus = setup?.cpus ?? 1;

function isResponse(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'taskId' in value && 'result' in value;
}

function pollForNextTask(shared: Int32Array, seen: number): void {
  // BUSY still counts this worker's own task (the pool uncounts it when it takes the result): with
  // the pool's thread, this worker and the other running and polling ones must fit the CPUs.
  if (Atomics.load(shared, BUSY) + Math.max(0, Atomics.load(shared, SPINNING)) >= cpus) return;
  Atomics.add(shared, SPINNING, 1);
  const until = performance.now() + spinMs;
  try {
    do {
      for (let i = 0; i < 64; i++) if (Atomics.load(shared, DOORBELL) !== seen) return;
    } while (performance.now() < until);
  } finally {
    Atomics.sub(shared, SPINNING, 1);
  }
}

/** The message each reply answers, until piscina has posted the reply. */
const replyMessages = new WeakMap<TaskReply, TaskMessage>();

// Piscina posts a handler's result itself, and when structured clone rejects it (a task returned a
// function, say) it rethrows the DataCloneError outside any task: the worker dies with an
// unreadable error and the pool blames a crash. Catch that one failure where it happens, on this
// thread's message ports, and post a reply that fails just this task instead; the worker lives
// on. A post that succeeds costs one extra call; anything else than one of our replies is left
// alone (the same error is rethrown).
// Native postMessage returns a value that callers inside Node read (BroadcastChannel does): the
// wrapper passes it on unchanged.
const post = Object.getOwnPropertyDescriptor(MessagePort.prototype, 'postMessage')?.value as (
  this: MessagePort,
  value: unknown,
  ...rest: unknown[]
) => unknown;
MessagePort.prototype.postMessage = function (
  this: MessagePort,
  value: unknown,
  ...rest: unknown[]
): unknown {
  try {
    if (state === undefined || !isResponse(value)) return post.call(this, value, ...rest);
    // Read before posting: a task posted after the result went out always rings it later.
    const seen = Atomics.load(state, DOORBELL);
    const sent = post.call(this, value, ...rest);
    Atomics.add(state, RESULTS, 1);
    // After this callback and its microtasks (piscina's own bookkeeping) have run.
    setImmediate(pollForNextTask, state, seen);
    return sent;
  } catch (error) {
    // Piscina's response: { taskId, result, error, time }, `result` being our reply.
    const response =
      typeof value === 'object' && value !== null && 'taskId' in value && 'result' in value
        ? (value as { readonly result: unknown })
        : undefined;
    const reply = response?.result as TaskReply | undefined;
    const message =
      typeof reply === 'object' && reply !== null ? replyMessages.get(reply) : undefined;
    if (response === undefined || reply === undefined || message === undefined) throw error;
    try {
      return post.call(
        this,
        { ...response, result: recoverUnsentReply(message, reply, error) },
        ...rest,
      );
    } catch (again) {
      return post.call(this, { ...response, result: unsentReply(again, -1, reply.runNs) }, ...rest);
    }
  }
};

// An uncaught throw kills the worker and reaches the pool through structured clone: a
// DOMException arrives as `{}`, and a thrown plain object is no Error, so the pool could only say
// "[object Object]". Rethrow such a value as an Error that names it (Errors pass unchanged); the
// worker still dies as before. A task module that installs its own handler decides for itself.
process.on('uncaughtException', (error) => {
  if (process.listenerCount('uncaughtException') > 1) return;
  throw toError(error);
});

/** Piscina task handler: run one message. */
export default function handle(message: TaskMessage): Promise<TaskReply> {
  return execute(message, resolveShared).then((reply) => {
    replyMessages.set(reply, message);
    return reply;
  });
}
