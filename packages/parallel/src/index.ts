export { WorkerPool } from './pool.js';
export type {
  WorkerPoolOptions,
  WorkerPoolEvents,
  RunOptions,
  PoolMetrics,
  LatencySummary,
  QueueFullPolicy,
} from './pool.js';
export { taskRef } from './task-ref.js';
export type { TaskRef, AnyTaskFn, ModuleLocation } from './task-ref.js';
export { loadTask } from './runtime.js';
export type { TaskContext } from './runtime.js';
export { mapCpu } from './map-cpu.js';
export type { MapCpuOptions, MapCpuFn } from './map-cpu.js';
export { mapIo, createLimit } from './map-io.js';
export type { MapIoOptions, IoFn, Limit } from './map-io.js';
export { RingQueue } from './ring-queue.js';
export { SharedColumns, OHLCV_FIELDS } from './shared-columns.js';
export type { ColumnView, OhlcvField, SharedColumnsHandle } from './shared-columns.js';
export { parallelBacktest, localBackend } from './parallel-backtest.js';
export type {
  ParallelBacktestOptions,
  ParallelBackend,
  BacktestRequest,
  BackendOutcome,
  BacktestOutcome,
  BacktestFn,
  BacktestData,
  LocalBackendOptions,
} from './parallel-backtest.js';
export {
  PeakTradeError,
  InvalidOptionError,
  TaskFailedError,
  WorkerCrashedError,
  NotCloneableError,
  AbortError,
  QueueFullError,
  PoolClosedError,
  TaskLoadError,
  SharedDataMutatedError,
  StrategyFailedError,
  serializeError,
  deserializeError,
  errors,
} from './errors.js';
export type { SerializedError } from './errors.js';
