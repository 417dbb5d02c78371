// Child process for the two-process test: writes its own keys, reads the other process's keys
// and a shared key, all on one cache file at once. Prints one JSON summary line on stdout.
// argv: <file> <id> <otherId> <count>
import { DiskTier } from '../disk-tier.js';

const [file, id, other, countArg] = process.argv.slice(2) as [string, string, string, string];
const count = Number(countArg);

interface Value {
  readonly from: string;
  readonly i: number;
  readonly payload: Float64Array;
}

const valueOf = (from: string, i: number): Value => ({
  from,
  i,
  payload: new Float64Array(64).fill(i),
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function intact(v: unknown, from: string, i: number): boolean {
  const x = v as Value;
  return x.from === from && x.i === i && x.payload.length === 64 && x.payload.every((p) => p === i);
}

async function waitFor(tier: DiskTier, key: string): Promise<void> {
  for (let n = 0; n < 2000; n++) {
    if ((await tier.get(key)) !== undefined) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${key}`);
}

const tier = new DiskTier({ file, busyTimeoutMs: 20_000, accessFlushMs: 20, sweepIntervalMs: 0 });
let seenOther = 0;
let mismatches = 0;
let sharedReads = 0;
await tier.set(`ready:${id}`, true);
await waitFor(tier, `ready:${other}`);
for (let i = 0; i < count; i++) {
  if (i % 10 === 0) {
    await tier.setMany(
      Array.from({ length: 10 }, (_, j) => ({ key: `${id}:m:${i}:${j}`, value: valueOf(id, i) })),
    );
  }
  await tier.set(`${id}:${i}`, valueOf(id, i), { tags: [`owner:${id}`] });
  await tier.set('shared', valueOf(id, i));
  const seen = await tier.get(`${other}:${i}`);
  if (seen !== undefined) {
    seenOther++;
    if (!intact(seen, other, i)) mismatches++;
  }
  const shared = (await tier.get('shared')) as Value | undefined;
  if (shared !== undefined) {
    sharedReads++;
    if (!intact(shared, shared.from, shared.i)) mismatches++;
  }
}
await tier.set(`done:${id}`, true);
await waitFor(tier, `done:${other}`);
let missingFinal = 0;
const keys = Array.from({ length: count }, (_, i) => `${other}:${i}`);
const finals = await tier.getMany(keys);
finals.forEach((v, i) => {
  if (v === undefined) missingFinal++;
  else if (!intact(v, other, i)) mismatches++;
});
const stats = tier.stats();
await tier.close();
process.stdout.write(
  `${JSON.stringify({ id, seenOther, sharedReads, mismatches, missingFinal, entries: stats.entries })}\n`,
);
