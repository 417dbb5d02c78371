export { RedisTier } from './redis-tier.js';
export type { RedisTierOptions, RedisTierStats, RedisTierEvents } from './redis-tier.js';
export { CircuitBreaker } from './breaker.js';
export type { CircuitBreakerOptions, BreakerState } from './breaker.js';
export { createClient } from './connect.js';
export type { RedisClient } from './connect.js';
export {
  PeakTradeError,
  RedisOptionError,
  CircuitOpenError,
  RedisCommandError,
  LeaseWaitTimeoutError,
  ValueTooLargeError,
  errors,
} from './errors.js';
