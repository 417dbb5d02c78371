import { request, type Dispatcher } from 'undici';
import { BodyPool } from '../body-pool.js';
import { ColumnBuilder, OHLCV_FIELDS, validateColumns, type OhlcvColumns } from '../columns.js';
import { parseCsv, type CsvOptions } from '../csv.js';
import { DataValidationError, HttpStatusError, LoaderOptionError } from '../errors.js';
import { numberRefusal, parseDecimal, trimBlanks } from '../number.js';
import { parseRetryAfter } from '../retry.js';
import { parseTime, TIME_FORMS } from '../time.js';
import { decodeColumnar } from './columnar.js';
import { HTTP_TOKEN, Http1Agent } from './http1.js';
import { checkTemplate, digest, fillTemplate, nameOption, SYMBOL_PLACEHOLDER } from './naming.js';
import type { Source } from './types.js';

/** Body formats the HTTP source understands. */
export type HttpFormat = 'json' | 'csv' | 'columnar' | 'auto';

/** Options of {@link httpSource}. */
export interface HttpSourceOptions {
  /**
   * URL of a symbol's bars: a template such as `'https://api.example.com/bars/{symbol}'` (every
   * `{symbol}` is replaced by the symbol, percent-encoded with `encodeURIComponent`), or a
   * function such as `(s) => \`https://api.example.com/bars/${s}\``.
   */
  readonly url: string | ((symbol: string) => string | URL);
  /**
   * Name of this source in cache keys and reports. Default with a template `url`:
   * `http:<host>#<digest>`, the digest (16 hex digits of SHA-256) covering the template, `format`,
   * `csv` and `headers`, so differently configured sources never share cache entries and the same
   * configuration gets the same name in every process. The transport (`transport`, `dispatcher`,
   * `fetch`) is not part of it: it is expected to deliver the same bytes. With a function `url`
   * no name can be derived: a `DataLoader` with a `cache` then refuses the source until it has one.
   */
  readonly name?: string;
  /**
   * `'auto'` (default) picks by Content-Type: `application/json`, `text/csv`, or
   * `application/vnd.peaktrade.ohlcv` / `application/octet-stream` for columnar bytes.
   */
  readonly format?: HttpFormat;
  readonly headers?: Record<string, string>;
  /** CSV options when the body is CSV. */
  readonly csv?: CsvOptions;
  /**
   * Transport for requests without `fetch` or `dispatcher`. `'auto'` (default): `http:` URLs go
   * through this package's own HTTP/1.1 client (keep-alive, Content-Length, chunked; every socket
   * reads into one shared buffer, so a large download does not allocate per read), and `https:`
   * URLs through undici's `request`. `'undici'`: every URL through undici.
   */
  readonly transport?: 'auto' | 'undici';
  /**
   * Use the WHATWG fetch API (e.g. the global `fetch`) instead of the built-in transports.
   */
  readonly fetch?: typeof fetch;
  /** undici dispatcher (Agent, Pool, ProxyAgent, ...): requests go through undici's `request` on it. */
  readonly dispatcher?: Dispatcher;
}

interface RawResponse {
  readonly status: number;
  readonly contentType: string | null;
  readonly retryAfter: string | null;
  readonly body: Uint8Array | undefined;
  /** The pooled buffer behind `body`, to release after parsing. */
  readonly pooled: Buffer | undefined;
}

/** Receive buffers shared by every HTTP source in the process. */
const bodyPool = new BodyPool();
/** Keep-alive connections of the built-in client, shared by every HTTP source in the process. */
const http1 = new Http1Agent();
const acquireBody = (size: number) => bodyPool.acquire(size);
const releaseBody = (buffer: Buffer) => bodyPool.release(buffer);

/** Header lines for the built-in client; names and values are checked so nothing can be injected. */
function headerLines(headers: Record<string, string>): string {
  let lines = '';
  for (const [name, value] of Object.entries(headers)) {
    if (!HTTP_TOKEN.test(name))
      throw new LoaderOptionError('headers', name, 'header names made of HTTP token characters');
    if (typeof value !== 'string' || /[\r\n\0]/.test(value))
      throw new LoaderOptionError(
        `headers.${name}`,
        value,
        'a string without CR, LF or NUL characters',
      );
    lines += `${name}: ${value}\r\n`;
  }
  return lines;
}

