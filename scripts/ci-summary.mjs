// Prints the closing line CI reads, "N passed, N failed, N skipped", from vitest's JSON
// report, and exits non-zero when anything failed (or when the test command itself did).
import { existsSync, readFileSync } from 'node:fs';

const [file = 'reports/vitest-results.json', statusArg = '0'] = process.argv.slice(2);
const status = Number(statusArg);
if (!existsSync(file)) {
  console.log(
    `no vitest report at ${file}: the test command stopped before vitest ran (exit ${status})`,
  );
  console.log('0 passed, 0 failed');
  process.exit(status === 0 ? 1 : status);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
// A suite that fails to load has no failed tests but does fail the run.
const failedSuites = (report.testResults ?? []).filter(
  (r) => r.status === 'failed' && (r.assertionResults ?? []).every((a) => a.status !== 'failed'),
);
for (const suite of failedSuites)
  console.log(`suite failed to run: ${suite.name}: ${String(suite.message ?? '').split('\n')[0]}`);
const failures = failed + failedSuites.length;
console.log(`${passed} passed, ${failures} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failures > 0 || status !== 0 ? 1 : 0);
