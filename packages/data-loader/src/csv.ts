import {
  ColumnBuilder,
  OHLCV_FIELDS,
  validateColumns,
  type OhlcvColumns,
  type OhlcvField,
} from './columns.js';
import { DataValidationError, LoaderOptionError } from './errors.js';
import { numberRefusal, parseDecimal, trimBlanks } from './number.js';
import { parseTime, TIME_FORMS } from './time.js';

const QUOTE = 34;
const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;
const MINUS = 45;
const PLUS = 43;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const LOWER_E = 101;
const UPPER_E = 69;

/** Exactly representable powers of ten: m / 10^k and m * 10^k are then correctly rounded. */
const POW10 = Float64Array.from({ length: 23 }, (_, k) => 10 ** k);

/** Names a CSV header may use for each column (compared case-insensitively, trimmed). */
const ALIASES: Record<OhlcvField, readonly string[]> = {
  time: ['time', 'timestamp', 'date', 'datetime', 'ts', 't'],
  open: ['open', 'o'],
  high: ['high', 'h'],
  low: ['low', 'l'],
  close: ['close', 'c', 'price'],
  volume: ['volume', 'vol', 'v'],
};

/** Options of the CSV parser. */
export interface CsvOptions {
  /**
   * `'auto'` (default): the first line is a header when it names every column (see `columns`
   * and the usual names) or when its non-empty fields are all names; it is data when they are
   * all values (a number, or a first field holding a digit, read as a time even when it is not
   * a valid one). Empty fields decide nothing: `,open,high,low,close,volume` is a header without
   * a time column (pass `columns: { time: '' }` to read its unnamed column as the time),
   * `,1,2,1,2,100` a data row without its time. Names beside values (`1,1,x,1,1,1`, an extra
   * text column, `t1,open,...`) cannot be told apart: a {@link DataValidationError} at row 0
   * asks for `header: true` or `false`. Without a header the columns are time, open, high, low,
   * close, volume in that order.
   */
  readonly header?: 'auto' | boolean;
  /** Field delimiter, one ASCII character (default `,`). */
  readonly delimiter?: string;
  /** Header names to use for each column, when they differ from the usual ones. */
  readonly columns?: Partial<Record<OhlcvField, string>>;
}

/**
 * Streaming CSV → OHLCV parser over bytes. Plain numeric fields are parsed straight from the
 * bytes with no string or object per row (exact: the same double `Number()` gives). Quoted
 * fields, `""` escapes, CRLF or LF line ends and ISO dates in the time column take a slower
 * path. The time column takes epoch milliseconds or ISO-8601 dates and date-times (see
 * `parseTime` in `time.ts`: a missing offset means UTC); anything else is a
 * {@link DataValidationError} naming the row and the field. Feed chunks with {@link push}, then
 * call {@link finish}.
 */
export class CsvParser {
  readonly #symbol: string;
  readonly #delimiter: number;
  /** Whether {@link plainNumber} can read fields: not with a digit, `.` or `-` as the delimiter. */
  readonly #fastFields: boolean;
  readonly #headerMode: 'auto' | boolean;
  readonly #names: Partial<Record<OhlcvField, string>>;
  readonly #builder = new ColumnBuilder(4096);
  /** For each field position: target column index 0..5, or -1 to ignore. */
  #fieldMap: Int8Array | undefined;
  #fieldCount = 0;
  readonly #row = new Float64Array(6);
  #carry: Uint8Array | undefined;
  #dataRow = 0;
  #sawFirstLine = false;
  #done = false;

  /** @throws {LoaderOptionError} for a delimiter that is not one ASCII character. */
  constructor(symbol: string, options: CsvOptions = {}) {
    const delimiter = options.delimiter ?? ',';
    if (delimiter.length !== 1 || delimiter.charCodeAt(0) > 127 || delimiter === '"') {
      throw new LoaderOptionError(
        'delimiter',
        delimiter,
        'one ASCII character other than a double quote',
      );
    }
    this.#symbol = symbol;
    this.#delimiter = delimiter.charCodeAt(0);
    const code = this.#delimiter;
    this.#fastFields = !((code >= ZERO && code <= NINE) || code === DOT || code === MINUS);
    this.#headerMode = options.header ?? 'auto';
    this.#names = options.columns ?? {};
  }

