export { generateOhlcv, validateOhlcv, allocateColumns } from './data.js';
export type { GenerateOhlcvOptions } from './data.js';
export { backtest, createBacktest } from './engine.js';
export { validateStrategy } from './strategies.js';
export { sweep, paramGrid } from './sweep.js';
export type {
  SweepOptions,
  SweepResult,
  SweepTopResult,
  SweepOutput,
  ParamGridPoint,
} from './sweep.js';
export { Portfolio } from './portfolio.js';
export type { PortfolioOptions, Order, PortfolioSnapshot } from './portfolio.js';
export type {
  OhlcvColumns,
  Direction,
  SmaCrossStrategy,
  EmaCrossStrategy,
  RsiReversionStrategy,
  BollingerBreakoutStrategy,
  TargetsStrategy,
  StrategySpec,
  StrategyFamily,
  SignalFunction,
  Strategy,
  Sizing,
  BacktestOptions,
  ExitReason,
  Trade,
  Metrics,
  BacktestResult,
} from './types.js';
export {
  PeakTradeError,
  OhlcvValidationError,
  InvalidOptionError,
  InvalidStrategyError,
  PortfolioError,
  errors,
} from './errors.js';
