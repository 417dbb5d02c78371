// A real HTTP server on 127.0.0.1 that serves OHLCV bars and injects faults on demand.
// Tests script, per symbol, what each successive request gets; the server counts requests
// and in-flight connections so limits can be asserted from the server's side.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { encodeColumnar, type OhlcvColumns } from '../src/index.js';

/** What one request gets. */
export type Fault =
  | 'ok'
  | 'ok-csv'
  | 'ok-columnar'
  | '500'
  | '404'
  | { status: 429; retryAfter: string }
  | { slowMs: number }
  | 'reset'
  | 'truncated'
  | 'malformed-json'
  | 'malformed-csv'
  | 'bad-time-json'
  | 'bad-time-csv'
  | 'unsorted';

/** Deterministic bars for a symbol: `n` bars, time 1000·i ms. */
export function barsFor(symbol: string, n = 50): OhlcvColumns {
  let seed = [...symbol].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const cols = {
    time: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
  let price = 100 + rand() * 10;
  for (let i = 0; i < n; i++) {
    const open = price;
    price *= 1 + (rand() - 0.5) * 0.02;
    cols.time[i] = 1_700_000_000_000 + i * 60_000;
    cols.open[i] = Math.round(open * 100) / 100;
    cols.close[i] = Math.round(price * 100) / 100;
    cols.high[i] = Math.max(cols.open[i]!, cols.close[i]!) + 0.5;
    cols.low[i] = Math.min(cols.open[i]!, cols.close[i]!) - 0.5;
    cols.volume[i] = Math.round(rand() * 1e6);
  }
  return cols;
}

function toJson(cols: OhlcvColumns): string {
  return JSON.stringify(
    Array.from(cols.time, (t, i) => ({
      time: t,
      open: cols.open[i],
      high: cols.high[i],
      low: cols.low[i],
      close: cols.close[i],
      volume: cols.volume[i],
    })),
  );
}

function toCsv(cols: OhlcvColumns): string {
  const lines = ['time,open,high,low,close,volume'];
  for (let i = 0; i < cols.time.length; i++)
    lines.push(
      `${cols.time[i]},${cols.open[i]},${cols.high[i]},${cols.low[i]},${cols.close[i]},${cols.volume[i]}`,
    );
  return `${lines.join('\r\n')}\r\n`;
}

export interface FaultServer {
  readonly url: string;
  /** Requests received per symbol. */
  readonly requests: Map<string, number>;
  /** Arrival times (performance.now) of every request. */
  readonly arrivals: number[];
  /** Connections handling a request right now, and the most at once. */
  readonly inFlight: { now: number; peak: number };
  /** Requests whose client went away before the response finished. */
  aborted: number;
  /** Script the faults for a symbol; requests past the end of the script get 'ok'. */
  script(symbol: string, faults: Fault[]): void;
  /** Delay every 'ok' response by this many ms (to make concurrency observable). */
  okDelayMs: number;
  close(): Promise<void>;
}

export async function startFaultServer(): Promise<FaultServer> {
  const scripts = new Map<string, Fault[]>();
  const state: FaultServer = {
    url: '',
    requests: new Map(),
    arrivals: [],
    inFlight: { now: 0, peak: 0 },
    aborted: 0,
    okDelayMs: 0,
    script(symbol, faults) {
      scripts.set(symbol, [...faults]);
    },
    close: () => Promise.resolve(),
  };
  const sockets = new Set<Socket>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const symbol = decodeURIComponent(
      new URL(req.url ?? '/', 'http://x').pathname.split('/').pop() ?? '',
    );
    state.requests.set(symbol, (state.requests.get(symbol) ?? 0) + 1);
    state.arrivals.push(performance.now());
    state.inFlight.now++;
    state.inFlight.peak = Math.max(state.inFlight.peak, state.inFlight.now);
    let finished = false;
    res.on('close', () => {
      state.inFlight.now--;
      if (!finished && !res.writableFinished) state.aborted++;
      finished = true;
    });
    const fault = scripts.get(symbol)?.shift() ?? 'ok';
    const cols = barsFor(symbol);
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    if (typeof fault === 'object' && 'slowMs' in fault) {
      await wait(fault.slowMs);
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/json' }).end(toJson(cols));
      return;
    }
    if (typeof fault === 'object') {
      res.writeHead(fault.status, { 'retry-after': fault.retryAfter }).end('slow down');
      return;
    }
    switch (fault) {
      case 'ok':
      case 'ok-csv':
      case 'ok-columnar': {
        if (state.okDelayMs > 0) await wait(state.okDelayMs);
        if (res.destroyed) return;
        if (fault === 'ok')
          res.writeHead(200, { 'content-type': 'application/json' }).end(toJson(cols));
        else if (fault === 'ok-csv')
          res.writeHead(200, { 'content-type': 'text/csv' }).end(toCsv(cols));
        else
          res
            .writeHead(200, { 'content-type': 'application/vnd.peaktrade.ohlcv' })
            .end(encodeColumnar(cols, { symbol }));
        return;
      }
      case '500':
        res.writeHead(500).end('boom');
        return;
      case '404':
        res.writeHead(404).end('no such symbol');
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'truncated': {
        const body = toJson(cols);
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(body.length),
        });
        res.write(body.slice(0, body.length >> 1));
        setTimeout(() => req.socket.destroy(), 5);
        return;
      }
      case 'malformed-json':
        res.writeHead(200, { 'content-type': 'application/json' }).end('[{"time": 1, "open": 2,');
        return;
      case 'malformed-csv':
        res
          .writeHead(200, { 'content-type': 'text/csv' })
          .end('time,open,high,low,close,volume\n1,2,3,1,2,100\n2,2,oops,1,2,100\n');
        return;
      case 'bad-time-json':
        // Date.parse would take "foo 12" for a date in 2001.
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify([
            { time: '2000-01-01T00:00:00Z', open: 1, high: 1, low: 1, close: 1, volume: 1 },
            { time: 'foo 12', open: 1, high: 1, low: 1, close: 1, volume: 1 },
          ]),
        );
        return;
      case 'bad-time-csv':
        res
          .writeHead(200, { 'content-type': 'text/csv' })
          .end('time,open,high,low,close,volume\n2024-01-02,2,3,1,2,100\n01/03/2024,2,3,1,2,100\n');
        return;
      case 'unsorted':
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            time: [3, 2],
            open: [1, 1],
            high: [1, 1],
            low: [1, 1],
            close: [1, 1],
            volume: [1, 1],
          }),
        );
        return;
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.destroy(error as Error);
    });
  });
  server.keepAliveTimeout = 1000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}