  /** Parse the next chunk of bytes. A record split across chunks is carried over. */
  push(chunk: Uint8Array): void {
    if (this.#done) throw new Error('CsvParser: push() after finish()');
    // A plain Uint8Array view of a Buffer: with one kind of array the parsing loops stay
    // monomorphic (stream chunks are Buffers, joined carries Uint8Arrays; given both, V8
    // deoptimised the loop for the "wrong map" and ran it on polymorphic loads).
    let buf =
      chunk.constructor === Uint8Array
        ? chunk
        : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#carry) {
      buf = new Uint8Array(this.#carry.length + chunk.length);
      buf.set(this.#carry);
      buf.set(chunk, this.#carry.length);
      this.#carry = undefined;
    }
    if (!this.#bomChecked) {
      const start = this.#skipBom(buf, false);
      if (start < 0) {
        this.#carry = buf.slice();
        return;
      }
      buf = buf.subarray(start);
    }
    const consumed = this.#parse(buf, false);
    if (consumed < buf.length) this.#carry = buf.slice(consumed);
  }

  /** Parse whatever is left and return validated columns. */
  finish(): OhlcvColumns {
    if (!this.#done) {
      this.#done = true;
      if (this.#carry) {
        const start = this.#bomChecked ? 0 : this.#skipBom(this.#carry, true);
        this.#parse(this.#carry.subarray(start), true);
      }
      this.#carry = undefined;
    }
    if (!this.#fieldMap) {
      // Empty input or a header only: zero bars, which is valid.
      return this.#builder.finish();
    }
    return validateColumns(this.#symbol, this.#builder.finish());
  }

  #bomChecked = false;

  /**
   * Where the text starts after a UTF-8 byte order mark, which spreadsheet exports put first:
   * left in, it sticks to the first field, so a quoted one ("\uFEFF"time"") no longer reads as
   * quoted and a headerless first time becomes a Date.parse guess. -1 while the bytes so far
   * could still be the start of one.
   */
  #skipBom(b: Uint8Array, final: boolean): number {
    const BOM = [0xef, 0xbb, 0xbf];
    for (let i = 0; i < BOM.length; i++) {
      if (i >= b.length) {
        if (final) break;
        return -1;
      }
      if (b[i] !== BOM[i]) {
        this.#bomChecked = true;
        return 0;
      }
      if (i === BOM.length - 1) {
        this.#bomChecked = true;
        return BOM.length;
      }
    }
    this.#bomChecked = true;
    return 0;
  }

  /** Parse complete records from `b`; returns the index of the first byte not consumed. */
  #parse(b: Uint8Array, final: boolean): number {
    const len = b.length;
    const d = this.#delimiter;
    let p = 0;
    while (p < len) {
      const recordStart = p;
      let field = 0;
      let endOfRecord = false;
      let emptyLine = true;
      while (!endOfRecord) {
        if (p >= len) {
          if (!final) return recordStart;
          // The input ends right after a delimiter: that record's last field is empty, as it
          // would be before a line end (else the record is one field short).
          if (field > 0) {
            this.#store(field, Number.NaN, undefined);
            field++;
          }
          break;
        }
        let value: number;
        let fieldEnd: number;
        let stringValue: string | undefined;
        if (b[p] === QUOTE) {
          // Quoted field: find the closing quote, unescaping "".
          let q = p + 1;
          let closed = -1;
          while (q < len) {
            if (b[q] === QUOTE) {
              if (q + 1 < len && b[q + 1] === QUOTE) {
                q += 2;
                continue;
              }
              if (q + 1 >= len && !final) break; // might be the first half of ""
              closed = q;
              break;
            }
            q++;
          }
          if (closed === -1) {
            if (!final) return recordStart;
            throw this.#error('unterminated quoted field', field);
          }
          stringValue = Buffer.from(b.buffer, b.byteOffset + p + 1, closed - p - 1)
            .toString('utf8')
            .replace(/""/g, '"');
          value = Number.NaN;
          fieldEnd = closed + 1;
          emptyLine = false;
        } else if (this.#fastFields && (value = plainNumber(b, p, len, d)) === value) {
          // The common field: a plain number that ends at the delimiter or the line end. It ends
          // here rather than in the shared tail below, which re-checks for blanks and a chunk end
          // that cannot follow it: falling through to that tail took 246–284 ms against 231–242 ms
          // for a 1M-row file (medians of 5, alternated, three runs of one script, 2-vCPU AMD
          // EPYC VM, family 25 model 17, 2026-11-27).
          const q = plainNumberEnd;
          this.#store(field, value, undefined);
          field++;
          emptyLine = false;
          if (b[q] === d) {
            p = q + 1;
            continue;
          }
          // CR or LF, as after any other field
          p = b[q] === CR ? q + 1 : q;
          if (p < len && b[p] === LF) p++;
          endOfRecord = true;
          continue;
        } else {
          let q = p;
          while (q < len && b[q] !== d && b[q] !== LF && b[q] !== CR) q++;
          if (q >= len && !final) return recordStart;
          value = parseNumber(b, p, q);
          if (Number.isNaN(value) && q > p)
            stringValue = Buffer.from(b.buffer, b.byteOffset + p, q - p).toString('utf8');
          if (q > p) emptyLine = false;
          fieldEnd = q;
        }
        // Delimiter or end of record after the field.
        let next = fieldEnd;
        while (next < len && (b[next] === SPACE || b[next] === TAB) && d !== SPACE && d !== TAB)
          next++;
        // Blanks after a closing quote that end the chunk: the delimiter or line end that
        // decides what follows is in the next chunk.
        if (next >= len && !final) return recordStart;
        if (next < len && b[next] === d) {
          this.#store(field, value, stringValue);
          field++;
          p = next + 1;
          emptyLine = false;
          continue;
        }
        if (next < len && b[next] !== CR && b[next] !== LF) {
          throw this.#error('unexpected character after a quoted field', field);
        }
        if (next < len && b[next] === CR) next++;
        // A CR that ends a chunk may have its LF in the next one: that LF then reads as an empty line.
        if (next < len && b[next] === LF) next++;
        this.#store(field, value, stringValue);
        field++;
        p = next;
        endOfRecord = true;
      }
      if (emptyLine && field <= 1) {
        if (p === recordStart) p++; // final empty remainder
        continue;
      }
      this.#endRecord(field);
    }
    return p;
  }

  #pendingStrings: (string | undefined)[] = [];

  #store(field: number, value: number, stringValue: string | undefined): void {
    if (!this.#sawFirstLine) {
      // NaN with no text is an empty field; String(NaN) would report it as "NaN". String() gives
      // back every other number exactly when it is read again, except -0, which it writes as "0".
      this.#pendingStrings[field] =
        stringValue ?? (value !== value ? '' : Object.is(value, -0) ? '-0' : String(value));
      return;
    }
    const map = this.#fieldMap!;
    if (field >= map.length) return; // counted in #endRecord
    const target = map[field]!;
    if (target < 0) return;
    if (stringValue !== undefined) value = this.#slowValue(target, stringValue, field);
    this.#row[target] = value;
  }

  /**
   * A field the fast path could not read: a quoted one, an ISO time, an empty field, or a value
   * outside the number grammar. Prices and volumes take only {@link parseDecimal}'s grammar
   * (`Number()` would also take `0x10`, `0b1`, `Infinity` and blanks such as a no-break space).
   */
  #slowValue(target: number, text: string, field: number): number {
    const trimmed = trimBlanks(text);
    if (target === 0) {
      const t = parseTime(trimmed);
      if (!Number.isNaN(t)) return t;
      throw this.#error(`invalid time ${JSON.stringify(text)}: expected ${TIME_FORMS}`, field);
    }
    const n = parseDecimal(trimmed);
    if (!Number.isNaN(n)) return n;
    throw this.#error(numberRefusal(text), field);
  }