function header(value: string | string[] | undefined): string | null {
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

/**
 * A source that GETs one URL per symbol (undici, or a fetch you pass). Non-2xx answers raise
 * {@link HttpStatusError} carrying `Retry-After`; bodies are parsed by format and validated.
 * Rate limits are per host.
 */
export function httpSource(options: HttpSourceOptions): Source {
  const format = options.format ?? 'auto';
  const explicitName = nameOption(options.name);
  const urlOf = urlFunction(options.url);
  const headers = {
    accept: 'application/vnd.peaktrade.ohlcv, application/json;q=0.9, text/csv;q=0.8',
    ...options.headers,
  };
  const userFetch = options.fetch;
  const dispatcher = options.dispatcher;
  const transport = options.transport ?? 'auto';
  if (transport !== 'auto' && transport !== 'undici')
    throw new LoaderOptionError('transport', transport, "'auto' or 'undici'");
  const lines = headerLines(headers);
  const hasHost = Object.keys(headers).some((name) => name.toLowerCase() === 'host');
  const builtIn = transport === 'auto' && userFetch === undefined && dispatcher === undefined;
  const get = async (url: string, signal: AbortSignal): Promise<RawResponse> => {
    if (builtIn && url.startsWith('http:')) {
      const response = await http1.get(new URL(url), {
        headerLines: lines,
        hasHost,
        signal,
        acquire: acquireBody,
        release: releaseBody,
      });
      return {
        status: response.status,
        contentType: response.headers.get('content-type') ?? null,
        retryAfter: response.headers.get('retry-after') ?? null,
        body: response.body,
        pooled: response.pooled,
      };
    }
    if (userFetch) {
      const response = await userFetch(url, { headers, signal });
      const ok = response.ok;
      // Error bodies are drained (so the connection is reused) but not kept.
      const bytes = new Uint8Array(await response.arrayBuffer());
      return {
        status: response.status,
        contentType: response.headers.get('content-type'),
        retryAfter: response.headers.get('retry-after'),
        body: ok ? bytes : undefined,
        pooled: undefined,
      };
    }
    const response = await request(url, {
      method: 'GET',
      headers,
      signal,
      ...(dispatcher ? { dispatcher } : {}),
    });
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    const meta = {
      status: response.statusCode,
      contentType: header(response.headers['content-type']),
      retryAfter: header(response.headers['retry-after']),
    };
    const length = Number(header(response.headers['content-length']) ?? Number.NaN);
    if (!ok || !Number.isSafeInteger(length)) {
      const bytes = new Uint8Array(await response.body.arrayBuffer());
      return { ...meta, body: ok ? bytes : undefined, pooled: undefined };
    }
    // Known length: read straight into a reusable buffer (released once the body is parsed).
    const buffer = bodyPool.acquire(length);
    let offset = 0;
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        if (offset + chunk.length > buffer.length)
          throw new Error(`body longer than its Content-Length (${length})`);
        chunk.copy(buffer, offset);
        offset += chunk.length;
      }
    } catch (error) {
      bodyPool.release(buffer);
      throw error;
    }
    return { ...meta, body: buffer.subarray(0, offset), pooled: buffer };
  };
  const derivedName =
    typeof options.url === 'string'
      ? `http:${new URL(fillTemplate(options.url, 'symbol')).host}#${digest({
          url: options.url,
          format,
          csv: options.csv ?? null,
          // Header names are case-insensitive; values may be credentials, which the digest hides.
          headers: Object.fromEntries(
            Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
          ),
        })}`
      : undefined;
  return {
    name: explicitName ?? derivedName ?? 'http',
    ...((explicitName ?? derivedName) ? {} : { anonymous: true }),
    idempotent: true,
    rateKey: (symbol) => new URL(urlOf(symbol)).host,
    async load(symbol, { signal }) {
      const url = String(urlOf(symbol));
      const response = await get(url, signal);
      if (response.body === undefined)
        throw new HttpStatusError(url, response.status, parseRetryAfter(response.retryAfter));
      const kind = format === 'auto' ? formatOf(response.contentType) : format;
      try {
        // Every parser copies what it keeps, so the body buffer is free again afterwards.
        return parseBody(symbol, response.body, kind, options.csv);
      } finally {
        if (response.pooled) bodyPool.release(response.pooled);
      }
    },
  };
}

/**
 * The `url` option as a function. A template is checked once: it must hold `{symbol}` and, with
 * the placeholder filled, be an absolute http: or https: URL.
 */
function urlFunction(url: HttpSourceOptions['url']): (symbol: string) => string | URL {
  if (typeof url === 'function') return url;
  if (typeof url !== 'string')
    throw new LoaderOptionError(
      'url',
      url,
      `a URL template holding ${SYMBOL_PLACEHOLDER}, or a function of the symbol`,
    );
  checkTemplate('url', url);
  let protocol: string;
  try {
    protocol = new URL(fillTemplate(url, 'symbol')).protocol;
  } catch {
    protocol = '';
  }
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new LoaderOptionError(
      'url',
      JSON.stringify(url),
      `an absolute http: or https: URL template holding ${SYMBOL_PLACEHOLDER}`,
    );
  return (symbol) => fillTemplate(url, encodeURIComponent(symbol));
}

