// The file piscina loads in each worker thread. Piscina loads it with require() first, and on Node
// 20.19+ a require() of an ES module goes through require(esm), which can race with an import()
// in the same thread and abort the whole process ("FATAL ERROR: v8::Module::IsGraphAsync must be
// used on an instantiated module", seen once in our CI on Node 20.20.2). So piscina requires this
// CommonJS file, and it loads the ES module worker (./worker.js) with import() only.

import type handleMessage from './worker.js';

type Handle = typeof handleMessage;

let handle: Handle | undefined;
const loading: Promise<Handle> = import('./worker.js').then((m) => (handle = m.default));

/** Piscina task handler: the ES module worker's, once it has loaded. */
function run(message: Parameters<Handle>[0]): ReturnType<Handle> {
  return handle !== undefined ? handle(message) : loading.then((h) => h(message));
}

export = run;
