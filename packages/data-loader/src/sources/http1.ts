/**
 * A small HTTP/1.1 client for the GETs of {@link httpSource} over plain `http:`.
 *
 * Why it exists: a general-purpose client (undici, `node:http`) hands every socket read to
 * JavaScript as a freshly allocated 64 KiB buffer and pushes it through a stream. For a market
 * data download of tens of MB that is tens of MB of short-lived memory per batch: on our 2-vCPU
 * VM (AMD EPYC, 2026-11-26), 100 × 470 KiB responses on loopback took 131–135 ms through undici
 * and 80–86 ms through this client (medians, the two alternating in one process).
 * Here every socket reads into one shared buffer (`net.connect`'s `onread`), and each read is
 * copied once, straight into the response's body buffer (a pooled one when the length is known).
 *
 * It does only what a market-data GET needs: keep-alive connections per origin (idle ones are
 * unreferenced, so they never hold the process open, and closed after `idleTimeoutMs`),
 * Content-Length, chunked and read-until-close bodies, 1xx responses skipped, and a transparent
 * retry on another connection when a reused keep-alive connection turns out to have been closed
 * by the server before it answered (the request is a GET, so this is safe). Everything else (https, proxies,
 * redirects, compression) goes through undici: see `transport` in {@link HttpSourceOptions}.
 * @module
 */
import { connect, type Socket } from 'node:net';
import { HttpConnectionError, HttpProtocolError } from '../errors.js';

/** A response of {@link Http1Agent.get}. */
export interface Http1Response {
  readonly status: number;
  /** Header values by lower-case name; a repeated header's values are joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  /** The body of a 2xx response; `undefined` for other statuses (read and discarded). */
  readonly body: Uint8Array | undefined;
  /** The buffer behind `body` when it came from `acquire`: hand it back to its pool after use. */
  readonly pooled: Buffer | undefined;
}

/** Per-request inputs of {@link Http1Agent.get}. */
export interface Http1Request {
  /** Extra header lines, already serialised (`name: value\r\n` each). */
  readonly headerLines: string;
  /** `headerLines` has a Host header (otherwise the URL's host is sent). */
  readonly hasHost?: boolean;
  readonly signal: AbortSignal;
  /** A buffer of at least `size` bytes for a body of known length. */
  readonly acquire: (size: number) => Buffer;
  /** Gives back a buffer from `acquire` when the request fails. */
  readonly release: (buffer: Buffer) => void;
}

/** Options of {@link Http1Agent}. */
export interface Http1AgentOptions {
  /** Largest status line plus headers accepted, in bytes (default 64 KiB). */
  readonly maxHeaderBytes?: number;
  /** Largest body accepted, in bytes (default 1 GiB). */
  readonly maxBodyBytes?: number;
  /** An idle keep-alive connection is closed after this many ms (default 4000, below Node's server default of 5000). */
  readonly idleTimeoutMs?: number;
  /** Idle connections kept per origin (default 64). */
  readonly maxIdlePerOrigin?: number;
}

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
  Done,
}

/** Every socket reads into this buffer; each read is consumed before the next one can happen. */
let sharedReadBuffer: Buffer | undefined;
const readBuffer = (): Buffer => (sharedReadBuffer ??= Buffer.allocUnsafeSlow(256 * 1024));

/** An HTTP token (RFC 9110 5.6.2): what a header name must be. */
export const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/;
/** Head bytes copied per step while looking for the blank line (headers are usually < 1 KiB). */
const HEAD_STEP = 4096;

/** Thrown inside the agent when a reused connection closed before any byte of the answer. */
class StaleConnection extends Error {}

/** One request/response on a connection. */
class Exchange {
  state = State.Head;
  head: Buffer;
  headLength = 0;
  /** Bytes of the answer received so far (head included). */
  received = 0;
  status = 0;
  headers = new Map<string, string>();
  keepAlive = false;
  discard = false;
  body: Buffer | undefined;
  pooled: Buffer | undefined;
  bodyLength = 0;
  /** Body bytes still due (Length) or left in the current chunk (ChunkData). */
  remaining = 0;
  /** The chunk-size or trailer line read so far. */
  line = '';
  /** Bytes of the CRLF after a chunk's data matched so far. */
  crlf = 0;
  settled = false;
  /** Removes the abort listener. */
  cleanup: (() => void) | undefined;