  #endRecord(fields: number): void {
    if (!this.#sawFirstLine) {
      this.#sawFirstLine = true;
      this.#setupColumns(fields);
      if (this.#fieldMap && !this.#firstLineIsHeader) this.#replayFirstLine(fields);
      this.#pendingStrings = [];
      return;
    }
    if (fields !== this.#fieldCount) {
      throw new DataValidationError(
        this.#symbol,
        `expected ${this.#fieldCount} fields, got ${fields}`,
        { row: this.#dataRow },
      );
    }
    const r = this.#row;
    // Every value stored is a number or came through #slowValue, which throws rather than give
    // NaN: a NaN here is an empty field. One sum per row finds it; only then is the field named.
    const sum = r[0]! + r[1]! + r[2]! + r[3]! + r[4]! + r[5]!;
    if (sum !== sum) this.#refuseEmptyField();
    this.#builder.push(r[0]!, r[1]!, r[2]!, r[3]!, r[4]!, r[5]!);
    this.#dataRow++;
  }

  /** Throw for the first empty field of the current row, as for any other bad value. */
  #refuseEmptyField(): never {
    const map = this.#fieldMap!;
    for (let f = 0; f < map.length; f++) {
      const target = map[f]!;
      if (target >= 0 && Number.isNaN(this.#row[target])) this.#slowValue(target, '', f);
    }
    throw new Error('CsvParser: a NaN in a row without an empty field');
  }

  #firstLineIsHeader = false;

  #setupColumns(fields: number): void {
    const first = this.#pendingStrings.slice(0, fields).map((s) => s ?? '');
    const named = this.#headerMap(first);
    const isHeader =
      this.#headerMode === 'auto' ? this.#looksLikeHeader(first, named) : this.#headerMode;
    this.#firstLineIsHeader = isHeader;
    this.#fieldCount = fields;
    if (isHeader) {
      if (typeof named === 'string') throw this.#missingColumn(named, first);
      this.#fieldMap = named;
      return;
    }
    if (fields < 6)
      throw new DataValidationError(
        this.#symbol,
        `expected 6 fields (time, open, high, low, close, volume), got ${fields}`,
        { row: 0 },
      );
    const map = new Int8Array(fields).fill(-1);
    for (let i = 0; i < 6; i++) map[i] = i;
    this.#fieldMap = map;
  }

  /**
   * The columns of `first` read as a header: for each field position the target column index
   * 0..5 or -1, or else the first column that no field names.
   */
  #headerMap(first: readonly string[]): Int8Array | OhlcvField {
    const lower = first.map((s) => s.trim().toLowerCase());
    const map = new Int8Array(first.length).fill(-1);
    for (let target = 0; target < OHLCV_FIELDS.length; target++) {
      const name = OHLCV_FIELDS[target]!;
      const wanted = this.#names[name]?.toLowerCase();
      const index =
        wanted !== undefined
          ? lower.indexOf(wanted)
          : lower.findIndex((h) => ALIASES[name].includes(h));
      if (index === -1) return name;
      map[index] = target;
    }
    return map;
  }

