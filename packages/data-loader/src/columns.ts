import { DataValidationError } from './errors.js';

/** Columnar OHLCV bars: six Float64Arrays of one length. `time` is epoch milliseconds. */
export interface OhlcvColumns {
  readonly time: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
}

/** Column names in their canonical order. */
export const OHLCV_FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;
/** One OHLCV column name. */
export type OhlcvField = (typeof OHLCV_FIELDS)[number];

/**
 * Appends bars into growable Float64Arrays (doubling), then trims once in {@link finish}.
 * No object is allocated per bar.
 */
export class ColumnBuilder {
  #cols: Float64Array[];
  #length = 0;

  constructor(initialCapacity = 1024) {
    this.#cols = OHLCV_FIELDS.map(() => new Float64Array(Math.max(16, initialCapacity)));
  }

  /** Bars appended so far. */
  get length(): number {
    return this.#length;
  }

  /** Append one bar. */
  push(time: number, open: number, high: number, low: number, close: number, volume: number): void {
    if (this.#length === this.#cols[0]!.length) this.#grow();
    const i = this.#length++;
    const c = this.#cols;
    c[0]![i] = time;
    c[1]![i] = open;
    c[2]![i] = high;
    c[3]![i] = low;
    c[4]![i] = close;
    c[5]![i] = volume;
  }

  /** The bars as exact-length columns (copies once; the builder can be reused after reset). */
  finish(): OhlcvColumns {
    const n = this.#length;
    const [time, open, high, low, close, volume] = this.#cols.map((col) => col.slice(0, n)) as [
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
      Float64Array,
    ];
    return { time, open, high, low, close, volume };
  }

  #grow(): void {
    this.#cols = this.#cols.map((col) => {
      const next = new Float64Array(col.length * 2);
      next.set(col);
      return next;
    });
  }
}

/**
 * Check that `data` is valid OHLCV: all six columns present as Float64Arrays of one length,
 * every value finite, time strictly increasing. The error names the symbol, the field and the
 * row. Returns `data` unchanged.
 * @throws {DataValidationError}
 */
export function validateColumns(symbol: string, data: unknown): OhlcvColumns {
  if (typeof data !== 'object' || data === null)
    throw new DataValidationError(symbol, 'expected an object of OHLCV columns');
  const record = data as Record<string, unknown>;
  let length = -1;
  for (const field of OHLCV_FIELDS) {
    const col = record[field];
    if (col === undefined) throw new DataValidationError(symbol, 'missing column', { field });
    if (!(col instanceof Float64Array))
      throw new DataValidationError(symbol, `expected a Float64Array, got ${describe(col)}`, {
        field,
      });
    if (length === -1) length = col.length;
    else if (col.length !== length) {
      throw new DataValidationError(
        symbol,
        `length mismatch: ${col.length} values where "time" has ${length}`,
        { field },
      );
    }
  }
  for (const field of OHLCV_FIELDS) {
    const col = record[field] as Float64Array;
    for (let i = 0; i < col.length; i++) {
      if (!Number.isFinite(col[i]))
        throw new DataValidationError(symbol, `non-numeric value ${col[i]}`, { row: i, field });
    }
  }
  const time = record.time as Float64Array;
  for (let i = 1; i < time.length; i++) {
    if (!(time[i]! > time[i - 1]!)) {
      throw new DataValidationError(
        symbol,
        `unsorted time: ${time[i]} does not follow ${time[i - 1]}`,
        { row: i, field: 'time' },
      );
    }
  }
  return data as OhlcvColumns;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
