/**
 * serialize benchmarks. Every ratio is measured against a baseline in the same run (interleaved rounds):
 *  - 10k OHLCV row objects: encode+decode vs JSON.stringify+JSON.parse (and v8.serialize/deserialize);
 *  - 5 x 10k Float64Array columns: encode+decode vs one copy of the same bytes (and v8);
 *  - framing overhead: our encode+decode of a byte payload vs zstd-napi compress+decompress of it;
 *  - the longest event-loop block during encodeAsync/decodeAsync of payloads over 1 MiB.
 */
import { deserialize as v8Deserialize, serialize as v8Serialize } from 'node:v8';
import {
  createRng,
  defineBenchSuite,
  ratioMeasurement,
  suite,
  timeMeasurement,
  type Measurement,
} from '@peaktrade/bench-harness';
import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import { Slicer } from '../src/async.js';
import { crc32, crc32Implementation } from '../src/crc.js';
import { createCodec, decode, encode } from '../src/index.js';
import { sp500Columns, transformSizes } from './column-transform.js';

interface Row {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** 1-minute bars of a geometric random walk (full-precision doubles, as computed prices are). */
export function ohlcvRows(n: number, seed = 7): Row[] {
  const next = createRng(seed);
  const rows: Row[] = [];
  let price = 100;
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = open * (1 + (next() - 0.5) * 0.002);
    const high = Math.max(open, close) * (1 + next() * 0.0005);
    const low = Math.min(open, close) * (1 - next() * 0.0005);
    rows.push({
      time: 1_700_000_000_000 + i * 60_000,
      open,
      high,
      low,
      close,
      volume: Math.round(next() * 10_000),
    });
    price = close;
  }
  return rows;
}

/** The same bars as columns (time plus the four prices: 5 Float64Array columns). */
export function ohlcColumns(rows: readonly Row[]): Record<string, Float64Array> {
  const n = rows.length;
  const cols = {
    time: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
  };
  rows.forEach((r, i) => {
    cols.time[i] = r.time;
    cols.open[i] = r.open;
    cols.high[i] = r.high;
    cols.low[i] = r.low;
    cols.close[i] = r.close;
  });
  return cols;
}

/**
 * Longest gap between setImmediate ticks while `work` runs: wall-clock ms, and the process CPU ms
 * (user + system) spent inside that same kind of gap, which stays meaningful when a loaded machine
 * deschedules the process mid-gap.
 */
async function longestBlock(
  work: () => Promise<unknown>,
): Promise<{ wallMs: number; cpuMs: number }> {
  let wallMs = 0;
  let cpuMs = 0;
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let running = true;
  const sample = (): void => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    wallMs = Math.max(wallMs, now - last);
    cpuMs = Math.max(cpuMs, (cpu.user + cpu.system) / 1000);
    last = now;
    lastCpu = process.cpuUsage();
  };
  const tick = (): void => {
    sample();
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  running = false;
  sample();
  return { wallMs, cpuMs };
}

/**
 * The work done between two yield points of the sliced paths, per step, as the minimum over `runs`
 * repetitions of the same call: steps are deterministic units of work (a zstd block, a MessagePack
 * batch, a CRC/memcpy step), so the minimum filters out time the OS spent running other processes.
 * Returns the longest such unit in ms. It wraps `Slicer.prototype.step` for the duration of the call.
 */
async function longestStepMs(work: () => Promise<unknown>, runs: number): Promise<number> {
  const original = Slicer.prototype.step;
  let last = 0;
  let current: number[] = [];
  Slicer.prototype.step = async function step(this: Slicer): Promise<void> {
    current.push(performance.now() - last);
    await original.call(this);
    last = performance.now();
  };
  const perRun: number[][] = [];
  try {
    for (let r = 0; r < runs; r++) {
      current = [];
      last = performance.now();
      await work();
      perRun.push(current);
    }
  } finally {
    Slicer.prototype.step = original;
  }
  const steps = Math.min(...perRun.map((p) => p.length));
  let longest = 0;
  for (let i = 0; i < steps; i++)
    longest = Math.max(longest, Math.min(...perRun.map((p) => p[i] ?? Infinity)));
  return longest;
}

