export { benchmark, batchingIncomparable, DEFAULT_TIME_MS } from './benchmark.js';
export type { BenchFn, BenchOptions, BenchResult, BenchStats, BatchingMode } from './benchmark.js';
export { suite } from './suite.js';
export { onResult, recordResult } from './recorder.js';
export type { RecordedResult } from './recorder.js';
export type { SuiteOptions, SuiteResult, SuiteRatio } from './suite.js';
export { isolatedSuite, processMadCv } from './isolate.js';
export type { IsolatedSuiteOptions } from './isolate.js';
export { PerformanceBenchmark } from './performance-benchmark.js';
export type { PerformanceRunOptions, PerformanceRunResult } from './performance-benchmark.js';
export { timeMeasurement, opsMeasurement, ratioMeasurement } from './measurements.js';
export type { TimeUnit } from './measurements.js';
export { defineBenchSuite } from './suite-types.js';
export type {
  BenchContext,
  BenchSuiteDefinition,
  Measurement,
  MeasurementUnit,
} from './suite-types.js';
export { measureMemory } from './memory.js';
export type { MemoryResult, MeasureMemoryOptions } from './memory.js';
export { profileCpu, topFunctions } from './profile.js';
export type {
  CpuProfile,
  CpuProfileNode,
  CpuProfileResult,
  HotFunction,
  ProfileCpuOptions,
} from './profile.js';
export {
  machineFingerprint,
  cpuDescription,
  fingerprintDiff,
  createBaseline,
  parseBaseline,
  saveBaseline,
  loadBaseline,
  compareResults,
  compareSuiteVariant,
  compareToBaseline,
  relativeDrift,
  baselineSchema,
  BASELINE_VERSION,
} from './baseline.js';
export type {
  MachineFingerprint,
  Baseline,
  BaselineInput,
  BenchRecord,
  SuiteRecord,
  Verdict,
  Comparison,
  CompareOptions,
  BaselineComparison,
} from './baseline.js';
export { metaBenchmark, calibratedLoop } from './meta.js';
export type { MetaBenchmarkOptions, MetaBenchmarkResult } from './meta.js';
export {
  formatConsole,
  formatMarkdown,
  formatJson,
  renderHtml,
  formatNs,
  mdCell,
} from './report.js';
export { writeFileAtomic } from './atomic.js';
export type { ReportInput, ConsoleFormatOptions } from './report.js';
export {
  createRng,
  sortedCopy,
  quantileSorted,
  median,
  mean,
  stddev,
  mad,
  bootstrapMedians,
  bootstrapMedianCI,
  bootstrapRatioCI,
  summarize,
  mannWhitneyU,
  normalCdf,
  DEFAULT_SEED,
  DEFAULT_RESAMPLES,
} from './stats.js';
export type {
  Rng,
  BootstrapOptions,
  SampleStats,
  Alternative,
  MannWhitneyResult,
} from './stats.js';
export { nowNs, blackBox, timerResolutionNs } from './clock.js';
export {
  PeakTradeError,
  BenchOptionError,
  BenchFunctionError,
  BaselineFormatError,
  FingerprintMismatchError,
  IsolationError,
  ProfileError,
  errors,
} from './errors.js';
export { memcpyAlignmentProbe } from './memcpy.js';
export type { MemcpyProbe } from './memcpy.js';
