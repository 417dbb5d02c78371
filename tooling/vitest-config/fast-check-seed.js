// Property tests explore new random cases on every local run. In CI (CI is set) they replay one
// fixed seed, so a landing is reproducible; set FC_SEED to replay another, e.g. one a failure printed.
import fc from 'fast-check';

const seed = process.env.FC_SEED ?? (process.env.CI ? '20261126' : undefined);
if (seed !== undefined) fc.configureGlobal({ seed: Number(seed) });
