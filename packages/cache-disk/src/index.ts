export { DiskTier } from './disk-tier.js';
export type { DiskTierStats } from './disk-tier.js';
export { DEFAULT_MAX_BYTES } from './options.js';
export type { DiskTierOptions, DiskCodec, DiskTierEvent } from './options.js';
export { SCHEMA_VERSION, APPLICATION_ID } from './schema.js';
export {
  PeakTradeError,
  DiskTierOptionError,
  DiskCorruptError,
  DiskSchemaError,
  DiskStorageError,
  DiskValueError,
  DiskTierClosedError,
  errors,
} from './errors.js';
