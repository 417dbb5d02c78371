export { profile, Profiler } from './profiler.js';
export type {
  ProfileOptions,
  SlowQueryOptions,
  NPlusOneOptions,
  ScopeOptions,
  SlowQuery,
  NPlusOneFinding,
} from './profiler.js';
export type { StatementStats } from './stats.js';
export { fingerprint, normalizeSql } from './fingerprint.js';
export type { Fingerprint } from './fingerprint.js';
export { analyzePlan } from './plan.js';
export type { PlanAnalysis, PlanIssue, PlanIssueKind, PlanRow, IndexSuggestion } from './plan.js';
export { LogLinearHistogram } from './histogram.js';
export { batchInsert, batchUpsert } from './batch.js';
export type {
  BatchRow,
  BatchColumns,
  OnConflict,
  BatchOptionsBase,
  BatchInsertOptions,
  BatchUpsertOptions,
  BatchResult,
} from './batch.js';
export { checkIdentifier, quoteIdentifier } from './identifiers.js';
export { recommendPragmas, applyPragmas } from './pragmas.js';
export type {
  PragmaName,
  PragmaRecommendation,
  RecommendPragmaOptions,
  AppliedPragma,
} from './pragmas.js';
export { formatReport } from './report.js';
export type { ReportFormat, ReportSortKey, ReportOptions, ReportData } from './report.js';
export {
  PeakTradeError,
  InvalidOptionError,
  InvalidIdentifierError,
  InvalidSqlError,
  NPlusOneError,
  BatchWriteError,
  ProfilerAttachedError,
  errors,
} from './errors.js';