  constructor(
    readonly url: string,
    readonly request: Http1Request,
    /** The connection's head buffer (grown here when headers are long; the connection keeps it). */
    head: Buffer,
    readonly maxHeaderBytes: number,
    readonly maxBodyBytes: number,
    readonly resolve: (response: Http1Response) => void,
    readonly reject: (error: unknown) => void,
  ) {
    this.head = head;
  }

  /**
   * Consume `buf[start, end)`. @returns the offset of the first byte not part of this response
   * (end when all of it was), once the response is complete; -1 while more is expected.
   * @throws {HttpProtocolError}
   */
  feed(buf: Buffer, start: number, end: number): number {
    this.received += end - start;
    let i = start;
    while (i < end) {
      switch (this.state) {
        case State.Head:
          i = this.#feedHead(buf, i, end);
          break;
        case State.Length:
          i = this.#feedCounted(buf, i, end);
          if (this.remaining === 0) this.state = State.Done;
          break;
        case State.UntilClose: {
          this.#append(buf, i, end - i);
          i = end;
          break;
        }
        case State.ChunkSize:
        case State.Trailers:
          i = this.#feedLine(buf, i, end);
          break;
        case State.ChunkData:
          i = this.#feedCounted(buf, i, end);
          if (this.remaining === 0) {
            this.state = State.ChunkEnd;
            this.crlf = 0;
          }
          break;
        case State.ChunkEnd: {
          const want = this.crlf === 0 ? 13 : 10;
          if (buf[i] !== want) throw this.#protocol('chunk data not followed by CRLF');
          i++;
          if (++this.crlf === 2) {
            this.state = State.ChunkSize;
            this.line = '';
          }
          break;
        }
      }
      if (this.state === State.Done) return i;
    }
    return -1;
  }

  /** The connection closed: complete a read-until-close body, or explain what is missing. */
  closedReason(): string | undefined {
    if (this.state === State.UntilClose) {
      this.state = State.Done;
      return undefined;
    }
    if (this.received === 0) return 'connection closed before any response';
    if (this.state === State.Head) return 'connection closed inside the response headers';
    if (this.state === State.Length)
      return `connection closed after ${this.bodyLength} of ${this.bodyLength + this.remaining} body bytes`;
    return 'connection closed inside a chunked body';
  }

  response(): Http1Response {
    const body = this.discard ? undefined : (this.body ?? Buffer.alloc(0));
    return {
      status: this.status,
      headers: this.headers,
      body: body?.subarray(0, this.bodyLength),
      pooled: this.pooled,
    };
  }

  /** Give the body buffer back to its pool (the request failed). */
  dropBody(): void {
    if (this.pooled) this.request.release(this.pooled);
    this.pooled = undefined;
    this.body = undefined;
  }

