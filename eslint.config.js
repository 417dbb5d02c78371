// Root files (vitest.config.ts and friends) are linted by the packages themselves; nothing here.
export default [{ ignores: ['**/*'] }];
