import { expireEnvelope, isCacheEnvelope } from '../envelope.js';
import type { CacheTier, TierSetOptions } from '../tier.js';

/** How a {@link MemoryTier} misbehaves. */
export type Fault = 'none' | 'throw' | 'hang' | 'reject';

/**
 * A real, in-process CacheTier over a Map (expiry by Date.now), used to exercise
 * MultiLevelCache without Redis or SQLite. It can be told to throw, reject or never answer.
 */
export class MemoryTier implements CacheTier {
  readonly storage = 'values' as const;
  readonly name: string;
  readonly level?: string;
  readonly data = new Map<string, { value: unknown; expiresAt: number; tags: readonly string[] }>();
  readonly calls = {
    get: 0,
    set: 0,
    delete: 0,
    getMany: 0,
    clear: 0,
    deleteByTag: 0,
    expireByTag: 0,
  };
  fault: Fault = 'none';
  /**
   * Store keys and tags as UTF-8, as Redis and SQLite do: a lone surrogate becomes U+FFFD, so
   * `'a\ud800'` and `'a\udbff'` name one entry.
   */
  utf8Keys = false;
  readonly #listeners = new Set<(keys: readonly string[] | 'all') => void>();
  readonly #hung: (() => void)[] = [];

  constructor(name: string, level?: string) {
    this.name = name;
    if (level !== undefined) this.level = level;
  }

  #maybeFail(): Promise<void> | undefined {
    if (this.fault === 'throw') throw new Error(`${this.name} exploded`);
    if (this.fault === 'reject') return Promise.reject(new Error(`${this.name} rejected`));
    if (this.fault === 'hang') return new Promise<void>((resolve) => this.#hung.push(resolve));
    return undefined;
  }

  /** Let every hung call finish (so nothing dangles after a test). */
  release(): void {
    for (const r of this.#hung.splice(0)) r();
  }

  #k(key: string): string {
    return this.utf8Keys ? Buffer.from(key, 'utf8').toString('utf8') : key;
  }

  #live(key: string): unknown {
    const e = this.data.get(this.#k(key));
    if (e === undefined) return undefined;
    if (e.expiresAt !== 0 && e.expiresAt <= Date.now()) {
      this.data.delete(this.#k(key));
      return undefined;
    }
    return e.value;
  }

  async get(key: string): Promise<unknown> {
    this.calls.get++;
    const f = this.#maybeFail();
    if (f) await f;
    return this.#live(key);
  }

  async getMany(keys: readonly string[]): Promise<unknown[]> {
    this.calls.getMany++;
    const f = this.#maybeFail();
    if (f) await f;
    return keys.map((k) => this.#live(k));
  }

  async set(key: string, value: unknown, options?: TierSetOptions): Promise<void> {
    this.calls.set++;
    const f = this.#maybeFail();
    if (f) await f;
    const ttl = options?.ttlMs ?? 0;
    this.data.set(this.#k(key), {
      value,
      expiresAt: ttl === 0 || ttl === Infinity ? 0 : Date.now() + ttl,
      tags: (options?.tags ?? []).map((t) => this.#k(t)),
    });
  }

  async delete(key: string): Promise<boolean> {
    this.calls.delete++;
    const f = this.#maybeFail();
    if (f) await f;
    return this.data.delete(this.#k(key));
  }

  async clear(): Promise<void> {
    this.calls.clear++;
    const f = this.#maybeFail();
    if (f) await f;
    this.data.clear();
  }

  async deleteByTag(tag: string): Promise<number> {
    this.calls.deleteByTag++;
    tag = this.#k(tag);
    let n = 0;
    for (const [k, e] of this.data) {
      if (e.tags.includes(tag)) {
        this.data.delete(k);
        n++;
      }
    }
    return Promise.resolve(n);
  }

  async expireByTag(tag: string): Promise<number> {
    this.calls.expireByTag++;
    tag = this.#k(tag);
    const now = Date.now();
    let n = 0;
    for (const [k, e] of this.data) {
      if (!e.tags.includes(tag)) continue;
      n++;
      const next = isCacheEnvelope(e.value) ? expireEnvelope(e.value, now) : undefined;
      if (next === undefined) this.data.delete(k);
      else this.data.set(k, { ...e, value: next });
    }
    return Promise.resolve(n);
  }

  onInvalidate(listener: (keys: readonly string[] | 'all') => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Simulate another process invalidating keys through this (shared) tier. */
  emitInvalidate(keys: readonly string[] | 'all'): void {
    for (const l of this.#listeners) l(keys);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}
