import { join } from 'node:path';
import Database from 'better-sqlite3';
import { encode } from '@peaktrade/serialize';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskTier } from './disk-tier.js';
import { manualClock, tempDirs } from './test-utils/tmp.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const MAX_BYTES = 1500;
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

type Op =
  | { kind: 'set'; key: string; len: number; ttl: number }
  | { kind: 'setMany'; items: { key: string; len: number; ttl: number }[] }
  | { kind: 'get'; key: string }
  | { kind: 'delete'; key: string }
  | { kind: 'advance'; ms: number };

const key = fc.constantFrom(...KEYS);
// Mostly small values, sometimes one bigger than the whole bound (refused).
const len = fc.oneof(
  { weight: 9, arbitrary: fc.integer({ min: 0, max: 500 }) },
  { weight: 1, arbitrary: fc.constant(2000) },
);
const ttl = fc.constantFrom(0, 0, 5, 20);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), key, len, ttl }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('setMany' as const),
      items: fc.array(fc.record({ key, len, ttl }), { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 15 }),
    }),
  },
);

interface ModelEntry {
  readonly value: string;
  readonly size: number;
  readonly expiresAt: number | null;
  lastAccess: number;
}

function valueOf(k: string, n: number, version: number): string {
  return `${k}${version}:`.padEnd(n, '.');
}

describe('DiskTier size bound (property, against a model)', () => {
  it('keeps bytes <= maxBytes, never serves a stale value, evicts expired first then LRU, minimally', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const clock = manualClock();
        const file = join(dirs.make(), `p${run++}.db`);
        const tier = new DiskTier<string>({
          file,
          maxBytes: MAX_BYTES,
          clock: clock.now,
          sweepIntervalMs: 0,
          integrityCheck: 'off',
        });
        const db = new Database(file, { readonly: true });
        const rows = db.prepare<
          [],
          { key: string; value: Buffer; size: number; expires_at: number | null }
        >('SELECT key, value, size, expires_at FROM entries');
        const model = new Map<string, ModelEntry>();
        let version = 0;
        try {
          for (const o of ops) {
            // Every op happens at a distinct time: no LRU ties between operations.
            clock.advance(1);
            const now = clock.now();
            const isLive = (e: ModelEntry): boolean => e.expiresAt === null || e.expiresAt > now;
            const written = new Set<string>();
            const write = (
              k: string,
              n: number,
              t: number,
            ): { key: string; value: string; ttlMs: number } => {
              const value = valueOf(k, n, version++);
              const size = Buffer.byteLength(k) + encode(value).byteLength;
              if (size > MAX_BYTES) model.delete(k);
              else
                model.set(k, { value, size, expiresAt: t === 0 ? null : now + t, lastAccess: now });
              written.add(k);
              return { key: k, value, ttlMs: t };
            };
            switch (o.kind) {
              case 'set': {
                const w = write(o.key, o.len, o.ttl);
                await tier.set(w.key, w.value, { ttlMs: w.ttlMs });
                break;
              }
              case 'setMany': {
                const batch = o.items.map((i) => write(i.key, i.len, i.ttl));
                await tier.setMany(batch);
                break;
              }
              case 'get': {
                const e = model.get(o.key);
                const expected = e !== undefined && isLive(e) ? e.value : undefined;
                expect(await tier.get(o.key)).toBe(expected);
                if (expected !== undefined) e!.lastAccess = now;
                break;
              }
              case 'delete':
                await tier.delete(o.key);
                model.delete(o.key);
                break;
              case 'advance':
                clock.advance(o.ms);
                break;
            }

            // Compare the file with the model.
            const inFile = new Map(rows.all().map((r) => [r.key, r]));
            let total = 0;
            for (const [k, r] of inFile) {
              const e = model.get(k);
              expect(e, `file holds ${k} the model does not`).toBeDefined();
              expect(tier.storage).toBe('bytes');
              expect(r.value.equals(encode(e!.value)), `stale value for ${k}`).toBe(true);
              expect(r.size).toBe(e!.size);
              expect(r.expires_at).toBe(e!.expiresAt);
              total += r.size;
            }
            const stats = tier.stats();
            expect(stats.bytes).toBe(total);
            expect(stats.entries).toBe(inFile.size);
            expect(total).toBeLessThanOrEqual(MAX_BYTES);

            const gone = [...model.keys()].filter((k) => !inFile.has(k));
            if (gone.length === 0) continue;
            // Only a write may evict.
            expect(o.kind === 'set' || o.kind === 'setMany').toBe(true);
            const evictedLive = gone.filter((k) => isLive(model.get(k)!));
            const survivors = [...inFile.keys()].map((k) => model.get(k)!);
            if (evictedLive.length > 0) {
              // Expired entries go first: none may be left once a live one was evicted.
              expect(survivors.every(isLive)).toBe(true);
              // LRU: nothing evicted was used more recently than a survivor written before this op.
              const newestEvicted = Math.max(...evictedLive.map((k) => model.get(k)!.lastAccess));
              const olderSurvivors = [...inFile.keys()]
                .filter((k) => !written.has(k))
                .map((k) => model.get(k)!);
              for (const s of olderSurvivors)
                expect(newestEvicted).toBeLessThanOrEqual(s.lastAccess);
              // Minimal: putting back one of the most recently used evicted entries would overflow.
              const lastOut = evictedLive.filter((k) => model.get(k)!.lastAccess === newestEvicted);
              expect(lastOut.some((k) => total + model.get(k)!.size > MAX_BYTES)).toBe(true);
            }
            for (const k of gone) model.delete(k);
          }
        } finally {
          db.close();
          await tier.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
