// Shared vitest project preset. A package's vitest.config.ts calls peaktradeProject(name).
import { fileURLToPath } from 'node:url';
import { defineProject, mergeConfig } from 'vitest/config';

const fastCheckSeed = fileURLToPath(new URL('./fast-check-seed.js', import.meta.url));

/**
 * Build a vitest project config for one workspace package.
 * @param {string} name project name shown in the test output
 * @param {import('vitest/config').UserWorkspaceConfig} [overrides] per-package additions
 */
export function peaktradeProject(name, overrides = {}) {
  return mergeConfig(
    defineProject({
      test: {
        name,
        include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        environment: 'node',
        testTimeout: 30_000,
        hookTimeout: 60_000,
        setupFiles: [fastCheckSeed],
      },
    }),
    overrides,
  );
}
