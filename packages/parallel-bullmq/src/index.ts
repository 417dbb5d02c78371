export { bullmqBackend } from './backend.js';
export type { BullmqBackend, BullmqBackendOptions, BullmqBackendStats } from './backend.js';
export { startWorker, resolveModule } from './worker.js';
export type { StartWorkerOptions, RunningWorker } from './worker.js';
export { encodeDataset, uploadDataset, downloadDataset, DEFAULT_PART_BYTES } from './dataset.js';
export type { ConnectionInput } from './connection.js';
export type { ChunkJob, WorkerInfo } from './protocol.js';
export {
  PeakTradeError,
  BullmqOptionError,
  RedisUnavailableError,
  NoWorkersError,
  WorkerModuleError,
  RunLostError,
  errors,
} from './errors.js';