  /**
   * `header: 'auto'`: whether the first line is a header. It is when it names every column; else
   * its non-empty fields decide: names only make a header (which then lacks a column), values
   * only make data. An empty field decides nothing: a header may leave a column unnamed (pandas
   * writes its index so) and data may lack a value, so `,open,...` is a header and `,1,2,...` a
   * data row without its time.
   * @throws {DataValidationError} at row 0 when the line holds both names and values.
   */
  #looksLikeHeader(first: readonly string[], named: Int8Array | OhlcvField): boolean {
    if (typeof named !== 'string') return true;
    const names: string[] = [];
    const values: string[] = [];
    first.forEach((text, i) => {
      const trimmed = text.trim();
      if (trimmed === '') return;
      // Deliberately looser than the number grammar: a data line holding `0x10` or `Infinity`
      // stays data, so that the value is reported as a bad number rather than as a header
      // without its columns. A first field holding a digit is taken for a time even when it is
      // not a valid one (a date in an unsupported form), for the same reason.
      if (!Number.isNaN(Number(trimmed)) || (i === 0 && /\d/.test(trimmed))) values.push(text);
      else names.push(text);
    });
    if (names.length === 0) return false;
    if (values.length === 0) return true;
    const quoted = (list: string[]) => list.map((t) => JSON.stringify(t)).join(', ');
    throw new DataValidationError(
      this.#symbol,
      `cannot tell whether the first line is a header or data: it holds both names ` +
        `(${quoted(names)}) and values (${quoted(values)}), and names no ${named} column. ` +
        `Pass header: true or header: false`,
      { row: 0 },
    );
  }

  /** The error of a header that names no `name` column. */
  #missingColumn(name: OhlcvField, first: readonly string[]): DataValidationError {
    let reason = `missing column (header has: ${first.map((t) => JSON.stringify(t)).join(', ')})`;
    const unnamed = first.findIndex((t) => t.trim() === '');
    if (unnamed !== -1 && this.#names[name] === undefined)
      reason +=
        `; column ${unnamed + 1} has no name (pandas writes an unnamed index so) and is never ` +
        `guessed to be the ${name}: if it is, pass columns: { ${name}: '' }`;
    return new DataValidationError(this.#symbol, reason, { field: name });
  }

  #replayFirstLine(fields: number): void {
    const map = this.#fieldMap!;
    for (let f = 0; f < fields; f++) {
      const target = map[f]!;
      if (target < 0) continue;
      this.#row[target] = this.#slowValue(target, this.#pendingStrings[f] ?? '', f);
    }
    const r = this.#row;
    this.#builder.push(r[0]!, r[1]!, r[2]!, r[3]!, r[4]!, r[5]!);
    this.#dataRow++;
  }

  #error(reason: string, field: number): DataValidationError {
    const map = this.#fieldMap;
    const target = map && field < map.length ? map[field]! : -1;
    const name = target >= 0 ? OHLCV_FIELDS[target]! : `#${field}`;
    return new DataValidationError(this.#symbol, reason, { row: this.#dataRow, field: name });
  }
}

