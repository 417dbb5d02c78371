import { WorkerPool, taskRef } from './dist/index.js';
const NOOP = taskRef(new URL('./bench/tasks.mjs', import.meta.url), 'noop');
for (const spin of [100, 0, 100, 0]) {
  const p = new WorkerPool({ maxWorkers: 1, minWorkers: 1, spinMicros: spin });
  for (let i = 0; i < 2000; i++) await p.run(NOOP, i);
  const meds = [];
  for (let r = 0; r < 15; r++) { const t0 = performance.now(); for (let i = 0; i < 200; i++) await p.run(NOOP, i); meds.push((performance.now() - t0) / 200 * 1000); }
  meds.sort((a, b) => a - b);
  const m = p.metrics();
  console.log(`spin=${spin}: median ${meds[7].toFixed(1)} us min ${meds[0].toFixed(1)} max ${meds[14].toFixed(1)} polls ${m.resultPolls.count}/${m.resultPolls.hits}`);
  console.log(globalThis.DBG); globalThis.DBG = {}; await p.close();
}
