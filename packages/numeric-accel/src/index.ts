export { sum, mean, variance, std, min, max, argmin, argmax, quantile } from './reductions.js';
export type { SkipnaOptions, SumOptions, VarianceOptions, QuantileOptions } from './reductions.js';
export {
  cumsum,
  cumprod,
  cummax,
  cummin,
  diff,
  shift,
  pctChange,
  returns,
  logReturns,
} from './cumulative.js';
export type {
  CumulativeOptions,
  LagOptions,
  ShiftOptions,
  PctChangeOptions,
} from './cumulative.js';
export {
  rollingSum,
  rollingMean,
  rollingVar,
  rollingStd,
  rollingMin,
  rollingMax,
  rollingCorr,
} from './rolling.js';
export type { RollingOptions, RollingVarOptions } from './rolling.js';
export { ema, rsi, zscore } from './ewm.js';
export type { EmaOptions, RsiOptions, ZscoreOptions } from './ewm.js';
export { drawdown, maxDrawdown, sharpe, sortino } from './risk.js';
export type { DrawdownOptions, MaxDrawdownResult, SharpeOptions, SortinoOptions } from './risk.js';
export {
  cpuTopology,
  liveTopologyReader,
  parseCpuList,
  parseCpuMax,
  parseCpuinfo,
  parseProcCgroup,
} from './topology.js';
export type { CpuTopology, TopologyReader } from './topology.js';
export { configureAccel, accelSettings } from './settings.js';
export {
  wasmArray,
  releaseWasmArrays,
  WASM_AUTO,
  WASM_AUTO_RESIDENT,
  WASM_MEMORY_MAX_BYTES,
} from './wasm/backend.js';
export type { WasmKernel } from './wasm/backend.js';
export type { AccelBackend, AccelOptions, AccelSettings, AccelConfigResult } from './settings.js';
export {
  PeakTradeError,
  AccelRangeError,
  WasmUnavailableError,
  WasmMemoryError,
  errors,
} from './errors.js';
export { equityCurve, smaCrossover } from './backtest.js';
export type { EquityCurveOptions, EquityCurveResult, SmaCrossoverOptions } from './backtest.js';