/**
 * Parse an unquoted decimal number from bytes [start, end), with spaces or tabs around it.
 * Returns NaN when the bytes are not a plain decimal number (optional sign, digits, optional
 * fraction and exponent: no hex, `Infinity` or separators) or the value overflows a double (the
 * caller then takes the slow path, which reports it). Exact: mantissas up to 15 digits with
 * |exponent| ≤ 22 are computed with one correctly rounded operation; anything else, already
 * checked against the grammar, is handed to Number().
 */
export function parseNumber(b: Uint8Array, start: number, end: number): number {
  while (start < end && (b[start] === SPACE || b[start] === TAB)) start++;
  while (end > start && (b[end - 1] === SPACE || b[end - 1] === TAB)) end--;
  if (start >= end) return Number.NaN;
  let p = start;
  let negative = false;
  if (b[p] === MINUS || b[p] === PLUS) {
    negative = b[p] === MINUS;
    p++;
  }
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  let any = false;
  while (p < end) {
    const c = b[p]!;
    if (c < ZERO || c > NINE) break;
    if (digits > 0 || c !== ZERO) digits++;
    mantissa = mantissa * 10 + (c - ZERO);
    any = true;
    p++;
  }
  if (p < end && b[p] === DOT) {
    p++;
    while (p < end) {
      const c = b[p]!;
      if (c < ZERO || c > NINE) break;
      if (digits > 0 || c !== ZERO) digits++;
      mantissa = mantissa * 10 + (c - ZERO);
      scale--;
      any = true;
      p++;
    }
  }
  if (!any) return Number.NaN;
  if (p < end && (b[p] === LOWER_E || b[p] === UPPER_E)) {
    p++;
    let expNegative = false;
    if (p < end && (b[p] === MINUS || b[p] === PLUS)) {
      expNegative = b[p] === MINUS;
      p++;
    }
    let exp = 0;
    let expDigits = 0;
    while (p < end && b[p]! >= ZERO && b[p]! <= NINE) {
      exp = exp * 10 + (b[p]! - ZERO);
      expDigits++;
      p++;
    }
    if (expDigits === 0) return Number.NaN;
    scale += expNegative ? -exp : exp;
  }
  if (p !== end) return Number.NaN;
  if (digits > 15 || scale > 22 || scale < -22) {
    const value = Number(
      Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1'),
    );
    return Number.isFinite(value) ? value : Number.NaN;
  }
  const value = scale >= 0 ? mantissa * POW10[scale]! : mantissa / POW10[-scale]!;
  return negative ? -value : value;
}

/** Where the field read by the last successful {@link plainNumber} ended (its terminator's index). */
let plainNumberEnd = 0;

/**
 * The fast path of field parsing: `-`? digits, with at most one `.` among them, 1 to 15 digits in
 * all, followed at once by the delimiter `d`, CR or LF inside `b[..len]`. Returns the value,
 * exactly as {@link parseNumber} gives it (one correctly rounded division of an exact integer by
 * an exact power of ten), and sets {@link plainNumberEnd}; returns NaN for any other field, which
 * the general path then reads. Digits are gathered nine at a time in an int32, then joined.
 */
function plainNumber(b: Uint8Array, p: number, len: number, d: number): number {
  let q = p;
  const negative = b[q] === MINUS;
  if (negative) q++;
  let high = 0;
  let low = 0;
  let lowDigits = 0;
  let digits = 0;
  let fraction = 0;
  let dot = false;
  while (q < len) {
    const c = b[q]! - ZERO;
    if (c >= 0 && c <= 9) {
      low = low * 10 + c;
      digits++;
      if (dot) fraction++;
      if (++lowDigits === 9) {
        high = high * 1e9 + low;
        low = 0;
        lowDigits = 0;
      }
    } else if (c === DOT - ZERO && !dot) {
      dot = true;
    } else {
      break;
    }
    q++;
  }
  if (q >= len || digits === 0 || digits > 15) return Number.NaN;
  const t = b[q];
  if (t !== d && t !== LF && t !== CR) return Number.NaN;
  plainNumberEnd = q;
  const mantissa = high * POW10[lowDigits]! + low;
  const value = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
  return negative ? -value : value;
}

/** Parse a whole CSV text or byte array into validated OHLCV columns. */
export function parseCsv(
  symbol: string,
  input: string | Uint8Array,
  options?: CsvOptions,
): OhlcvColumns {
  const parser = new CsvParser(symbol, options);
  parser.push(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  return parser.finish();
}