  #protocol(reason: string): HttpProtocolError {
    return new HttpProtocolError(this.url, reason);
  }

  #feedHead(buf: Buffer, start: number, end: number): number {
    const before = this.headLength;
    const n = Math.min(end - start, HEAD_STEP);
    if (before + n > this.head.length) {
      if (before >= this.maxHeaderBytes + 4)
        throw this.#protocol(`response headers over ${this.maxHeaderBytes} bytes`);
      const grown = Buffer.allocUnsafe(
        Math.min(this.head.length * 2 + n, this.maxHeaderBytes + 4 + HEAD_STEP),
      );
      this.head.copy(grown, 0, 0, before);
      this.head = grown;
    }
    buf.copy(this.head, before, start, start + n);
    this.headLength = before + n;
    const at = this.head.subarray(0, this.headLength).indexOf('\r\n\r\n', Math.max(0, before - 3));
    if (at === -1) {
      if (this.headLength > this.maxHeaderBytes + 4)
        throw this.#protocol(`response headers over ${this.maxHeaderBytes} bytes`);
      return start + n;
    }
    if (at > this.maxHeaderBytes)
      throw this.#protocol(`response headers over ${this.maxHeaderBytes} bytes`);
    const next = start + (at + 4 - before);
    this.#parseHead(this.head.toString('latin1', 0, at));
    return next;
  }

  #parseHead(text: string): void {
    const lines = text.split('\r\n');
    const statusLine = STATUS_LINE.exec(lines[0]!);
    if (!statusLine)
      throw this.#protocol(`bad status line ${JSON.stringify(lines[0]!.slice(0, 100))}`);
    const minor = statusLine[1]!;
    const status = Number(statusLine[2]);
    const headers = new Map<string, string>();
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k]!;
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!HTTP_TOKEN.test(name))
        throw this.#protocol(`bad header line ${JSON.stringify(line.slice(0, 100))}`);
      const key = name.toLowerCase();
      const value = line.slice(colon + 1).trim();
      const had = headers.get(key);
      headers.set(key, had === undefined ? value : `${had}, ${value}`);
    }
    if (status >= 100 && status < 200) {
      if (status === 101) throw this.#protocol('unexpected 101 Switching Protocols');
      // An interim response: the real one follows on the same connection.
      this.headLength = 0;
      return;
    }
    this.status = status;
    this.headers = headers;
    const connection = (headers.get('connection') ?? '').toLowerCase();
    this.keepAlive =
      minor === '1'
        ? !/(^|,)\s*close\s*(,|$)/.test(connection)
        : /(^|,)\s*keep-alive\s*(,|$)/.test(connection);
    this.discard = status < 200 || status >= 300;
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    if (status === 204 || status === 304) {
      // RFC 9112 6.3: no body, whatever the framing headers say (a 304 may carry those of the 200
      // it stands for). A 204 announcing a body is a confused server whose "body" may follow.
      if (status === 204 && (te !== undefined || (cl !== undefined && !/^[\s0,]*$/.test(cl))))
        this.keepAlive = false;
      this.state = State.Done;
      return;
    }
    if (te !== undefined) {
      const codings = te.toLowerCase().split(',');
      // RFC 9112 6.3: chunked last means chunked framing; anything else is read until close.
      if (codings[codings.length - 1]!.trim() === 'chunked') this.state = State.ChunkSize;
      else this.#untilClose();
      // A message with both is suspect (request smuggling), and so is an HTTP/1.0 one with
      // Transfer-Encoding (RFC 9112 6.1): never reuse its connection.
      if (cl !== undefined || minor === '0') this.keepAlive = false;
      this.line = '';
      return;
    }
    if (cl !== undefined) {
      const values = new Set(cl.split(',').map((v) => v.trim()));
      const only = values.size === 1 ? [...values][0]! : '';
      if (!/^\d{1,16}$/.test(only))
        throw this.#protocol(`bad Content-Length ${JSON.stringify(cl)}`);
      const length = Number(only);
      if (length > this.maxBodyBytes)
        throw this.#protocol(`body of ${length} bytes is over maxBodyBytes ${this.maxBodyBytes}`);
      if (!this.discard && length > 0) {
        this.pooled = this.request.acquire(length);
        this.body = this.pooled;
      }
      this.remaining = length;
      this.state = length === 0 ? State.Done : State.Length;
      return;
    }
    this.#untilClose();
  }

  #untilClose(): void {
    this.state = State.UntilClose;
    this.keepAlive = false;
  }

  /** One chunk-size line or trailer line; at most 4 KiB each. */
  #feedLine(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end && buf[i] !== 10) i++;
    this.line += buf.toString('latin1', start, i);
    if (this.line.length > 4096) throw this.#protocol('chunk-size or trailer line over 4096 bytes');
    if (i === end) return end;
    // A whole line (without its LF); it must end with CR.
    const line = this.line;
    this.line = '';
    if (!line.endsWith('\r')) throw this.#protocol('chunked line not ending in CRLF');
    const content = line.slice(0, -1);
    if (this.state === State.Trailers) {
      if (content === '') this.state = State.Done;
      return i + 1;
    }
    // 1*HEXDIG (RFC 9112 7.1): leading zeros are allowed; 13 significant digits stay exact.
    const hex = /^0*([0-9A-Fa-f]{1,13})$/.exec(content.split(';')[0]!.trim());
    if (hex === null)
      throw this.#protocol(`bad chunk size ${JSON.stringify(content.slice(0, 40))}`);
    const size = parseInt(hex[1]!, 16);
    if (size === 0) {
      this.state = State.Trailers;
    } else {
      if (this.bodyLength + size > this.maxBodyBytes)
        throw this.#protocol(`chunked body over maxBodyBytes ${this.maxBodyBytes}`);
      this.remaining = size;
      this.state = State.ChunkData;
    }
    return i + 1;
  }

  /** Body bytes of a counted stretch (a Content-Length body or one chunk): up to `remaining`. */
  #feedCounted(buf: Buffer, start: number, end: number): number {
    const n = Math.min(this.remaining, end - start);
    this.#append(buf, start, n);
    this.remaining -= n;
    return start + n;
  }

  #append(buf: Buffer, start: number, n: number): void {
    if (n === 0 || this.discard) {
      this.bodyLength += n;
      return;
    }
    if (this.state === State.UntilClose && this.bodyLength + n > this.maxBodyBytes)
      throw this.#protocol(`body over maxBodyBytes ${this.maxBodyBytes}`);
    let body = this.body;
    if (body === undefined || this.bodyLength + n > body.length) {
      const grown = Buffer.allocUnsafeSlow(
        Math.max(64 * 1024, (body?.length ?? 0) * 2, this.bodyLength + n),
      );
      body?.copy(grown, 0, 0, this.bodyLength);
      this.body = body = grown;
    }
    buf.copy(body, this.bodyLength, start, start + n);
    this.bodyLength += n;
  }
}

