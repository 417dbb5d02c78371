/**
 * A millisecond wall clock (`Date.now()`) that is read at most once per resolution window.
 *
 * The first read in a window calls `Date.now()` and arms one unref'd interval; later reads
 * in the window return the cached value without a call. The interval clears the cached value
 * at every tick and stops itself after a tick with no reads, so an idle process has no timer
 * running. While reads keep coming the same interval object is reused: a read never allocates.
 * Works with fake timers (`vi.useFakeTimers()` fakes both `Date` and `setInterval`).
 */
export class CachedClock {
  /**
   * @internal The cached reading (epoch ms), 0 when stale. Hot paths read this field directly
   * instead of calling `now()`: a non-inlined call returning a double boxes it (16 bytes).
   */
  value = 0;
  /** @internal Whether the clock was read since the last tick. */
  read = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #resolutionMs: number;
  readonly #tick: () => void;

  /** @param resolutionMs how long a read may be reused, in milliseconds (default 1, min 1). */
  constructor(resolutionMs = 1) {
    this.#resolutionMs = Math.max(1, resolutionMs);
    this.#tick = () => {
      this.value = 0;
      if (!this.read) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
      this.read = false;
    };
  }

  /** Current time in epoch milliseconds, at most `resolutionMs` old. */
  now(): number {
    const v = this.value;
    if (v !== 0) {
      this.read = true;
      return v;
    }
    return this.refresh();
  }

  /** @internal Read the real clock, cache it and arm the interval. */
  refresh(): number {
    const n = Date.now();
    this.value = n;
    this.read = true;
    if (this.#timer === undefined) {
      const t = setInterval(this.#tick, this.#resolutionMs);
      t.unref();
      this.#timer = t;
    }
    return n;
  }

  /** Forget the cached reading so the next `now()` reads the real clock. */
  invalidate(): void {
    this.value = 0;
  }

  /** Stop the interval (if any). The clock keeps working and re-arms on the next read. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.value = 0;
  }
}
