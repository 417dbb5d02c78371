// Child process: opens a DiskTier with fast timers, writes and reads, and never closes it. The
// process must still exit by itself, which it only does if the tier's timers are unref'd.
// argv: <file>
import { DiskTier } from '../disk-tier.js';

const tier = new DiskTier({ file: process.argv[2]!, sweepIntervalMs: 5, accessFlushMs: 5 });
await tier.set('k', 1, { ttlMs: 1 });
await tier.set('j', 2);
await tier.get('j');
process.stdout.write('done\n');
