import { Piscina } from 'piscina';
import { Worker } from 'node:worker_threads';
import { WorkerPool } from './dist/index.js';
const N = 2000;
async function time(name, fn) {
  const res = [];
  for (let r = 0; r < 7; r++) {
    const c0 = process.cpuUsage(); const t = performance.now();
    for (let i = 0; i < N; i++) await fn(i);
    const dt = (performance.now() - t) / N * 1000; const c = process.cpuUsage(c0);
    res.push([dt, (c.user + c.system) / N]);
  }
  res.sort((a, b) => a[0] - b[0]);
  console.log(name.padEnd(24), 'wall µs', res[3][0].toFixed(1), 'cpu µs', res[3][1].toFixed(1));
}
const ping = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));", { eval: true });
const pingOnce = (i) => new Promise((r) => { ping.once('message', r); ping.postMessage(i); });
const pd = new Piscina({ filename: '/tmp/exp/noop-worker.mjs', maxThreads: 1, minThreads: 1, atomics: 'disabled', recordTiming: false });
const ps = new Piscina({ filename: '/tmp/exp/noop-worker.mjs', maxThreads: 1, minThreads: 1, atomics: 'sync', recordTiming: false });
const pool = new WorkerPool({ maxWorkers: 1, minWorkers: 1 });
const { taskRef } = await import('./dist/index.js');
const NOOP = taskRef(new URL('file:///tmp/exp/noop-task.mjs'), 'noop');
await import('node:fs').then((fs) => fs.writeFileSync('/tmp/exp/noop-task.mjs', 'export function noop(x) { return x; }\n'));
for (let k = 0; k < 2; k++) {
  await time('ping-pong', pingOnce);
  await time('piscina atomics disabled', (i) => pd.run(i));
  await time('piscina atomics sync', (i) => ps.run(i));
  await time('WorkerPool', (i) => pool.run(NOOP, i));
}
process.exit(0);