/** One TCP connection to an origin; serves one exchange at a time. */
class Connection {
  readonly socket: Socket;
  exchange: Exchange | undefined;
  /** Completed exchanges on this connection. */
  served = 0;
  idleTimer: NodeJS.Timeout | undefined;
  closed = false;
  /** Receives status line and headers; reused by every exchange on this connection. */
  head: Buffer = Buffer.allocUnsafe(HEAD_STEP * 2);

  constructor(
    readonly agent: Http1Agent,
    readonly origin: string,
    host: string,
    port: number,
  ) {
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: readBuffer(),
        callback: (n: number, buf: Uint8Array) => {
          this.#onData(buf as Buffer, n);
          return true;
        },
      },
    });
    this.socket.on('error', (error) => this.#onClose(error));
    this.socket.on('close', () => this.#onClose(undefined));
  }

  #onData(buf: Buffer, n: number): void {
    const exchange = this.exchange;
    if (exchange === undefined) {
      // Bytes nobody asked for (or the server's goodbye on an idle connection): never reuse it.
      this.destroy();
      return;
    }
    let rest: number;
    try {
      rest = exchange.feed(buf, 0, n);
    } catch (error) {
      this.#fail(exchange, error);
      return;
    }
    if (rest === -1) return;
    this.exchange = undefined;
    this.head = exchange.head;
    this.served++;
    // Extra bytes after a complete response mean the framing cannot be trusted: do not reuse.
    // Nor when the answer came before the request was fully written: the server has yet to read
    // the rest, and whatever it answers to those bytes would pass for the next request's answer.
    const reusable = exchange.keepAlive && rest === n && this.socket.writableLength === 0;
    this.agent.finish(this, exchange, reusable);
  }

  #onClose(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.agent.forget(this);
    const exchange = this.exchange;
    if (exchange === undefined) return;
    this.exchange = undefined;
    const reason = error === undefined ? exchange.closedReason() : undefined;
    if (error === undefined && reason === undefined) {
      this.served++;
      this.agent.finish(this, exchange, false);
      return;
    }
    if (exchange.received === 0 && this.served > 0) {
      this.#fail(exchange, new StaleConnection());
      return;
    }
    this.#fail(
      exchange,
      new HttpConnectionError(
        exchange.url,
        error?.message ?? reason!,
        error ? { cause: error } : undefined,
      ),
    );
  }

  #fail(exchange: Exchange, error: unknown): void {
    this.exchange = undefined;
    this.destroy();
    this.agent.fail(exchange, error);
  }

  destroy(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.socket.destroy();
  }
}

/**
 * Keep-alive HTTP/1.1 connections per origin, for GETs. See the module comment for what it does
 * and does not do. One process-wide instance serves every {@link httpSource}.
 */
export class Http1Agent {
  readonly #idle = new Map<string, Connection[]>();
  readonly #maxHeaderBytes: number;
  readonly #maxBodyBytes: number;
  readonly #idleTimeoutMs: number;
  readonly #maxIdlePerOrigin: number;
  /** Connections opened so far (for tests and diagnostics). */
  connectionsOpened = 0;

