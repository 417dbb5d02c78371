/**
 * FIFO queue on a growable ring buffer: O(1) push and shift, no per-item allocation beyond
 * the stored value (Array#shift is O(n) on large arrays).
 */
export class RingQueue<T> {
  #items: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(initialCapacity = 16) {
    this.#items = new Array<T | undefined>(Math.max(2, initialCapacity));
  }

  /** Items waiting. */
  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) % this.#items.length] = item;
    this.#size++;
  }

  /** Remove and return the oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#size--;
    return item;
  }

  /** Remove the first item matching `predicate`; O(n), used only for cancellation. */
  remove(predicate: (item: T) => boolean): boolean {
    for (let i = 0; i < this.#size; i++) {
      const index = (this.#head + i) % this.#items.length;
      if (predicate(this.#items[index] as T)) {
        for (let j = i; j < this.#size - 1; j++) {
          this.#items[(this.#head + j) % this.#items.length] =
            this.#items[(this.#head + j + 1) % this.#items.length];
        }
        this.#items[(this.#head + this.#size - 1) % this.#items.length] = undefined;
        this.#size--;
        return true;
      }
    }
    return false;
  }

  #grow(): void {
    const next = new Array<T | undefined>(this.#items.length * 2);
    for (let i = 0; i < this.#size; i++)
      next[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = next;
    this.#head = 0;
  }
}