function formatOf(contentType: string | null): Exclude<HttpFormat, 'auto'> {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/csv' || type === 'application/csv') return 'csv';
  if (type === 'application/vnd.peaktrade.ohlcv' || type === 'application/octet-stream')
    return 'columnar';
  return 'json';
}

function parseBody(
  symbol: string,
  body: Uint8Array,
  kind: Exclude<HttpFormat, 'auto'>,
  csv: CsvOptions | undefined,
): OhlcvColumns {
  if (kind === 'csv') return parseCsv(symbol, body, csv);
  if (kind === 'columnar') return decodeColumnar(symbol, body);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (cause) {
    throw new DataValidationError(
      symbol,
      `malformed JSON: ${(cause as Error).message}`,
      {},
      { cause },
    );
  }
  return jsonToColumns(symbol, json);
}

/**
 * Turn a JSON payload into validated columns. Accepted shapes:
 * `{ time: [...], open: [...], ... }` (columns), `[{ time, open, ... }, ...]` (rows), and
 * `[[time, open, high, low, close, volume], ...]` (tuples). `time` may be epoch
 * milliseconds (a number, or a string holding a decimal number) or an ISO-8601 date or date-time
 * string (`2024-01-02`, `2024-01-02T03:04:05.678Z`, `2024-01-02 03:04:05+02:00`; no offset means
 * UTC). Any other time is a {@link DataValidationError} naming the symbol, row and field.
 */
export function jsonToColumns(symbol: string, json: unknown): OhlcvColumns {
  if (Array.isArray(json)) {
    const builder = new ColumnBuilder(json.length);
    const row = new Float64Array(6);
    json.forEach((item: unknown, r) => {
      if (Array.isArray(item)) {
        if (item.length < 6)
          throw new DataValidationError(symbol, `expected 6 values, got ${item.length}`, {
            row: r,
          });
        for (let f = 0; f < 6; f++) row[f] = toNumber(symbol, item[f], r, OHLCV_FIELDS[f]!);
      } else if (typeof item === 'object' && item !== null) {
        const obj = item as Record<string, unknown>;
        for (let f = 0; f < 6; f++) {
          const field = OHLCV_FIELDS[f]!;
          if (!(field in obj))
            throw new DataValidationError(symbol, 'missing column', { row: r, field });
          row[f] = toNumber(symbol, obj[field], r, field);
        }
      } else
        throw new DataValidationError(
          symbol,
          `expected a bar object or array, got ${typeof item}`,
          { row: r },
        );
      builder.push(row[0]!, row[1]!, row[2]!, row[3]!, row[4]!, row[5]!);
    });
    return validateColumns(symbol, builder.finish());
  }
  if (typeof json === 'object' && json !== null) {
    const obj = json as Record<string, unknown>;
    const cols: Record<string, Float64Array> = {};
    for (const field of OHLCV_FIELDS) {
      const values = obj[field];
      if (values === undefined) throw new DataValidationError(symbol, 'missing column', { field });
      if (!Array.isArray(values))
        throw new DataValidationError(symbol, `expected an array, got ${typeof values}`, { field });
      const col = new Float64Array(values.length);
      for (let r = 0; r < values.length; r++) col[r] = toNumber(symbol, values[r], r, field);
      cols[field] = col;
    }
    return validateColumns(symbol, cols);
  }
  throw new DataValidationError(
    symbol,
    `expected an array of bars or an object of columns, got ${json === null ? 'null' : typeof json}`,
  );
}

/**
 * One JSON value as a number. A JSON number is taken as it is (JSON.parse has checked its
 * grammar; one too large for a double arrives as Infinity and is refused). A string is read
 * with the grammar of a CSV field, since many APIs send prices as strings to keep their digits:
 * a time as {@link parseTime}, anything else as {@link parseDecimal}.
 */
function toNumber(symbol: string, value: unknown, row: number, field: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    throw new DataValidationError(symbol, `number out of range (${value})`, { row, field });
  } else if (typeof value === 'string') {
    if (field === 'time') {
      const t = parseTime(trimBlanks(value));
      if (!Number.isNaN(t)) return t;
      throw new DataValidationError(
        symbol,
        `invalid time ${JSON.stringify(value)}: expected ${TIME_FORMS}`,
        { row, field },
      );
    }
    const n = parseDecimal(value);
    if (!Number.isNaN(n)) return n;
    throw new DataValidationError(symbol, numberRefusal(value), { row, field });
  }
  throw new DataValidationError(symbol, `non-numeric value ${JSON.stringify(value)}`, {
    row,
    field,
  });
}
