export { main, HELP } from './cli.js';
export { targets } from './targets.js';
export type { Target, TargetOp } from './targets.js';
export { evaluate, gatingFailures } from './evaluate.js';
export type { SuiteOutcome, TargetResult, Verdict } from './evaluate.js';
export { discoverSuites, matchesFilter, findWorkspaceRoot } from './discover.js';
export type { SuiteFile } from './discover.js';
export { convert, formatValue } from './units.js';
export type { RunReport, StressOutcome } from './report.js';