  constructor(options: Http1AgentOptions = {}) {
    this.#maxHeaderBytes = options.maxHeaderBytes ?? 64 * 1024;
    this.#maxBodyBytes = options.maxBodyBytes ?? 1024 ** 3;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 4000;
    this.#maxIdlePerOrigin = options.maxIdlePerOrigin ?? 64;
  }

  /** Idle keep-alive connections held now. */
  get idleConnections(): number {
    let n = 0;
    for (const list of this.#idle.values()) n += list.length;
    return n;
  }

  /**
   * GET `url` (an `http:` URL). Rejects with `signal.reason` when the signal aborts (the
   * connection is closed), {@link HttpConnectionError} when the connection fails or closes early,
   * {@link HttpProtocolError} when the answer is not valid HTTP/1.1.
   */
  async get(url: URL, request: Http1Request): Promise<Http1Response> {
    if (url.protocol !== 'http:')
      throw new HttpProtocolError(
        url.href,
        `the built-in client speaks plain http:, not ${url.protocol}`,
      );
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? 80 : Number(url.port);
    const origin = `${hostname}:${port}`;
    const host = request.hasHost ? '' : `host: ${url.host}\r\n`;
    const head = `GET ${url.pathname}${url.search} HTTP/1.1\r\n${host}${request.headerLines}\r\n`;
    for (;;) {
      request.signal.throwIfAborted();
      const connection = this.#take(origin) ?? this.#open(origin, hostname, port);
      try {
        return await this.#exchange(connection, url.href, head, request);
      } catch (error) {
        // A kept-alive connection the server had already closed: try once more on a new one.
        if (!(error instanceof StaleConnection)) throw error;
      }
    }
  }

  /** Close every idle connection. */
  close(): void {
    for (const list of this.#idle.values()) for (const c of list) c.destroy();
    this.#idle.clear();
  }

  #exchange(
    connection: Connection,
    url: string,
    head: string,
    request: Http1Request,
  ): Promise<Http1Response> {
    return new Promise<Http1Response>((resolve, reject) => {
      const exchange = new Exchange(
        url,
        request,
        connection.head,
        this.#maxHeaderBytes,
        this.#maxBodyBytes,
        resolve,
        reject,
      );
      const onAbort = () => {
        connection.exchange = undefined;
        connection.destroy();
        this.fail(exchange, request.signal.reason);
      };
      request.signal.addEventListener('abort', onAbort, { once: true });
      exchange.cleanup = () => request.signal.removeEventListener('abort', onAbort);
      connection.exchange = exchange;
      connection.socket.ref();
      connection.socket.write(head);
    });
  }

  #take(origin: string): Connection | undefined {
    const list = this.#idle.get(origin);
    while (list !== undefined && list.length > 0) {
      const connection = list.pop()!;
      if (connection.closed) continue;
      if (connection.idleTimer) clearTimeout(connection.idleTimer);
      connection.idleTimer = undefined;
      return connection;
    }
    return undefined;
  }

  #open(origin: string, host: string, port: number): Connection {
    this.connectionsOpened++;
    return new Connection(this, origin, host, port);
  }

  /** @internal A response completed on `connection`. */
  finish(connection: Connection, exchange: Exchange, reusable: boolean): void {
    if (exchange.settled) return;
    exchange.settled = true;
    exchange.cleanup?.();
    if (reusable && !connection.closed) this.#park(connection);
    else connection.destroy();
    exchange.resolve(exchange.response());
  }

  /** @internal A request failed. */
  fail(exchange: Exchange, error: unknown): void {
    if (exchange.settled) return;
    exchange.settled = true;
    exchange.cleanup?.();
    exchange.dropBody();
    exchange.reject(error);
  }

  /** @internal `connection` closed. */
  forget(connection: Connection): void {
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
    const list = this.#idle.get(connection.origin);
    const at = list?.indexOf(connection) ?? -1;
    if (at !== -1) list!.splice(at, 1);
  }

  #park(connection: Connection): void {
    let list = this.#idle.get(connection.origin);
    if (list === undefined) this.#idle.set(connection.origin, (list = []));
    if (list.length >= this.#maxIdlePerOrigin) {
      connection.destroy();
      return;
    }
    connection.socket.unref();
    connection.idleTimer = setTimeout(() => connection.destroy(), this.#idleTimeoutMs);
    connection.idleTimer.unref();
    list.push(connection);
  }
}
