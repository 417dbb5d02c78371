export { DataLoader } from './loader.js';
export type {
  DataLoaderOptions,
  LoadOptions,
  LoadManyOptions,
  LoadManyResult,
  LoadProgress,
  LoaderStats,
  LoaderCache,
} from './loader.js';
export { createLimiter } from './limiter.js';
export type { Limiter } from './limiter.js';
export { KeyedRateLimiter, sleep } from './rate-limit.js';
export type { RateLimitOptions, Sleep } from './rate-limit.js';
export {
  withRetry,
  resolveRetryPolicy,
  retryDelay,
  isTransient,
  parseRetryAfter,
} from './retry.js';
export type { RateLimitWait, RetryOptions, RetryPolicy } from './retry.js';
export type { RetryCallbackName } from './errors.js';
export { ColumnBuilder, validateColumns, OHLCV_FIELDS } from './columns.js';
export type { OhlcvColumns, OhlcvField } from './columns.js';
export { CsvParser, parseCsv, parseNumber } from './csv.js';
export type { CsvOptions } from './csv.js';
export { httpSource, jsonToColumns } from './sources/http.js';
export type { HttpSourceOptions, HttpFormat } from './sources/http.js';
export { csvFileSource, readCsvFile } from './sources/csv-file.js';
export type { CsvFileSourceOptions } from './sources/csv-file.js';
export {
  columnarFileSource,
  writeColumnarFile,
  readColumnarFile,
  encodeColumnar,
  decodeColumnar,
  COLUMNAR_FORMAT,
  COLUMNAR_VERSION,
} from './sources/columnar.js';
export type { ColumnarSourceOptions, ColumnarWriteOptions } from './sources/columnar.js';
export { sqliteSource } from './sources/sqlite.js';
export type { SqliteSourceOptions } from './sources/sqlite.js';
export type { Source, SourceContext } from './sources/types.js';
export {
  PeakTradeError,
  LoaderOptionError,
  DataValidationError,
  HttpStatusError,
  HttpConnectionError,
  HttpProtocolError,
  LoadTimeoutError,
  LoadAbortedError,
  LoadFailedError,
  RetryCallbackError,
  errors,
} from './errors.js';
