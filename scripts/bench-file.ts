// Run one bench file by hand while developing a package:
//   pnpm exec tsx scripts/bench-file.ts packages/serialize/bench/serialize.bench.ts [--quick]
// apps/bench-runner is the real runner; this only prints the suite's measurements.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const file = process.argv[2];
if (!file) {
  console.error('usage: tsx scripts/bench-file.ts <path/to/x.bench.ts> [--quick]');
  process.exit(2);
}
const quick = process.argv.includes('--quick');
const mod = (await import(pathToFileURL(resolve(file)).href)) as {
  default: { name: string; run(ctx: unknown): Promise<readonly unknown[]> };
};
const tmpDir = mkdtempSync(join(tmpdir(), 'pt-bench-'));
try {
  const measurements = await mod.default.run({
    quick,
    stress: false,
    timeMs: quick ? 100 : 500,
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    tmpDir,
    log: (message: string) => console.error(`[${mod.default.name}] ${message}`),
  });
  console.table(
    (measurements as { id: string; value: number; unit: string }[]).map(({ id, value, unit }) => ({
      id,
      value: Number(value.toPrecision(4)),
      unit,
    })),
  );
} finally {
  rmSync(tmpDir, { recursive: true, force: true });
}
