import { availableParallelism } from 'node:os';
import { z } from 'zod';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.int().min(min).max(max);
/** Longest delay `setTimeout` honours; a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `[performance.cache]`: the multi-level cache (L1 memory, L2 Redis, L3 SQLite). */
export const cacheSchema = z.strictObject({
  /** L1 capacity in entries. */
  l1_size: int(1, 100_000_000).default(1000),
  /** L1 time-to-live in seconds; 0 keeps entries until evicted. */
  l1_ttl: z.number().min(0).max(31_536_000).default(300),
  /** L1 byte bound (0 = bounded by entry count only). */
  l1_max_bytes: int(0).default(0),
  /** ± fraction of jitter applied to TTLs so keys written together do not expire together (0..0.5). */
  ttl_jitter: z.number().min(0).max(0.5).default(0.1),
  /** Use the Redis tier when Redis answers. */
  l2_enabled: z.boolean().default(true),
  /** Redis URL: redis://, rediss://, or redis-sentinel:// forms accepted by ioredis. */
  redis_url: z
    .string()
    .regex(
      /^(rediss?|redis-sentinel):\/\//,
      'must start with redis://, rediss:// or redis-sentinel://',
    )
    .default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key this suite writes. */
  key_prefix: z.string().min(1).max(128).default('peaktrade:'),
  /** L2 time-to-live in seconds. */
  l2_ttl: z.number().min(0).max(31_536_000).default(3600),
  /** Per-command timeout for L2 in milliseconds; a slower tier is skipped. */
  l2_timeout_ms: int(1, 60_000).default(50),
  /** Use the SQLite disk tier. */
  l3_enabled: z.boolean().default(true),
  /** Path of the L3 SQLite file, relative to the working directory. */
  l3_path: z.string().min(1).default('.cache/peaktrade/l3.sqlite'),
  /** L3 size bound in bytes (default 1 GiB). */
  l3_max_bytes: int(1024).default(1024 ** 3),
  /** L3 time-to-live in seconds. */
  l3_ttl: z.number().min(0).max(31_536_000).default(86_400),
});

/** `[performance.serialize]`: the msgpack + zstd byte format. */
export const serializeSchema = z.strictObject({
  /** zstd compression level (1..22). */
  level: int(1, 22).default(3),
  /** Payloads smaller than this many bytes are stored raw, uncompressed. */
  threshold_bytes: int(0).default(1024),
  /** Largest payload accepted by decode, in bytes (default 512 MiB). */
  max_bytes: int(1).default(512 * 1024 ** 2),
});

/** `[performance.parallel]`: worker pools for CPU-bound work. */
export const parallelSchema = z.strictObject({
  /** Worker threads in the CPU pool. Defaults to the machine's available parallelism. */
  max_workers: int(1, 1024).default(() => availableParallelism()),
  /**
   * Keep CPU-bound work off the main event loop. In Node this means worker threads
   * (isolated V8 heaps, one per core), the counterpart of Python's process pool.
   * `false` runs tasks inline on the calling thread (useful for debugging).
   */
  use_processes: z.boolean().default(true),
  /** Idle workers are stopped after this many milliseconds (a timer: at most 2^31 - 1). */
  idle_timeout_ms: int(0, MAX_TIMER_MS).default(30_000),
  /** Tasks queued beyond the running ones before submitters wait (backpressure). */
  max_queue: int(1).default(10_000),
});

/** `[performance.data_loader]`: concurrent, rate-limited loading. */
export const dataLoaderSchema = z.strictObject({
  /** Requests in flight at once. */
  concurrency: int(1, 10_000).default(16),
  /** Per-request timeout in milliseconds (a timer: at most 2^31 - 1). */
  timeout_ms: int(1, MAX_TIMER_MS).default(10_000),
  /** Retries after the first attempt (idempotent requests only). */
  retries: int(0, 100).default(3),
  /** Requests per second per host (0 = unlimited). */
  rate_limit_per_sec: z.number().min(0).default(0),
});

/** `[performance.db]`: query profiling. */
export const dbSchema = z.strictObject({
  /** Statements slower than this many milliseconds go to the slow-query log. */
  slow_query_ms: z.number().min(0).default(100),
  /** Same statement more than this many times in one scope is reported as N+1. */
  n_plus_one_threshold: int(2).default(10),
  /** Rows per transaction in batch writes. */
  batch_chunk_size: int(1).default(10_000),
});

/** `[performance.bench]`: the benchmark runner. */
export const benchSchema = z.strictObject({
  /** Time budget per benchmark in milliseconds. */
  time_ms: int(1).default(500),
  /** Time budget per benchmark with --quick, in milliseconds. */
  quick_time_ms: int(1).default(100),
  /** Child processes per variant when a suite runs isolated. */
  processes: int(1, 100).default(3),
  /** Where --report writes its files. */
  report_dir: z.string().min(1).default('reports'),
});

/** `[performance]`: the whole file. */
export const performanceSchema = z.strictObject({
  /** Master switch for caching; `cached()` becomes a pass-through when false. */
  enable_caching: z.boolean().default(true),
  cache: cacheSchema.prefault({}),
  serialize: serializeSchema.prefault({}),
  parallel: parallelSchema.prefault({}),
  data_loader: dataLoaderSchema.prefault({}),
  db: dbSchema.prefault({}),
  bench: benchSchema.prefault({}),
});

/** The root of `config/performance.toml`. */
export const configSchema = z.strictObject({
  performance: performanceSchema.prefault({}),
});

/** Deeply read-only view of a value. */
export type DeepReadonly<T> = T extends object
  ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
  : T;

/** The validated configuration, as returned by `loadConfig`. Frozen. */
export type PerformanceConfig = DeepReadonly<z.output<typeof configSchema>>;
/** The `[performance.cache]` section. */
export type CacheConfig = PerformanceConfig['performance']['cache'];
/** The `[performance.serialize]` section. */
export type SerializeConfig = PerformanceConfig['performance']['serialize'];
/** The `[performance.parallel]` section. */
export type ParallelConfig = PerformanceConfig['performance']['parallel'];
/** The `[performance.data_loader]` section. */
export type DataLoaderConfig = PerformanceConfig['performance']['data_loader'];
/** The `[performance.db]` section. */
export type DbConfig = PerformanceConfig['performance']['db'];
/** The `[performance.bench]` section. */
export type BenchConfig = PerformanceConfig['performance']['bench'];
