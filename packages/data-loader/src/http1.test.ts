// The built-in HTTP/1.1 client against a raw TCP server on 127.0.0.1 that writes exact bytes, so
// framing, keep-alive and failure cases are scripted byte by byte.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Http1Agent, type Http1Request } from './sources/http1.js';
import {
  DataLoader,
  HttpConnectionError,
  HttpProtocolError,
  LoadFailedError,
  LoaderOptionError,
  httpSource,
  isTransient,
} from './index.js';

/** What the server does with the n-th request on the n-th connection (both counted from 0). */
type Handler = (
  socket: Socket,
  request: { path: string; head: string },
  index: { connection: number; request: number },
) => void;

let server: Server;
let port = 0;
let handler: Handler = () => {};
/** Runs as each connection is accepted, before any byte of it is read. */
let accepted: ((socket: Socket, connection: number) => void) | undefined;
let connections = 0;
const open = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    const connection = connections++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    let request = 0;
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        const path = head.split(' ')[1]!;
        handler(socket, { path, head }, { connection, request: request++ });
      }
    });
    accepted?.(socket, connection);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const agents: Http1Agent[] = [];
afterEach(() => {
  for (const agent of agents.splice(0)) agent.close();
  for (const socket of open) socket.destroy();
  connections = 0;
  accepted = undefined;
});

function newAgent(options?: ConstructorParameters<typeof Http1Agent>[0]): Http1Agent {
  const agent = new Http1Agent(options);
  agents.push(agent);
  return agent;
}

/** A request with counting acquire/release, so leaks of pooled buffers show. */
function req(
  signal = new AbortController().signal,
): Http1Request & { acquired: number; released: number } {
  const counts = { acquired: 0, released: 0 };
  return Object.assign(counts, {
    headerLines: 'accept: */*\r\n',
    signal,
    acquire: (size: number) => {
      counts.acquired++;
      return Buffer.alloc(size + 7);
    },
    release: () => {
      counts.released++;
    },
  });
}

