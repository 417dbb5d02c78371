export {
  loadConfig,
  parseConfig,
  defaultConfig,
  findConfigFile,
  ENV_PREFIX,
  CONFIG_PATH_ENV,
  DEFAULT_CONFIG_RELATIVE_PATH,
} from './load.js';
export type { LoadConfigOptions, ParseConfigOptions } from './load.js';
export {
  configSchema,
  performanceSchema,
  cacheSchema,
  serializeSchema,
  parallelSchema,
  dataLoaderSchema,
  dbSchema,
  benchSchema,
} from './schema.js';
export type {
  PerformanceConfig,
  CacheConfig,
  SerializeConfig,
  ParallelConfig,
  DataLoaderConfig,
  DbConfig,
  BenchConfig,
  DeepReadonly,
} from './schema.js';
export {
  PeakTradeError,
  ConfigValidationError,
  ConfigSyntaxError,
  ConfigReadError,
  errors,
} from './errors.js';
export type { ConfigIssue } from './errors.js';
