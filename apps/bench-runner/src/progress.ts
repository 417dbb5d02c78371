import type { SuiteOutcome } from './evaluate.js';

/** Progress output: a live status line on a TTY, plain log lines in CI or when piped. */
export interface ProgressDisplay {
  start(index: number, total: number, name: string): void;
  log(suite: string, message: string): void;
  finish(outcome: SuiteOutcome): void;
  close(): void;
}

/** Pick the display for this stream: live on an interactive terminal outside CI, else plain. */
export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  const live = stream.isTTY === true && !process.env.CI;
  let current = '';
  let startedAt = 0;
  let lastMessage = '';
  let timer: NodeJS.Timeout | undefined;
  const runStart = performance.now();
  const elapsed = (from: number) => `${((performance.now() - from) / 1000).toFixed(1)}s`;
  const render = () => {
    const line = `${current} ${elapsed(startedAt)} (total ${elapsed(runStart)})${lastMessage ? ` · ${lastMessage}` : ''}`;
    stream.write(`\r\x1b[2K${line.slice(0, (stream.columns || 100) - 1)}`);
  };
  return {
    start(index, total, name) {
      current = `[${index}/${total}] ${name}`;
      startedAt = performance.now();
      lastMessage = '';
      if (live) {
        render();
        timer = setInterval(render, 250);
      } else stream.write(`${current}: running\n`);
    },
    log(suite, message) {
      if (live) {
        lastMessage = message;
        render();
      } else stream.write(`  ${suite}: ${message}\n`);
    },
    finish(outcome) {
      if (timer) clearInterval(timer);
      const status =
        outcome.status === 'ok'
          ? `${outcome.measurements.length} measurements`
          : `${outcome.status}: ${outcome.reason ?? ''}`;
      const line = `${current}: ${status} in ${(outcome.durationMs / 1000).toFixed(1)}s`;
      stream.write(live ? `\r\x1b[2K${line}\n` : `${line}\n`);
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