const url = (path = '/x') => new URL(`http://127.0.0.1:${port}${path}`);
const ok = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncontent-type: text/plain\r\n${extra}\r\n${body}`;
const text = (body: Uint8Array | undefined) =>
  Buffer.from(body ?? new Uint8Array()).toString('latin1');

/** Write `data` in pieces of `size` bytes, one per macrotask, so the client sees many small reads. */
async function trickle(socket: Socket, data: string, size: number): Promise<void> {
  for (let i = 0; i < data.length; i += size) {
    socket.write(data.slice(i, i + size), 'latin1');
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('Http1Agent framing', () => {
  it('reads a Content-Length body into an acquired buffer, even when it arrives a few bytes at a time', async () => {
    const body = 'x'.repeat(3000) + 'END';
    handler = (socket) => void trickle(socket, ok(body), 7);
    const r = req();
    const response = await newAgent().get(url(), r);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain');
    expect(text(response.body)).toBe(body);
    expect(response.pooled).toBeDefined();
    expect(r.acquired).toBe(1);
  });

  it('reads a chunked body with chunk extensions and trailers, split at every boundary', async () => {
    const wire =
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n' +
      '5;name=value\r\nhello\r\n' +
      '1\r\n,\r\n' +
      'A\r\n0123456789\r\n' +
      '0\r\nx-trailer: yes\r\n\r\n';
    for (const size of [1, 2, 3, 5, wire.length]) {
      handler = (socket) => void trickle(socket, wire, size);
      const response = await newAgent().get(url(), req());
      expect(text(response.body)).toBe('hello,0123456789');
    }
  });

  it('reads chunk sizes with leading zeros', async () => {
    handler = (socket) =>
      socket.write(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n' +
          '0000000000000005\r\nhello\r\n' +
          '00000000000000000000\r\n\r\n',
      );
    expect(text((await newAgent().get(url(), req())).body)).toBe('hello');
  });

  it('ends 204 and 304 responses at their headers, whatever their framing headers say', async () => {
    handler = (socket, { path }) =>
      socket.write(
        path === '/304'
          ? 'HTTP/1.1 304 Not Modified\r\ncontent-length: 1234\r\netag: "v1"\r\n\r\n'
          : path === '/204'
            ? 'HTTP/1.1 204 No Content\r\ntransfer-encoding: chunked\r\n\r\n'
            : ok(path),
      );
    const agent = newAgent();
    const signal = AbortSignal.timeout(2000);
    const notModified = await agent.get(url('/304'), req(signal));
    expect([notModified.status, notModified.body]).toEqual([304, undefined]);
    expect(notModified.headers.get('etag')).toBe('"v1"');
    // A 304 may carry the Content-Length of the 200 it stands for: its connection stays usable.
    expect(text((await agent.get(url('/after-304'), req(signal))).body)).toBe('/after-304');
    expect(agent.connectionsOpened).toBe(1);
    expect((await agent.get(url('/204'), req(signal))).status).toBe(204);
    // A 204 announcing a body comes from a confused server: its connection is not reused.
    expect(text((await agent.get(url('/after-204'), req(signal))).body)).toBe('/after-204');
    expect(agent.connectionsOpened).toBe(2);
  });

  it('does not reuse the connection of an HTTP/1.0 response with Transfer-Encoding', async () => {
    handler = (socket, { path }) =>
      socket.write(
        path === '/old'
          ? 'HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n' +
              '3\r\nold\r\n0\r\n\r\n'
          : ok(path),
      );
    const agent = newAgent();
    expect(text((await agent.get(url('/old'), req())).body)).toBe('old');
    expect(text((await agent.get(url('/new'), req())).body)).toBe('/new');
    expect(agent.connectionsOpened).toBe(2);
  });

  it('reads a body without length until the server closes the connection', async () => {
    handler = (socket) => socket.end('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it');
    const response = await newAgent().get(url(), req());
    expect(text(response.body)).toBe('all of it');
  });

  it('skips 1xx interim responses', async () => {
    handler = (socket) =>
      socket.write(
        `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n${ok('final')}`,
      );
    const response = await newAgent().get(url(), req());
    expect(response.status).toBe(200);
    expect(text(response.body)).toBe('final');
  });

  it('joins repeated headers and lower-cases names', async () => {
    handler = (socket) => socket.write(ok('b', 'X-Multi: a\r\nx-multi: b\r\nRetry-After: 3\r\n'));
    const response = await newAgent().get(url(), req());
    expect(response.headers.get('x-multi')).toBe('a, b');
    expect(response.headers.get('retry-after')).toBe('3');
  });

  it('reads and discards a non-2xx body, and keeps the connection', async () => {
    handler = (socket, _r, { request }) =>
      socket.write(
        request === 0 ? 'HTTP/1.1 503 Busy\r\ncontent-length: 4\r\n\r\nbusy' : ok('fine'),
      );
    const agent = newAgent();
    const r = req();
    const first = await agent.get(url(), r);
    expect(first.status).toBe(503);
    expect(first.body).toBeUndefined();
    expect(r.acquired).toBe(0);
    const second = await agent.get(url(), req());
    expect(text(second.body)).toBe('fine');
    expect(agent.connectionsOpened).toBe(1);
  });

  it('sends the URL host, its path and query, and the given header lines', async () => {
    let seen = '';
    handler = (socket, { head }) => {
      seen = head;
      socket.write(ok('.'));
    };
    await newAgent().get(url('/bars/A%20B?from=1&to=2'), req());
    const lines = seen.split('\r\n');
    expect(lines[0]).toBe('GET /bars/A%20B?from=1&to=2 HTTP/1.1');
    expect(lines).toContain(`host: 127.0.0.1:${port}`);
    expect(lines).toContain('accept: */*');
  });
});

describe('Http1Agent connections', () => {
  it('reuses one keep-alive connection for sequential requests', async () => {
    handler = (socket, { path }) => socket.write(ok(path));
    const agent = newAgent();
    for (const path of ['/a', '/b', '/c'])
      expect(text((await agent.get(url(path), req())).body)).toBe(path);
    expect(agent.connectionsOpened).toBe(1);
    expect(connections).toBe(1);
    expect(agent.idleConnections).toBe(1);
  });

  it('does not reuse a connection the server marked close, or one that sent bytes past the body', async () => {
    handler = (socket, _r, { connection }) =>
      socket.write(connection === 0 ? ok('one', 'connection: close\r\n') : ok('two') + 'junk');
    const agent = newAgent();
    expect(text((await agent.get(url(), req())).body)).toBe('one');
    expect(text((await agent.get(url(), req())).body)).toBe('two');
    expect(text((await agent.get(url(), req())).body)).toBe('two');
    expect(agent.connectionsOpened).toBe(3);
  });

  it('retries once on a new connection when a kept-alive one was closed before answering', async () => {
    handler = (socket, _r, { connection, request }) => {
      if (connection === 0 && request === 1) socket.destroy();
      else socket.write(ok(`c${connection}r${request}`));
    };
    const agent = newAgent();
    expect(text((await agent.get(url(), req())).body)).toBe('c0r0');
    expect(text((await agent.get(url(), req())).body)).toBe('c1r0');
    expect(agent.connectionsOpened).toBe(2);
  });

  it('does not reuse a connection whose request was still being written when the answer came', async () => {
    // The first connection answers at once and reads nothing: the rest of the request reaches the
    // server later, and what it answers to those bytes would pass for the next request's answer.
    accepted = (socket, connection) => {
      if (connection > 0) return;
      socket.pause();
      socket.write(ok('early'));
    };
    handler = (socket, { path }) => socket.write(ok(path));
    const agent = newAgent();
    const signal = AbortSignal.timeout(2000);
    const big = Object.assign(req(signal), {
      headerLines: `x-big: ${'a'.repeat(16 * 1024 * 1024)}\r\n`,
    });
    expect(text((await agent.get(url(), big)).body)).toBe('early');
    expect(agent.idleConnections).toBe(0);
    expect(text((await agent.get(url('/next'), req(signal))).body)).toBe('/next');
    expect(agent.connectionsOpened).toBe(2);
  });

  it('fails with a transient HttpConnectionError when a new connection is reset', async () => {
    handler = (socket) => socket.destroy();
    const error = await newAgent()
      .get(url(), req())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpConnectionError);
    expect((error as HttpConnectionError).code).toBe('E_LOADER_HTTP_CONNECTION');
    expect((error as Error).message).toContain('connection closed before any response');
  });

  it('fails on a refused connection, carrying the socket error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await newAgent()
      .get(new URL(`http://127.0.0.1:${free}/`), req())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpConnectionError);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('reports a truncated body and gives its buffer back', async () => {
    handler = (socket) => {
      // end() closes after the bytes are flushed, so the client always sees all 40 of them.
      socket.end(
        'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly forty bytes of the hundred promised',
      );
    };
    const r = req();
    const error = await newAgent()
      .get(url(), r)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpConnectionError);
    expect((error as Error).message).toContain('after 40 of 100 body bytes');
    expect([r.acquired, r.released]).toEqual([1, 1]);
  });

  it('reports a truncated body whose bytes arrive after the headers', async () => {
    // Headers first, then part of the body in a later read.
    handler = (socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n');
      setTimeout(() => socket.end('x'.repeat(30)), 20);
    };
    const r = req();
    const error = await newAgent()
      .get(url(), r)
      .catch((e: unknown) => e);
    expect((error as Error).message).toContain('after 30 of 100 body bytes');
    expect([r.acquired, r.released]).toEqual([1, 1]);
  });

  it('reports a chunked body cut short', async () => {
    handler = (socket) => {
      socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel');
    };
    const error = await newAgent()
      .get(url(), req())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpConnectionError);
    expect((error as Error).message).toContain('inside a chunked body');
  });

  it('aborts: rejects with the signal reason and closes the connection', async () => {
    let serverSaw: Socket | undefined;
    handler = (socket) => {
      serverSaw = socket;
    };
    const controller = new AbortController();
    const pending = newAgent().get(url(), req(controller.signal));
    while (serverSaw === undefined) await new Promise((r) => setTimeout(r, 2));
    const closed = new Promise((r) => serverSaw!.once('close', r));
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await closed;
  });

  it('rejects at once for an already aborted signal, without connecting', async () => {
    const agent = newAgent();
    await expect(agent.get(url(), req(AbortSignal.abort(new Error('early'))))).rejects.toThrow(
      'early',
    );
    expect(agent.connectionsOpened).toBe(0);
  });

  it('closes idle connections after idleTimeoutMs', async () => {
    handler = (socket) => socket.write(ok('.'));
    const agent = newAgent({ idleTimeoutMs: 30 });
    await agent.get(url(), req());
    expect(agent.idleConnections).toBe(1);
    const deadline = Date.now() + 5000;
    while (agent.idleConnections > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(agent.idleConnections).toBe(0);
  });

  it('does not keep the process alive with idle connections', async () => {
    // A child loads once from this server with a 60 s idle timeout and must still exit at once.
    handler = (socket) => socket.write(ok('child'));
    const script = fileURLToPath(new URL('../test/child-http1-get.ts', import.meta.url));
    const started = Date.now();
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const child = spawn(process.execPath, ['--import', tsx, script, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(out.trim()).toBe('child 1');
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('Http1Agent protocol errors', () => {
  const cases: [string, string, RegExp][] = [
    ['a bad status line', 'HTTP/2 200 OK\r\n\r\n', /bad status line "HTTP\/2 200 OK"/],
    [
      'a bad header line',
      'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
      /bad header line "no colon here"/,
    ],
    [
      'a bad Content-Length',
      'HTTP/1.1 200 OK\r\ncontent-length: 12abc\r\n\r\n',
      /bad Content-Length "12abc"/,
    ],
    [
      'conflicting Content-Lengths',
      'HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\nabcd',
      /bad Content-Length "3, 4"/,
    ],
    [
      'a bad chunk size',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
      /bad chunk size "zz"/,
    ],
    [
      'chunk data without its CRLF',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXY',
      /not followed by CRLF/,
    ],
    ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', /unexpected 101/],
    [
      'a body over maxBodyBytes',
      'HTTP/1.1 200 OK\r\ncontent-length: 2000\r\n\r\n',
      /body of 2000 bytes is over maxBodyBytes 1000/,
    ],
    [
      'headers over maxHeaderBytes',
      `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(3000)}\r\n\r\n`,
      /response headers over 1024 bytes/,
    ],
  ];
  it.each(cases)('rejects %s with HttpProtocolError', async (_name, wire, message) => {
    handler = (socket) => socket.write(wire);
    const error = await newAgent({ maxBodyBytes: 1000, maxHeaderBytes: 1024 })
      .get(url(), req())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpProtocolError);
    expect((error as HttpProtocolError).code).toBe('E_LOADER_HTTP_PROTOCOL');
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(`GET http://127.0.0.1:${port}/x`);
  });

  it('refuses a non-http URL', async () => {
    await expect(newAgent().get(new URL('https://127.0.0.1/'), req())).rejects.toBeInstanceOf(
      HttpProtocolError,
    );
  });
});

describe('httpSource transport options', () => {
  it('rejects header names and values that could inject lines, and an unknown transport', () => {
    const u = (s: string) => `http://127.0.0.1:1/${s}`;
    expect(() => httpSource({ url: u, headers: { 'x-a': 'ok\r\nx-b: injected' } })).toThrow(
      LoaderOptionError,
    );
    expect(() => httpSource({ url: u, headers: { 'bad name': 'v' } })).toThrow(
      /headers = bad name/,
    );
    expect(() => httpSource({ url: u, transport: 'curl' as 'auto' })).toThrow(/transport = curl/);
  });

  it("sends the caller's Host header instead of the URL's", async () => {
    let seen = '';
    const json = '{"time":[1],"open":[1],"high":[1],"low":[1],"close":[1],"volume":[1]}';
    handler = (socket, { head }) => {
      seen = head;
      socket.write(ok(json, 'content-type: application/json\r\n'));
    };
    const source = httpSource({
      url: (s) => `http://127.0.0.1:${port}/${s}`,
      headers: { Host: 'md.example' },
    });
    const bars = await source.load('A', { signal: new AbortController().signal });
    expect(bars.close).toEqual(new Float64Array([1]));
    const hosts = seen.split('\r\n').filter((l) => l.toLowerCase().startsWith('host:'));
    expect(hosts).toEqual(['Host: md.example']);
  });

  it('a DataLoader retries connection failures by default, and not protocol errors', async () => {
    const json = '{"time":[1],"open":[1],"high":[1],"low":[1],"close":[1],"volume":[1]}';
    let requests = 0;
    handler = (socket, { path }) => {
      requests++;
      if (path === '/RESET' && requests === 1) socket.destroy();
      else if (path === '/BROKEN') socket.write('HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n');
      else socket.write(ok(json));
    };
    const source = httpSource({ url: (s) => `http://127.0.0.1:${port}/${s}` });
    const loader = new DataLoader({ retry: { baseDelayMs: 1 } });
    expect((await loader.load('RESET', source)).close).toEqual(new Float64Array([1]));
    expect(requests).toBe(2);
    requests = 0;
    const error = await loader.load('BROKEN', source).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadFailedError);
    expect((error as LoadFailedError).cause).toBeInstanceOf(HttpProtocolError);
    expect(requests).toBe(1);
    expect(isTransient(new HttpConnectionError('u', 'closed'))).toBe(true);
    expect(isTransient(new HttpProtocolError('u', 'bad'))).toBe(false);
    const unknownHost = Object.assign(new Error('getaddrinfo ENOTFOUND md.invalid'), {
      code: 'ENOTFOUND',
    });
    expect(isTransient(new HttpConnectionError('u', 'x', { cause: unknownHost }))).toBe(false);
  });
});