export default defineBenchSuite({
  name: 'serialize',
  description:
    'msgpack+zstd codec: 10k OHLCV rows vs JSON, 5x10k Float64Array columns vs memcpy, framing vs raw zstd-napi, async event-loop blocking',
  async run(ctx): Promise<readonly Measurement[]> {
    const timeMs = ctx.quick ? Math.min(ctx.timeMs, 80) : ctx.timeMs;
    const rounds = ctx.quick ? 3 : 8;
    const out: Measurement[] = [];
    const raw = createCodec({ thresholdBytes: Infinity });

    // ---------------------------------------------------------------- 10k OHLCV rows as objects
    const rows = ohlcvRows(10_000);
    ctx.log('10k OHLCV row objects: encode+decode vs JSON.stringify+parse vs v8');
    const rowsSuite = await suite(
      'serialize.rows',
      {
        json: () => JSON.parse(JSON.stringify(rows)) as unknown,
        serialize: () => decode(encode(rows)),
        'serialize.raw': () => raw.decode(raw.encode(rows)),
        v8: () => v8Deserialize(v8Serialize(rows)) as unknown,
      },
      { baseline: 'json', timeMs, rounds },
    );
    const jsonBytes = Buffer.byteLength(JSON.stringify(rows));
    const msgpackBytes = raw.encode(rows).byteLength - 12;
    const zstdBytes = encode(rows).byteLength;
    out.push(
      ratioMeasurement(
        'serialize.rows.ratio',
        '10k OHLCV rows encode+decode / JSON stringify+parse',
        rowsSuite,
        'serialize',
      ),
      ratioMeasurement(
        'serialize.rows.raw.ratio',
        '10k rows encode+decode, never compressed / JSON',
        rowsSuite,
        'serialize.raw',
      ),
      ratioMeasurement(
        'serialize.rows.v8.ratio',
        '10k rows v8.serialize+deserialize / JSON',
        rowsSuite,
        'v8',
      ),
      timeMeasurement(
        'serialize.rows.ms',
        '10k rows encode+decode (default: zstd-3)',
        rowsSuite.results.serialize!,
        'ms',
      ),
      timeMeasurement(
        'serialize.rows.json.ms',
        '10k rows JSON stringify+parse',
        rowsSuite.results.json!,
        'ms',
      ),
      {
        id: 'serialize.rows.bytesRatio',
        label: '10k rows MessagePack bytes (before compression) / JSON bytes',
        value: msgpackBytes / jsonBytes,
        unit: 'x',
        detail: `${msgpackBytes} B msgpack vs ${jsonBytes} B JSON; zstd-3 output ${zstdBytes} B; v8.serialize ${v8Serialize(rows).byteLength} B`,
      },
      {
        id: 'serialize.rows.compressedBytes',
        label: '10k rows encoded size (zstd level 3)',
        value: zstdBytes,
        unit: 'bytes',
      },
    );

    // ---------------------------------------------------------------- 5 x 10k Float64Array columns
    const cols = ohlcColumns(rows);
    const colBytes = Object.values(cols).reduce((s, c) => s + c.byteLength, 0);
    const flat = new Uint8Array(colBytes);
    let off = 0;
    for (const c of Object.values(cols)) {
      flat.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), off);
      off += c.byteLength;
    }
    ctx.log('5 x 10k Float64Array columns: encode+decode vs one memcpy');
    const colSuite = await suite(
      'serialize.columns',
      {
        memcpy: () => new Uint8Array(flat),
        // The least any checksummed encode+decode can do: copy the bytes out once, and CRC-32 them on
        // each side (with the CRC-32 the codec uses: @node-rs/crc32 where it loads, else zlib's).
        floor: () => crc32(new Uint8Array(flat), crc32(flat)),
        serialize: () => decode(encode(cols)),
        'serialize.raw': () => raw.decode(raw.encode(cols)),
        v8: () => v8Deserialize(v8Serialize(cols)) as unknown,
      },
      { baseline: 'memcpy', timeMs, rounds },
    );
    out.push(
      ratioMeasurement(
        'serialize.columns.raw.ratio',
        '5x10k Float64Array encode+decode (raw, uncompressed) / one memcpy',
        colSuite,
        'serialize.raw',
      ),
      ratioMeasurement(
        'serialize.columns.ratio',
        '5x10k Float64Array encode+decode (default: zstd-3) / one memcpy',
        colSuite,
        'serialize',
      ),
      ratioMeasurement(
        'serialize.columns.floor.ratio',
        `5x10k Float64Array: one copy + a CRC-32 on each side (floor of any checksummed format; ${crc32Implementation}) / one memcpy`,
        colSuite,
        'floor',
      ),
      ratioMeasurement(
        'serialize.columns.v8.ratio',
        '5x10k Float64Array v8.serialize+deserialize / one memcpy',
        colSuite,
        'v8',
      ),
      timeMeasurement(
        'serialize.columns.raw.us',
        '5x10k Float64Array encode+decode (raw)',
        colSuite.results['serialize.raw']!,
        'us',
      ),
      timeMeasurement(
        'serialize.columns.memcpy.us',
        `memcpy of ${colBytes} bytes`,
        colSuite.results.memcpy!,
        'us',
      ),
    );

    // ---------------------------------------------------------------- framing overhead vs zstd-napi
    const payload = raw.encode(rows).subarray(12).slice();
    const direct = { compressionLevel: 3, checksumFlag: true };
    ctx.log('framing overhead: encode+decode of a byte payload vs zstd-napi compress+decompress');
    const frameSuite = await suite(
      'serialize.framing',
      {
        'zstd-napi': () => zstdDecompress(zstdCompress(payload, direct)),
        serialize: () => decode(encode(payload)),
      },
      { baseline: 'zstd-napi', timeMs, rounds },
    );
    const frameRatio = ratioMeasurement(
      'serialize.framing.ratio',
      `encode+decode of a ${payload.byteLength} B Uint8Array / zstd-napi compress+decompress (level 3, checksum on)`,
      frameSuite,
      'serialize',
    );
    out.push(frameRatio, {
      id: 'serialize.framing.overheadPct',
      label: 'framing overhead over zstd-napi compress+decompress',
      value: (frameRatio.value - 1) * 100,
      unit: '%',
      detail:
        'header + CRC-32 + MessagePack ext wrapping + copies, on the msgpack bytes of the 10k rows',
    });

    // ---------------------------------------------------------------- event-loop blocking, >1 MiB payloads
    const bigRows = ohlcvRows(ctx.quick ? 20_000 : 100_000);
    const bigCols = ohlcColumns(ohlcvRows(ctx.quick ? 100_000 : 400_000));
    const codec = createCodec();
    for (const [name, value] of [
      ['rows', bigRows],
      ['columns', bigCols],
    ] as const) {
      const bytes = codec.encode(value);
      const size = raw.encode(value).byteLength - 12;
      const worst = { encWall: 0, encCpu: 0, decWall: 0, decCpu: 0 };
      const t0 = performance.now();
      codec.decode(codec.encode(value));
      const syncMs = performance.now() - t0;
      for (let i = 0; i < (ctx.quick ? 1 : 3); i++) {
        const e = await longestBlock(() => codec.encodeAsync(value));
        const d = await longestBlock(() => codec.decodeAsync(bytes));
        worst.encWall = Math.max(worst.encWall, e.wallMs);
        worst.encCpu = Math.max(worst.encCpu, e.cpuMs);
        worst.decWall = Math.max(worst.decWall, d.wallMs);
        worst.decCpu = Math.max(worst.decCpu, d.cpuMs);
      }
      const runs = ctx.quick ? 2 : 5;
      const encStep = await longestStepMs(() => codec.encodeAsync(value), runs);
      const decStep = await longestStepMs(() => codec.decodeAsync(bytes), runs);
      const mib = (size / 2 ** 20).toFixed(1);
      ctx.log(
        `async ${name}: longest unit of work between yield points: enc ${encStep.toFixed(2)} ms, dec ${decStep.toFixed(2)} ms`,
      );
      ctx.log(
        `async ${name}: ${mib} MiB, longest block enc ${worst.encWall.toFixed(1)} ms (cpu ${worst.encCpu.toFixed(1)}) ` +
          `dec ${worst.decWall.toFixed(1)} ms (cpu ${worst.decCpu.toFixed(1)}); sync encode+decode ${syncMs.toFixed(1)} ms`,
      );
      const detail = `longest gap between setImmediate ticks, worst of the runs; sync encode+decode took ${syncMs.toFixed(1)} ms`;
      out.push(
        {
          id: `serialize.async.${name}.encodeMaxBlockMs`,
          label: `encodeAsync longest event-loop block, ${mib} MiB ${name}`,
          value: worst.encWall,
          unit: 'ms',
          detail,
        },
        {
          id: `serialize.async.${name}.decodeMaxBlockMs`,
          label: `decodeAsync longest event-loop block, ${mib} MiB ${name}`,
          value: worst.decWall,
          unit: 'ms',
          detail,
        },
        {
          id: `serialize.async.${name}.encodeMaxBlockCpuMs`,
          label: `encodeAsync most process CPU in one block, ${mib} MiB ${name}`,
          value: worst.encCpu,
          unit: 'ms',
          detail: 'process.cpuUsage (user+system, all threads incl. GC) between two ticks',
        },
        {
          id: `serialize.async.${name}.decodeMaxBlockCpuMs`,
          label: `decodeAsync most process CPU in one block, ${mib} MiB ${name}`,
          value: worst.decCpu,
          unit: 'ms',
          detail: 'process.cpuUsage (user+system, all threads incl. GC) between two ticks',
        },
        {
          id: `serialize.async.${name}.encodeMaxStepMs`,
          label: `encodeAsync longest unit of work between yield points, ${mib} MiB ${name}`,
          value: encStep,
          unit: 'ms',
          detail: `per-step minimum over ${runs} runs, then the maximum over steps; a slice is at most ${2} ms plus one unit`,
        },
        {
          id: `serialize.async.${name}.decodeMaxStepMs`,
          label: `decodeAsync longest unit of work between yield points, ${mib} MiB ${name}`,
          value: decStep,
          unit: 'ms',
          detail: `per-step minimum over ${runs} runs, then the maximum over steps`,
        },
      );
    }

    // ---------------------------------------------------------------- stretch: Float64 column transforms
    ctx.log('column transforms (byte shuffle, XOR-delta) vs plain zstd-3: compressed sizes');
    const datasets: [string, string, Float64Array[]][] = [
      [
        'randomWalk',
        '10k-bar random walk, full-precision o/h/l/c',
        [cols.open!, cols.high!, cols.low!, cols.close!],
      ],
      ['sp500', 'S&P 500 daily o/h/l/c 2000-2020 (vega-datasets sp500-2000.csv)', sp500Columns()],
    ];
    for (const [key, what, columns] of datasets) {
      const total = { plain: 0, shuffle: 0, xor: 0, xorShuffle: 0 };
      for (const c of columns) {
        const sizes = transformSizes(c);
        for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += sizes[k];
      }
      const best = Math.min(total.shuffle, total.xor, total.xorShuffle);
      out.push({
        id: `serialize.transform.${key}.gainPct`,
        label: `best column transform vs plain zstd-3, ${what}`,
        value: (1 - best / total.plain) * 100,
        unit: '%',
        detail: `zstd-3 bytes: plain ${total.plain}, shuffle ${total.shuffle}, xor-delta ${total.xor}, xor+shuffle ${total.xorShuffle} (negative = transform loses)`,
      });
    }
    return out;
  },
});
