/**
 * FIFO queue on a growable power-of-two ring buffer: `push` and `shift` are O(1) (amortised
 * for `push` when it grows), unlike `Array.prototype.shift`, which is O(n). Slots are cleared
 * on `shift` so the queue never retains dequeued values.
 */
export class RingQueue<T> {
  #buf: (T | undefined)[];
  #mask: number;
  #head = 0;
  #size = 0;

  /** @param initialCapacity rounded up to a power of two (minimum 16). */
  constructor(initialCapacity = 16) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.#buf = new Array<T | undefined>(cap);
    this.#mask = cap - 1;
  }

  /** Number of values in the queue. */
  get size(): number {
    return this.#size;
  }

  /** Current slot capacity (grows by doubling). */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Append a value at the tail. */
  push(value: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) & this.#mask] = value;
    this.#size++;
  }

  /** Remove and return the head value, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const value = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    return value;
  }

  /** The head value without removing it, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[this.#head];
  }

  /** Remove every value. */
  clear(): void {
    this.#buf.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const old = this.#buf;
    const cap = old.length * 2;
    const next = new Array<T | undefined>(cap);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#buf = next;
    this.#mask = cap - 1;
    this.#head = 0;
  }
}
