/** Base class of every error thrown by `@peaktrade/parallel-bullmq`. */
export class PeakTradeError extends Error {
  /** Stable machine-readable code, `E_BULLMQ_*`. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option had an invalid value; names the option, the value and what is allowed. */
export class BullmqOptionError extends PeakTradeError {
  static readonly code = 'E_BULLMQ_OPTION';
  readonly option: string;
  constructor(option: string, value: unknown, allowed: string) {
    super(
      BullmqOptionError.code,
      `Invalid option ${option} = ${JSON.stringify(value) ?? String(value)}: expected ${allowed}`,
    );
    this.option = option;
  }
}

/** Redis could not be reached (at start-up, or for longer than the run allows). */
export class RedisUnavailableError extends PeakTradeError {
  static readonly code = 'E_BULLMQ_REDIS_UNAVAILABLE';
  constructor(target: string, options?: ErrorOptions) {
    const why = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(RedisUnavailableError.code, `Redis at ${target} is not reachable${why}`, options);
  }
}

/** No live worker offers the requested export within the wait. */
export class NoWorkersError extends PeakTradeError {
  static readonly code = 'E_BULLMQ_NO_WORKERS';
  constructor(queue: string, exportName: string, waitedMs: number, offered: readonly string[]) {
    super(
      NoWorkersError.code,
      `No peaktrade-worker on queue "${queue}" offers export "${exportName}" (waited ${waitedMs} ms; live workers offer: ${offered.length ? offered.join(', ') : 'none'}). Start one: peaktrade-worker --redis <url> --queue ${queue} --module <file exporting ${exportName}>`,
    );
  }
}

/** The worker module could not be loaded, or lacks the requested export. */
export class WorkerModuleError extends PeakTradeError {
  static readonly code = 'E_BULLMQ_MODULE';
  constructor(message: string, options?: ErrorOptions) {
    super(WorkerModuleError.code, message, options);
  }
}

/** Redis lost the run's state (restarted without persistence, or keys evicted). */
export class RunLostError extends PeakTradeError {
  static readonly code = 'E_BULLMQ_RUN_LOST';
  constructor(runId: string) {
    super(
      RunLostError.code,
      `Run ${runId} disappeared from Redis (restarted without persistence, or its keys were evicted); its results cannot be collected`,
    );
  }
}

/** Every error class of this package, by name. */
export const errors = {
  PeakTradeError,
  BullmqOptionError,
  RedisUnavailableError,
  NoWorkersError,
  WorkerModuleError,
  RunLostError,
};
