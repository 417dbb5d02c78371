// Child process for the crash test: writes batches with setMany forever, printing `begin <b>`
// before each batch and `commit <b>` once setMany resolved. The parent kills it with SIGKILL.
// stdout is a pipe, which Node writes synchronously on Linux, so a printed line is never lost.
// argv: <file> <firstBatch> <batchSize> <valueBytes>
import { DiskTier } from '../disk-tier.js';
import { expectedValue } from './crash-values.js';

const [file, firstArg, sizeArg, bytesArg] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
const batchSize = Number(sizeArg);
const valueBytes = Number(bytesArg);
const tier = new DiskTier({ file, sweepIntervalMs: 0, maxBytes: 2 ** 40 });
process.stdout.write('ready\n');
for (let b = Number(firstArg); b < Number(firstArg) + 100_000; b++) {
  const entries = Array.from({ length: batchSize }, (_, i) => ({
    key: `b${b}:${i}`,
    value: expectedValue(b, i, valueBytes),
  }));
  process.stdout.write(`begin ${b}\n`);
  await tier.setMany(entries);
  process.stdout.write(`commit ${b}\n`);
}
