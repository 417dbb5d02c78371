import { defineConfig } from 'vitest/config';

// Every workspace package is one vitest project. The JSON reporter feeds .ci/run's
// closing "N passed, N failed" line with vitest's real counts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tooling/pack-check'],
    reporters: ['default', ['json', { outputFile: 'reports/vitest-results.json' }]],
  },
});
