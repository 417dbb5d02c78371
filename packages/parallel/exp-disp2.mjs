import { WorkerPool, taskRef } from './dist/index.js';
import { writeFileSync } from 'node:fs';
writeFileSync('/tmp/exp/noop-task.mjs', 'export function noop(x) { return x; }\n');
const NOOP = taskRef(new URL('file:///tmp/exp/noop-task.mjs'), 'noop');
const pool = new WorkerPool({ maxWorkers: 1, minWorkers: 1 });
const t = performance.now();
for (let i = 0; i < 60000; i++) await pool.run(NOOP, i);
console.log('µs per trip', ((performance.now() - t) / 60).toFixed(1));
process.exit(0);
