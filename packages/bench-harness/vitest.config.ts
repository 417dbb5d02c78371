import { peaktradeProject } from '@peaktrade/vitest-config';

// Child processes of isolated suites and the --expose-gc test run the built dist/, so build first.
export default peaktradeProject('bench-harness', {
  test: { globalSetup: ['./test/global-setup.ts'] },
});
