/**
 * Reusable receive buffers for HTTP bodies. Every parser in this package copies what it keeps
 * out of the body (columns never alias it), so a body buffer can be handed back as soon as the
 * body is parsed. Reusing them spares the allocator and the garbage collector tens of MB per
 * batch of large responses.
 */
export class BodyPool {
  readonly #free: Buffer[] = [];
  readonly #maxBuffers: number;
  readonly #maxBytes: number;

  /**
   * @param maxBuffers buffers kept for reuse at most
   * @param maxBytes larger bodies get a one-off buffer that is not kept
   */
  constructor(maxBuffers = 32, maxBytes = 16 * 1024 * 1024) {
    this.#maxBuffers = maxBuffers;
    this.#maxBytes = maxBytes;
  }

  /** A buffer of at least `size` bytes (contents undefined). */
  acquire(size: number): Buffer {
    for (let i = this.#free.length - 1; i >= 0; i--) {
      const buffer = this.#free[i]!;
      if (buffer.length >= size) {
        this.#free.splice(i, 1);
        return buffer;
      }
    }
    // Round up to 64 KiB so slightly different sizes share buffers.
    return Buffer.allocUnsafeSlow(Math.max(size, Math.ceil(size / 65_536) * 65_536));
  }

  /** Give a buffer back; nothing may read it afterwards. */
  release(buffer: Buffer): void {
    if (buffer.length <= this.#maxBytes && this.#free.length < this.#maxBuffers)
      this.#free.push(buffer);
  }
}
