// Runs one bench suite in a fresh process (launched by run.ts with tsx loaded) and sends
// its measurements back over IPC. One process per suite keeps JIT and GC state from one
// package's benchmarks out of the next one's figures, and a crash fails only that suite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import {
  onResult,
  type BenchContext,
  type BenchSuiteDefinition,
  type Measurement,
  type RecordedResult,
} from '@peaktrade/bench-harness';

/** Settings the parent passes to the child as JSON in argv. */
export interface ChildSettings {
  readonly file: string;
  readonly quick: boolean;
  readonly stress: boolean;
  readonly timeMs: number;
  readonly redisUrl: string | undefined;
}

/** Messages the child sends to the parent. */
export type ChildMessage =
  | { readonly type: 'meta'; readonly name: string; readonly requires: readonly string[] }
  | { readonly type: 'log'; readonly message: string }
  | {
      readonly type: 'done';
      readonly measurements: readonly Measurement[];
      readonly raw: readonly RecordedResult[];
    }
  | { readonly type: 'error'; readonly message: string };

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      console.log(JSON.stringify(message));
      resolve();
      return;
    }
    process.send(message, () => resolve());
  });
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.argv[2] ?? '{}') as ChildSettings;
  const mod = (await import(pathToFileURL(settings.file).href)) as {
    default?: BenchSuiteDefinition;
  };
  const suite = mod.default;
  if (!suite || typeof suite.run !== 'function' || typeof suite.name !== 'string') {
    throw new Error(`${settings.file} must default-export defineBenchSuite({ name, run })`);
  }
  await send({ type: 'meta', name: suite.name, requires: suite.requires ?? [] });
  const missing = (suite.requires ?? []).filter(
    (service) => service === 'redis' && !settings.redisUrl,
  );
  if (missing.length > 0) {
    await send({ type: 'done', measurements: [], raw: [] });
    return;
  }
  // Every benchmark()/suite() result, with its samples, for the HTML report.
  const raw: RecordedResult[] = [];
  onResult((entry) => raw.push(entry));
  const tmpDir = mkdtempSync(join(tmpdir(), `pt-bench-${suite.name}-`));
  const ctx: BenchContext = {
    quick: settings.quick,
    stress: settings.stress,
    timeMs: settings.timeMs,
    redisUrl: settings.redisUrl,
    tmpDir,
    log: (message) => void send({ type: 'log', message }),
  };
  try {
    const measurements = await suite.run(ctx);
    await send({ type: 'done', measurements, raw });
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

/**
 * One line naming the error and its causes: the runner shows the first line of the message, and
 * a harness error such as BenchFunctionError says what failed while its cause says why.
 */
function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(
      (e instanceof Error ? `${e.name}: ${e.message}` : inspect(e)).replace(/\s*\n\s*/g, ' '),
    );
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join('; caused by ');
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    await send({ type: 'error', message: describeError(error) });
    process.exit(1);
  },
);
