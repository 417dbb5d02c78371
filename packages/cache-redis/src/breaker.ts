import { RedisOptionError } from './errors.js';

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Failures within `windowMs` that open the breaker (default 5). */
  readonly failureThreshold?: number;
  /** Sliding window for counting failures, in ms (default 10 000). */
  readonly windowMs?: number;
  /** Time the breaker stays open before one half-open probe, in ms (default 2 000; finite). */
  readonly cooldownMs?: number;
}

/** Breaker states. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker: opens after `failureThreshold` failures within `windowMs`; while open every
 * call is refused at once; after `cooldownMs` exactly one probe is let through (half-open), and
 * its success closes the breaker while its failure opens it again.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  readonly #onChange: (state: BreakerState) => void;
  /** Failure times, a ring of the last `threshold`. */
  readonly #failures: Float64Array;
  #count = 0;
  #head = 0;
  #state: BreakerState = 'closed';
  #openedAt = 0;
  #probing = false;

  /** @throws {RedisOptionError} naming a bad option. */
  constructor(
    options: CircuitBreakerOptions = {},
    onChange: (state: BreakerState) => void = () => {},
    now: () => number = () => performance.now(),
  ) {
    const threshold = options.failureThreshold ?? 5;
    if (!Number.isInteger(threshold) || threshold < 1)
      throw new RedisOptionError('breaker.failureThreshold', threshold, 'a positive integer');
    const windowMs = options.windowMs ?? 10_000;
    if (typeof windowMs !== 'number' || !(windowMs > 0))
      throw new RedisOptionError('breaker.windowMs', windowMs, 'a number of milliseconds > 0');
    const cooldownMs = options.cooldownMs ?? 2_000;
    // Infinity would never let a probe through: the tier would stay refused for good.
    if (typeof cooldownMs !== 'number' || !(cooldownMs >= 0) || cooldownMs === Infinity)
      throw new RedisOptionError(
        'breaker.cooldownMs',
        cooldownMs,
        'a finite number of milliseconds >= 0',
      );
    this.#threshold = threshold;
    this.#windowMs = windowMs;
    this.#cooldownMs = cooldownMs;
    this.#failures = new Float64Array(threshold);
    this.#onChange = onChange;
    this.#now = now;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Whether a call may go to Redis now. Returns 0 when allowed; otherwise the ms until the next
   * probe. In half-open state only one caller (the probe) is allowed until it reports back.
   */
  check(): number {
    if (this.#state === 'closed') return 0;
    const wait = this.#openedAt + this.#cooldownMs - this.#now();
    if (this.#state === 'open' && wait <= 0 && !this.#probing) {
      this.#set('half-open');
      this.#probing = true;
      return 0;
    }
    return Math.max(wait, 1);
  }

  /** Report a successful call. */
  success(): void {
    if (this.#state !== 'closed') {
      this.#probing = false;
      this.#count = 0;
      this.#set('closed');
    }
  }

  /** Report a failed call. */
  failure(): void {
    const now = this.#now();
    if (this.#state === 'half-open') {
      this.#probing = false;
      this.#open(now);
      return;
    }
    if (this.#state === 'open') return;
    this.#failures[this.#head] = now;
    this.#head = (this.#head + 1) % this.#threshold;
    if (this.#count < this.#threshold) this.#count++;
    // The oldest of the last `threshold` failures is within the window: open.
    const oldest = this.#failures[this.#count < this.#threshold ? 0 : this.#head]!;
    if (this.#count >= this.#threshold && now - oldest <= this.#windowMs) this.#open(now);
  }

  #open(now: number): void {
    this.#openedAt = now;
    this.#set('open');
  }

  #set(state: BreakerState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#onChange(state);
  }
}
