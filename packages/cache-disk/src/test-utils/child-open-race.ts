// Child process for the open-race test: at each agreed instant, opens a fresh cache file that
// the other children open at the same instant, writes one entry and closes it. Prints `ready`
// once the module is loaded, reads the first instant (epoch ms) from stdin, then prints one JSON
// line: how many opens succeeded and the errors of those that failed.
// argv: <dir> <rounds> <periodMs>
import { join } from 'node:path';
import { DiskTier } from '../disk-tier.js';

const [dir, roundsArg, periodArg] = process.argv.slice(2) as [string, string, string];
const rounds = Number(roundsArg);
const period = Number(periodArg);
process.stdout.write('ready\n');
let input = '';
for await (const chunk of process.stdin.setEncoding('utf8')) input += chunk as string;
const start = Number(input.trim());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let opened = 0;
const errors: string[] = [];
for (let r = 0; r < rounds; r++) {
  const at = start + r * period;
  // Sleep most of the way, then spin so every child leaves the wait within microseconds.
  if (at - Date.now() > 5) await sleep(at - Date.now() - 5);
  while (Date.now() < at) {
    // spin
  }
  try {
    const tier = new DiskTier({ file: join(dir, `race-${r}.db`), sweepIntervalMs: 0 });
    await tier.set(`pid:${process.pid}`, r);
    await tier.close();
    opened++;
  } catch (err) {
    const e = err as Error & { sqliteCode?: string };
    errors.push(`${e.name} ${e.sqliteCode ?? ''}: ${e.message}`);
  }
}
process.stdout.write(`${JSON.stringify({ opened, errors })}\n`);
