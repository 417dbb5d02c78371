import { WorkerPool, taskRef } from './dist/index.js';
const NOOP = taskRef(new URL('./bench/tasks.mjs', import.meta.url), 'noop');
const p = new WorkerPool({ maxWorkers: 1, minWorkers: 1, spinMicros: Number(process.argv[2] ?? 100) });
for (let i = 0; i < 2000; i++) await p.run(NOOP, i);
const t = [];
for (let i = 0; i < 5000; i++) { const t0 = performance.now(); await p.run(NOOP, i); t.push((performance.now() - t0) * 1000); }
t.sort((a, b) => a - b);
const q = (x) => t[Math.floor(x * (t.length - 1))].toFixed(1);
console.log(`p10 ${q(0.1)} p25 ${q(0.25)} p50 ${q(0.5)} p75 ${q(0.75)} p90 ${q(0.9)} p95 ${q(0.95)} p99 ${q(0.99)} mean ${(t.reduce((a, b) => a + b) / t.length).toFixed(1)}`, p.metrics().resultPolls, globalThis.DBG);
await p.close();
