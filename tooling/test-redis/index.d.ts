/** A Redis the tests can use. */
export interface TestRedis {
  /** redis://host:port */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** True when this helper started the server (and stop() will end it). */
  readonly private: boolean;
  /** Stop a private server (no-op for a shared one). */
  stop(): Promise<void>;
}

/**
 * The Redis at REDIS_URL (default redis://127.0.0.1:6379) when it answers PING; otherwise a
 * private redis-server on a free port when the binary exists. Resolves undefined when neither
 * is possible: callers fail when CI is set and skip loudly otherwise (see requireRedis).
 */
export declare function findOrStartRedis(): Promise<TestRedis | undefined>;

/** Like findOrStartRedis, but throws in CI and logs a loud skip reason elsewhere. */
export declare function requireRedis(): Promise<TestRedis | undefined>;

/** Start a private redis-server on `port` (default: a free one) with extra arguments, e.g. ['--enable-debug-command', 'yes']. */
export declare function startPrivateRedis(options?: {
  port?: number;
  args?: readonly string[];
}): Promise<TestRedis>;

/** Whether something answers PING at host:port within timeoutMs. */
export declare function pingRedis(host: string, port: number, timeoutMs?: number): Promise<boolean>;

/** A free TCP port on 127.0.0.1. */
export declare function freePort(): Promise<number>;

/** Delete every key matching any of the SCAN patterns (e.g. `myprefix:*`); resolves how many. */
export declare function deleteKeys(url: string, ...patterns: string[]): Promise<number>;
