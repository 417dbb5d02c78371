import { LruCache } from './dist/index.js';
import { LRUCache } from 'lru-cache';
const N = 1000, TTL = 60000;
const keys = Array.from({ length: 2 * N }, (_, i) => `key:${i}`);
const values = keys.map((k) => ({ k }));
const seq = Uint32Array.from({ length: 1 << 16 }, () => Math.floor(Math.random() * 2 * N));
const ours = new LruCache({ max: N, ttlMs: TTL });
const theirs = new LRUCache({ max: N, ttl: TTL });
let i = 0, j = 0;
const a = () => { const k = seq[(i = (i + 1) & 65535)]; ours.set(keys[k], values[k]); };
const b = () => { const k = seq[(j = (j + 1) & 65535)]; theirs.set(keys[k], values[k]); };
function bytes(fn, n = 200000) { let best = Infinity; for (let t = 0; t < 5; t++) { globalThis.gc(); const h0 = process.memoryUsage().heapUsed; for (let q = 0; q < n; q++) fn(); const d = process.memoryUsage().heapUsed - h0; if (d >= 0) best = Math.min(best, d / n); } return best; }
function time(fn, n = 1000000) { const s = performance.now(); for (let q = 0; q < n; q++) fn(); return (performance.now() - s) / n * 1e6; }
for (let r = 0; r < 3; r++) { time(a); time(b); }
console.log('bytes/set ours', bytes(a).toFixed(2), 'lru-cache', bytes(b).toFixed(2));
for (let r = 0; r < 3; r++) console.log('ns/set ours', time(a).toFixed(1), 'lru-cache', time(b).toFixed(1));
