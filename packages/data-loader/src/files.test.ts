import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SerializeError, createCodec, encode, encodedHeader } from '@peaktrade/serialize';
import { afterAll, describe, expect, it } from 'vitest';
import { barsFor } from '../test/fault-server.js';
import { thrown } from '../test/thrown.js';
import {
  CsvParser,
  DataLoader,
  DataValidationError,
  LoaderOptionError,
  columnarFileSource,
  csvFileSource,
  decodeColumnar,
  encodeColumnar,
  jsonToColumns,
  parseCsv,
  parseNumber,
  readColumnarFile,
  readCsvFile,
  sqliteSource,
  validateColumns,
  writeColumnarFile,
} from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'pt-loader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header = 'time,open,high,low,close,volume';

describe('CSV', () => {
  it('parses a header, LF and CRLF line ends identically', () => {
    const rows = ['1,10,11,9,10.5,100', '2,10.5,12,10,11.25,200'];
    const lf = parseCsv('X', `${header}\n${rows.join('\n')}\n`);
    const crlf = parseCsv('X', `${header}\r\n${rows.join('\r\n')}\r\n`);
    expect(lf).toEqual(crlf);
    expect(Array.from(lf.close)).toEqual([10.5, 11.25]);
    expect(Array.from(lf.time)).toEqual([1, 2]);
  });

  it('handles quoted fields, escaped quotes, extra columns, any column order and no trailing newline', () => {
    const text =
      'Volume,"Close",symbol,High,Low,Open,Date\n"1,000",10.5,"A ""quoted"" name",11,9,10,2024-01-02T00:00:00Z\n2000,"11",plain,12,10,10.5,2024-01-03T00:00:00Z';
    const cols = parseCsv('X', text.replace('"1,000"', '1000'));
    expect(Array.from(cols.volume)).toEqual([1000, 2000]);
    expect(Array.from(cols.close)).toEqual([10.5, 11]);
    expect(Array.from(cols.time)).toEqual([
      Date.parse('2024-01-02T00:00:00Z'),
      Date.parse('2024-01-03T00:00:00Z'),
    ]);
  });

  it('reads headerless files as time, open, high, low, close, volume', () => {
    const cols = parseCsv('X', '1,10,11,9,10.5,100\n2,10.5,12,10,11,200\n');
    expect(Array.from(cols.high)).toEqual([11, 12]);
  });

  it('gives zero bars for an empty file and for a header only', () => {
    expect(parseCsv('X', '').time.length).toBe(0);
    expect(parseCsv('X', `${header}\r\n`).close.length).toBe(0);
  });

  it('gives the same result whatever the chunk boundaries', () => {
    const text = `${header}\r\n1,10,11,9,"10.5",100\r\n2,10.5,12,10,11,2e2\r\n3,11,12.5,10.75,12,300\r\n`;
    const whole = parseCsv('X', text);
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const parser = new CsvParser('X');
      parser.push(bytes.subarray(0, cut));
      parser.push(bytes.subarray(cut));
      expect(parser.finish()).toEqual(whole);
    }
  });

  it('gives the same result whatever the chunk boundaries, with blanks after a closing quote', () => {
    const text = `${header}\n"1" ,10,11,9,"10.5"\t,100\n2,10.5,12,10,11,200\n`;
    const whole = parseCsv('X', text);
    expect(Array.from(whole.time)).toEqual([1, 2]);
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const parser = new CsvParser('X');
      parser.push(bytes.subarray(0, cut));
      parser.push(bytes.subarray(cut));
      expect(parser.finish(), `cut at ${cut}`).toEqual(whole);
    }
  });

  it('skips a UTF-8 byte order mark, even before a quoted field or split across chunks', () => {
    const plain = parseCsv('X', `${header}\n1,2,3,1,2,100\n`);
    const quotedHeader = `\uFEFF"time","open","high","low","close","volume"\n1,2,3,1,2,100\n`;
    // Without a header the BOM stuck to the first time, which then went to Date.parse: 2001-01-01.
    const quotedFirst = `\uFEFF"1",2,3,1,2,100\n`;
    for (const text of [quotedHeader, quotedFirst, `\uFEFF${header}\n1,2,3,1,2,100\n`]) {
      expect(parseCsv('X', text), text).toEqual(plain);
      const bytes = Buffer.from(text);
      for (let size = 1; size <= 4; size++) {
        const parser = new CsvParser('X');
        for (let at = 0; at < bytes.length; at += size) parser.push(bytes.subarray(at, at + size));
        expect(parser.finish(), `${size}-byte chunks of ${text}`).toEqual(plain);
      }
    }
  });

  it('reads a trailing empty field at the end of input like one before a line end', () => {
    // An ignored last column left empty: the last record is not one field short without a newline.
    const withNewline = parseCsv('X', `${header},note\n1,2,3,1,2,100,\n2,2,3,1,2,100,\n`);
    expect(withNewline.time.length).toBe(2);
    expect(parseCsv('X', `${header},note\n1,2,3,1,2,100,\n2,2,3,1,2,100,`)).toEqual(withNewline);
  });

  it('names the row and field of a non-numeric value', () => {
    const error = thrown(() =>
      parseCsv('AAPL', `${header}\n1,1,1,1,1,1\n2,1,x,1,1,1\n`),
    ) as DataValidationError;
    expect(error).toBeInstanceOf(DataValidationError);
    expect(error).toMatchObject({ symbol: 'AAPL', row: 1, field: 'high' });
    expect(error.message).toBe(
      'Invalid data for AAPL at row 1, field "high": non-numeric value "x": expected a finite ' +
        'decimal number: optional sign, digits, optional fraction and exponent, such as 12, -0.5 or 1.5e3',
    );
  });

  it('names a missing column, a short row and unsorted time', () => {
    expect(thrown(() => parseCsv('X', 'time,open,high,low,close\n1,1,1,1,1\n'))).toMatchObject({
      field: 'volume',
      reason: expect.stringContaining('missing column') as string,
    });
    expect(thrown(() => parseCsv('X', `${header}\n1,1,1,1,1,1\n2,1,1,1,1\n`))).toMatchObject({
      row: 1,
      reason: 'expected 6 fields, got 5',
    });
    expect(thrown(() => parseCsv('X', `${header}\n2,1,1,1,1,1\n1,1,1,1,1,1\n`))).toMatchObject({
      row: 1,
      field: 'time',
    });
    expect(thrown(() => parseCsv('X', `${header}\n1,1,1,1,"unterminated,1\n`))).toMatchObject({
      reason: 'unterminated quoted field',
    });
  });

  it('auto-detects a first line with an empty first field by its other fields: a header with an unnamed column, or data without its time', () => {
    const rows = '2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,10,11,200\n';
    // pandas writes a RangeIndex as an unnamed first column: a header, whose time column is named.
    const indexed = parseCsv('X', `,time,open,high,low,close,volume\n0,1,10,11,9,10.5,100\n`);
    expect(Array.from(indexed.time)).toEqual([1]);
    expect(Array.from(indexed.close)).toEqual([10.5]);

    // An unnamed index holding the times: still a header, but which column is the time is not
    // guessed (it may as well hold row numbers, which would pass as epoch milliseconds).
    const unnamed = `,open,high,low,close,volume\n${rows}`;
    const noTime = thrown(() => parseCsv('X', unnamed)) as DataValidationError;
    expect(noTime).toBeInstanceOf(DataValidationError);
    expect(noTime).toMatchObject({ symbol: 'X', field: 'time', row: undefined });
    expect(noTime.reason).toBe(
      'missing column (header has: "", "open", "high", "low", "close", "volume"); column 1 has ' +
        'no name (pandas writes an unnamed index so) and is never guessed to be the time: if it ' +
        "is, pass columns: { time: '' }",
    );
    const named = parseCsv('X', unnamed, { columns: { time: '' } });
    expect(Array.from(named.time)).toEqual([Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3)]);
    expect(Array.from(named.close)).toEqual([10.5, 11]);

    // Data whose first time, or another first value, is empty: reported as the empty field it
    // is, as with header: false, not as a header lacking its columns.
    for (const [text, field, reason] of [
      [',10,11,9,10.5,100\n2,10.5,12,10,11,200\n', 'time', 'invalid time ""'],
      ['  ,10,11,9,10.5,100\n', 'time', 'invalid time "  "'],
      ['"",10,11,9,10.5,100\n', 'time', 'invalid time ""'],
      ['1,10,,9,10.5,100\n', 'high', 'non-numeric value ""'],
      [',,,,,\n', 'time', 'invalid time ""'],
    ] as const) {
      for (const header of ['auto', false] as const) {
        const error = thrown(() => parseCsv('X', text, { header })) as DataValidationError;
        expect(error, `${header} ${text}`).toBeInstanceOf(DataValidationError);
        expect(error, `${header} ${text}`).toMatchObject({ symbol: 'X', row: 0, field });
        expect(error.reason, `${header} ${text}`).toContain(reason);
      }
    }
  });

  it('refuses to guess when the first line holds both names and values, naming row 0 and what it saw', () => {
    for (const [text, saw] of [
      ['1,10,x,9,10.5,100\n', '("x") and values ("1", "10", "9", "10.5", "100")'],
      ['1,10,11,9,10.5,100,AAPL\n2,10.5,12,10,11,200,AAPL\n', '("AAPL") and values'],
      [',10,11,9,10.5,100,AAPL\n', '("AAPL") and values ("10", "11"'],
      ['t1,open,high,low,close,volume\n1,10,11,9,10.5,100\n', '("open", "high"'],
    ] as const) {
      const error = thrown(() => parseCsv('X', text)) as DataValidationError;
      expect(error, text).toBeInstanceOf(DataValidationError);
      expect(error, text).toMatchObject({ symbol: 'X', row: 0, field: undefined });
      expect(error.reason, text).toContain(
        'cannot tell whether the first line is a header or data: it holds both names ',
      );
      expect(error.reason, text).toContain(saw);
      expect(error.reason, text).toContain('Pass header: true or header: false');
    }
    // Told, it reads the line as asked.
    expect(thrown(() => parseCsv('X', '1,10,x,9,10.5,100\n', { header: false }))).toMatchObject({
      row: 0,
      field: 'high',
      reason: expect.stringContaining('non-numeric value "x"') as string,
    });
    const extra = '1,10,11,9,10.5,100,AAPL\n2,10.5,12,10,11,200,AAPL\n';
    expect(Array.from(parseCsv('X', extra, { header: false }).close)).toEqual([10.5, 11]);
    // A header that names every column is one, whatever else it holds.
    expect(Array.from(parseCsv('X', `${header},2024\n1,10,11,9,10.5,100,7\n`).close)).toEqual([
      10.5,
    ]);
  });

  it('reports a CSV file whose first line cannot be read right through the loader, naming the symbol, or the file when read directly', async () => {
    writeFileSync(join(dir, 'NOTIME.csv'), ',10,11,9,10.5,100\n2,10.5,12,10,11,200\n');
    writeFileSync(
      join(dir, 'UNNAMED.csv'),
      ',open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n',
    );
    writeFileSync(join(dir, 'MIXED.csv'), '1,10,x,9,10.5,100\n');
    writeFileSync(join(dir, 'GOOD.csv'), '1,10,11,9,10.5,100\n');
    const loader = new DataLoader();
    const { data, failures } = await loader.loadMany(
      ['NOTIME', 'UNNAMED', 'MIXED', 'GOOD'],
      csvFileSource({ path: join(dir, '{symbol}.csv') }),
    );
    expect(Array.from(data.get('GOOD')?.close ?? [])).toEqual([10.5]);
    expect([...failures.keys()].sort()).toEqual(['MIXED', 'NOTIME', 'UNNAMED']);
    for (const [symbol, where] of [
      ['NOTIME', { row: 0, field: 'time' }],
      ['UNNAMED', { field: 'time' }],
      ['MIXED', { row: 0 }],
    ] as const) {
      const cause = failures.get(symbol)!.cause as DataValidationError;
      expect(cause, symbol).toBeInstanceOf(DataValidationError);
      expect(cause, symbol).toMatchObject({ symbol, ...where });
    }
    const path = join(dir, 'NOTIME.csv');
    await expect(readCsvFile(path)).rejects.toThrow(
      `Invalid data for ${path} at row 0, field "time": invalid time ""`,
    );
  });

  it('refuses a bad delimiter option by name', () => {
    expect(thrown(() => new CsvParser('X', { delimiter: ';;' }))).toBeInstanceOf(LoaderOptionError);
  });

  it('parses numbers from bytes exactly as Number() does', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const samples = [
      '0',
      '-0',
      '1e5',
      '1.5E-3',
      '+7',
      '123456789012345678',
      '0.1',
      '3.14159265358979',
      '.5',
      '5.',
    ];
    for (let i = 0; i < 5000; i++) {
      const digits = Math.floor(rand() * 17) + 1;
      const v = (rand() - 0.5) * 10 ** Math.floor(rand() * 12);
      samples.push(v.toFixed(Math.min(digits, 12)), v.toPrecision(digits), String(v));
    }
    for (const s of samples) {
      const got = parseNumber(Buffer.from(s), 0, s.length);
      expect(Object.is(got, Number(s)) || (got === 0 && Number(s) === 0), s).toBe(true);
    }
    expect(parseNumber(Buffer.from('1x'), 0, 2)).toBeNaN();
    expect(parseNumber(Buffer.from(''), 0, 0)).toBeNaN();
  });

  it('reads every field exactly as Number() does, on the fast path and off it, whatever the delimiter', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    // '-0' first: the first line is read twice (header detection, then data), and came back +0
    const samples = ['-0', '0', '5.', '.5', '-.5', '007', '0.000000000000001', '1e5', '+7'];
    samples.push(
      '123456789012345',
      '1234567890123456',
      '-99999999999999.9',
      '0.1',
      '1600000000000',
    );
    for (let i = 0; i < 3000; i++) {
      const digits = Math.floor(rand() * 17) + 1;
      const v = (rand() - 0.5) * 10 ** Math.floor(rand() * 14);
      samples.push(v.toFixed(Math.min(digits, 12)), v.toPrecision(digits), String(v));
    }
    const cases: [string, (s: string) => boolean][] = [
      [',', () => true],
      [';', () => true],
      ['\t', () => true],
      [' ', () => true],
      ['|', () => true],
      // delimiters that can be part of a number: the fast path is off, the result the same
      ['-', (s) => !s.includes('-')],
      ['.', (s) => !s.includes('.')],
      ['7', (s) => !s.includes('7')],
    ];
    for (const [delimiter, fits] of cases) {
      const values = samples.filter(fits);
      // increasing times that do not hold the delimiter either
      const times: string[] = [];
      for (let t = 1; times.length < values.length; t++)
        if (!String(t).includes(delimiter)) times.push(String(t));
      const rows = values.map((v, i) =>
        [times[i], v, values[(i + 1) % values.length], v, v, v].join(delimiter),
      );
      for (const eol of ['\n', '\r\n']) {
        const cols = parseCsv('N', rows.join(eol) + eol, { header: false, delimiter });
        values.forEach((v, i) => {
          expect(Object.is(cols.open[i], Number(v)), `${JSON.stringify(delimiter)} ${v}`).toBe(
            true,
          );
          expect(Object.is(cols.volume[i], Number(v))).toBe(true);
          expect(Object.is(cols.high[i], Number(values[(i + 1) % values.length]))).toBe(true);
        });
      }
    }
  });

  it('streams a CSV file through csvFileSource', async () => {
    const cols = barsFor('FILE', 5000);
    const lines = [
      header,
      ...Array.from(
        cols.time,
        (t, i) =>
          `${t},${cols.open[i]},${cols.high[i]},${cols.low[i]},${cols.close[i]},${cols.volume[i]}`,
      ),
    ];
    const path = join(dir, 'FILE.csv');
    writeFileSync(path, lines.join('\n'));
    expect(await readCsvFile(path, 'FILE', { chunkBytes: 4096 })).toEqual(cols);
    const loader = new DataLoader();
    expect(
      await loader.load('FILE', csvFileSource({ path: (s) => join(dir, `${s}.csv`) })),
    ).toEqual(cols);
  });
});

describe('columnar files', () => {
  it('round-trip through write and read, atomically named', async () => {
    const cols = barsFor('COL', 10_000);
    const path = join(dir, 'COL.ptc');
    await writeColumnarFile(path, cols, { symbol: 'COL' });
    const back = await readColumnarFile(path, 'COL');
    expect(back).toEqual(cols);
    expect(back.close).toBeInstanceOf(Float64Array);
    const loader = new DataLoader();
    expect(
      await loader.load('COL', columnarFileSource({ path: (s) => join(dir, `${s}.ptc`) })),
    ).toEqual(cols);
  });

  it('can be written concurrently to one path: every write succeeds and leaves a whole file', async () => {
    // The temporary name was per millisecond: writes of small files shared it, mixed their
    // bytes, and all but one rename failed with ENOENT.
    const path = join(dir, 'SAME.ptc');
    const versions = Array.from({ length: 8 }, (_, i) => barsFor('SAME', i + 1));
    await Promise.all(versions.map((cols) => writeColumnarFile(path, cols)));
    const back = await readColumnarFile(path);
    expect(versions.some((cols) => back.time.length === cols.time.length)).toBe(true);
    expect(readdirSync(dir).filter((name) => name.startsWith('SAME.ptc.tmp'))).toEqual([]);
  });

  it('round-trip empty columns', () => {
    const empty = barsFor('E', 0);
    expect(decodeColumnar('E', encodeColumnar(empty))).toEqual(empty);
  });

  it('reject corrupt bytes with SerializeError and the wrong payload with DataValidationError', () => {
    const bytes = encodeColumnar(barsFor('C', 100));
    const flipped = bytes.slice();
    flipped[bytes.length >> 1]! ^= 0x10;
    expect(thrown(() => decodeColumnar('C', flipped))).toBeInstanceOf(SerializeError);
    expect(thrown(() => decodeColumnar('C', bytes.subarray(0, bytes.length - 3)))).toBeInstanceOf(
      SerializeError,
    );
    const notBars = encodeColumnar(barsFor('C', 3));
    const wrong = thrown(() => decodeColumnar('C', notBars.subarray(0, 0)));
    expect(wrong).toBeInstanceOf(SerializeError);
  });

  it('columnar layout 2: one value per column after a header, each column decompressed into the array returned', () => {
    const cols = barsFor('L', 10_000);
    const bytes = encodeColumnar(cols, { encoding: 'plain' });
    const headLength = encodedHeader(bytes).byteLength;
    const head = createCodec({ level: 1 }).decode(bytes.subarray(0, headLength)) as {
      version: number;
      columns: string[];
      length: number;
      checksums: number[];
    };
    expect(head.version).toBe(2);
    expect(head.columns).toEqual(['time', 'open', 'high', 'low', 'close', 'volume']);
    expect(head.length).toBe(10_000);
    expect(head.checksums).toHaveLength(6);
    const back = decodeColumnar('L', bytes);
    expect(back).toEqual(cols);
    // 80 KB zstd-coded columns come back as views of the buffer each was decompressed into (8 bytes
    // longer than the column), not as copies
    for (const f of ['time', 'open', 'high', 'low', 'close', 'volume'] as const) {
      expect(back[f].buffer.byteLength).toBe(back[f].byteLength + 8);
    }
  });

  it('columnar layout 2: refuses missing, swapped, extra, repeated and mis-sized columns with DataValidationError', () => {
    const cols = barsFor('V', 100);
    const bytes = encodeColumnar(cols, { encoding: 'plain' });
    // split into the header and the six column values
    const parts: Uint8Array[] = [];
    for (let at = 0; at < bytes.length;) {
      const n = encodedHeader(bytes.subarray(at)).byteLength;
      parts.push(bytes.subarray(at, at + n));
      at += n;
    }
    expect(parts).toHaveLength(7);
    const concat = (...ps: Uint8Array[]): Uint8Array => {
      const out = new Uint8Array(ps.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of ps) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    };
    const [head, time, open, high, low, close, volume] = parts as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    const fail = (b: Uint8Array): DataValidationError => {
      const e = thrown(() => decodeColumnar('V', b));
      expect(e).toBeInstanceOf(DataValidationError);
      return e as DataValidationError;
    };
    expect(fail(concat(head, time, open, high, low, close)).message).toMatch(/truncated/);
    expect(fail(concat(head, time, open, high, low, close)).field).toBe('volume');
    const swapped = fail(concat(head, time, close, high, low, open, volume));
    expect(swapped.message).toMatch(/does not match the header/);
    expect(swapped.field).toBe('open');
    expect(fail(concat(head, time, open, high, low, close, volume, volume)).message).toMatch(
      /unexpected bytes after the last column/,
    );
    // a header that lists a column twice, or claims another length
    const codec = createCodec({ level: 1, thresholdBytes: 1024 });
    const headValue = codec.decode(head) as Record<string, unknown>;
    const twice = codec.encode({
      ...headValue,
      columns: ['time', 'time', 'high', 'low', 'close', 'volume'],
    });
    expect(fail(concat(twice, time, open, high, low, close, volume)).message).toMatch(/repeated/);
    const longer = codec.encode({ ...headValue, length: 101 });
    expect(fail(concat(longer, time, open, high, low, close, volume)).message).toMatch(
      /length mismatch/,
    );
    const future = codec.encode({ ...headValue, version: 4 });
    expect(fail(concat(future, time, open, high, low, close, volume)).message).toMatch(
      /unsupported columnar version 4 \(this build reads 1 to 3\)/,
    );
  });

  it('still reads columnar layout 1 (one value holding every column)', () => {
    const cols = barsFor('O', 500);
    const v1 = encode({ format: 'peaktrade.ohlcv', version: 1, symbol: 'O', columns: cols });
    expect(decodeColumnar('O', v1)).toEqual(cols);
    const extra = new Uint8Array(v1.length + 3);
    extra.set(v1);
    expect(thrown(() => decodeColumnar('O', extra))).toBeInstanceOf(DataValidationError);
  });

  it('read small files in one synchronous read and large ones asynchronously, with the same result', async () => {
    // 10k bars raw are 480 KB (under the 1 MiB synchronous limit); 30k bars raw are 1.44 MB.
    for (const n of [10_000, 30_000]) {
      const cols = barsFor(`N${n}`, n);
      const path = join(dir, `N${n}.ptc`);
      await writeColumnarFile(path, cols, {
        encoding: 'plain',
        serialize: { thresholdBytes: Infinity },
      });
      expect(statSync(path).size > 1024 * 1024).toBe(n === 30_000);
      expect(await readColumnarFile(path)).toEqual(cols);
      const source = columnarFileSource({ path: (s) => join(dir, `${s}.ptc`) });
      expect(await source.load(`N${n}`, { signal: new AbortController().signal })).toEqual(cols);
    }
  });

  it('read a large uncompressed file column by column: each column a view of its own buffer, not a copy', async () => {
    const fields = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;
    // 30k bars: a 1.44 MB file (over the 1 MiB read whole), 240 KB columns
    const n = 30_000;
    const cols = barsFor(`V${n}`, n);
    const path = join(dir, `V${n}.ptc`);
    await writeColumnarFile(path, cols, {
      encoding: 'plain',
      serialize: { thresholdBytes: Infinity },
    });
    const back = await readColumnarFile(path);
    expect(back).toEqual(cols);
    const buffers = new Set(fields.map((f) => back[f].buffer));
    expect(buffers.size).toBe(6);
    for (const f of fields) {
      // the buffer holds 6 bytes of skew, the 12-byte header and the 6-byte ext 32 header
      expect(back[f].buffer.byteLength).toBe(back[f].byteLength + 24);
      expect(back[f].byteOffset).toBe(24);
    }
    // bytes in memory are the caller's: decodeColumnar copies out of them
    const bytes = readFileSync(path);
    const copied = decodeColumnar('V', bytes);
    expect(copied).toEqual(cols);
    for (const f of fields) expect(copied[f].buffer).not.toBe(bytes.buffer);
  });

  it.each([
    // 320 KB columns: a 1.92 MB file, read value by value
    ['layout 2, read value by value', 40_000, { encoding: 'plain' } as const],
    // delta columns: after its header value, the rest of the file is read in one step
    ['layout 3, the rest read in one step', 50_000, { encoding: 'auto' } as const],
  ])(
    'read a damaged file with the same errors as its bytes in memory (a corrupt length, garbage, a flipped bit, bytes after the end, cut short): %s',
    async (_, n, layout) => {
      const cols = barsFor('D', n);
      const good = encodeColumnar(cols, { ...layout, serialize: { thresholdBytes: Infinity } });
      expect(good.byteLength).toBeGreaterThan(1024 * 1024);
      const path = join(dir, 'D.ptc');
      writeFileSync(path, good);
      expect(await readColumnarFile(path, 'D')).toEqual(cols);
      const errorOf = async (bytes: Uint8Array): Promise<[unknown, unknown]> => {
        writeFileSync(path, bytes);
        const fromFile = await readColumnarFile(path, 'D').catch((e: unknown) => e);
        const fromBytes = thrown(() => decodeColumnar('D', bytes));
        return [fromFile, fromBytes];
      };
      const sameError = async (bytes: Uint8Array): Promise<Error> => {
        const [fromFile, fromBytes] = await errorOf(bytes);
        expect(fromFile).toBeInstanceOf(Error);
        expect((fromFile as Error).constructor).toBe((fromBytes as Error).constructor);
        expect((fromFile as Error).message).toBe((fromBytes as Error).message);
        return fromFile as Error;
      };
      const withTail = (tail: number[]): Uint8Array => {
        const out = new Uint8Array(good.length + tail.length);
        out.set(good);
        out.set(tail, good.length);
        return out;
      };
      // bytes after the last column, whether or not they look like a value
      expect((await sameError(withTail([1, 2, 3]))).message).toMatch(/3 unexpected bytes/);
      expect(await sameError(withTail([0x50, 0x54, 2, 0]))).toBeInstanceOf(DataValidationError);
      const twice = new Uint8Array(good.length * 2);
      twice.set(good);
      twice.set(good, good.length);
      expect(await sameError(twice)).toBeInstanceOf(DataValidationError);
      // a column's body length raised to 256 MiB (under maxBytes): truncated, not a 256 MiB buffer
      const headLength = encodedHeader(good).byteLength;
      const huge = good.slice();
      new DataView(huge.buffer).setUint32(headLength + 4, 256 * 1024 * 1024, true);
      expect(await sameError(huge)).toBeInstanceOf(SerializeError);
      // garbage where the second column should start
      const firstColumn = encodedHeader(good.subarray(headLength)).byteLength;
      const garbage = good.slice();
      garbage.set([0xde, 0xad], headLength + firstColumn);
      expect(await sameError(garbage)).toBeInstanceOf(SerializeError);
      // a flipped bit in an element
      const flipped = good.slice();
      flipped[headLength + 100]! ^= 0x04;
      expect(await sameError(flipped)).toBeInstanceOf(SerializeError);
      // cut short: in the last column, and just after the header value
      expect(await sameError(good.subarray(0, good.length - 1))).toBeInstanceOf(SerializeError);
      expect(await sameError(good.subarray(0, headLength + 3))).toBeInstanceOf(SerializeError);
    },
  );

  it('read a file of more values than a columnar file has (over 16) whole, and refuse it', async () => {
    // small files are read whole anyway: 3 × 480 KB (1.44 MB) goes value by value until the 16th
    const small = encodeColumnar(barsFor('M', 10_000), {
      encoding: 'plain',
      serialize: { thresholdBytes: Infinity },
    });
    const many = new Uint8Array(small.length * 3); // 21 values
    for (let i = 0; i < 3; i++) many.set(small, i * small.length);
    const path = join(dir, 'M.ptc');
    writeFileSync(path, many);
    const error = await readColumnarFile(path, 'M').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataValidationError);
    expect((error as Error).message).toMatch(new RegExp(`${2 * small.length} unexpected bytes`));
  });

  it('report a missing file, a truncated file and an aborted read', async () => {
    const missing = await readColumnarFile(join(dir, 'nope.ptc')).catch((e: unknown) => e);
    expect((missing as NodeJS.ErrnoException).code).toBe('ENOENT');
    const path = join(dir, 'TR.ptc');
    await writeColumnarFile(path, barsFor('TR', 1000));
    const whole = readFileSync(path);
    for (const size of [whole.length - 1, 20, 5, 0]) {
      writeFileSync(path, whole.subarray(0, size));
      await expect(readColumnarFile(path)).rejects.toBeInstanceOf(SerializeError);
    }
    const source = columnarFileSource({ path: () => path });
    const reason = new Error('stop');
    await expect(source.load('TR', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('refuse to write invalid columns', async () => {
    const bad = { ...barsFor('B', 3), close: new Float64Array(2) };
    await expect(writeColumnarFile(join(dir, 'bad.ptc'), bad)).rejects.toBeInstanceOf(
      DataValidationError,
    );
  });
});

describe('SQLite source', () => {
  const file = join(dir, 'bars.sqlite');
  const db = new Database(file);
  db.exec(
    'CREATE TABLE bars (symbol TEXT, time REAL, open REAL, high REAL, low REAL, close REAL, volume REAL)',
  );
  const insert = db.prepare('INSERT INTO bars VALUES (?, ?, ?, ?, ?, ?, ?)');
  const cols = barsFor('SQL', 2000);
  db.transaction(() => {
    // Inserted in reverse: the source must order by time.
    for (let i = cols.time.length - 1; i >= 0; i--)
      insert.run(
        'SQL',
        cols.time[i],
        cols.open[i],
        cols.high[i],
        cols.low[i],
        cols.close[i],
        cols.volume[i],
      );
    insert.run('TEXT', 1, 1, 1, 1, 'n/a', 1);
  })();
  afterAll(() => db.close());

  it('reads one symbol straight into columns, ordered by time', async () => {
    const source = sqliteSource({ database: file, table: 'bars' });
    const loader = new DataLoader();
    expect(await loader.load('SQL', source)).toEqual(cols);
    expect((await loader.load('NONE', source)).time.length).toBe(0);
    source.close();
  });

  it('names the row and field of a non-numeric value', async () => {
    const source = sqliteSource({ database: db, table: 'bars' });
    const error = await source
      .load('TEXT', { signal: new AbortController().signal })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ symbol: 'TEXT', row: 0, field: 'close' });
  });

  it('refuses unsafe identifiers and unknown tables by option name', () => {
    expect(
      thrown(() => sqliteSource({ database: db, table: 'bars; DROP TABLE bars' })),
    ).toMatchObject({ option: 'table' });
    expect(thrown(() => sqliteSource({ database: db, table: 'nope' }))).toMatchObject({
      option: 'table',
    });
    expect(
      thrown(() => sqliteSource({ database: db, table: 'bars', columns: { close: 'px' } })),
    ).toMatchObject({ option: 'table' });
  });
});

describe('JSON shapes and validation', () => {
  it('accepts columns, rows and tuples with the same result', () => {
    const cols = {
      time: [1, 2],
      open: [1, 2],
      high: [2, 3],
      low: [0.5, 1],
      close: [1.5, 2.5],
      volume: [10, 20],
    };
    const rows = [0, 1].map((i) => ({
      time: cols.time[i],
      open: cols.open[i],
      high: cols.high[i],
      low: cols.low[i],
      close: cols.close[i],
      volume: cols.volume[i],
    }));
    const tuples = rows.map((r) => [r.time, r.open, r.high, r.low, r.close, r.volume]);
    const a = jsonToColumns('X', cols);
    expect(jsonToColumns('X', rows)).toEqual(a);
    expect(jsonToColumns('X', tuples)).toEqual(a);
  });

  it('names the problem: missing column, length mismatch, non-numeric, wrong type', () => {
    expect(
      thrown(() => jsonToColumns('X', { time: [1], open: [1], high: [1], low: [1], close: [1] })),
    ).toMatchObject({ field: 'volume', reason: 'missing column' });
    expect(
      thrown(() =>
        jsonToColumns('X', {
          time: [1, 2],
          open: [1],
          high: [1, 1],
          low: [1, 1],
          close: [1, 1],
          volume: [1, 1],
        }),
      ),
    ).toMatchObject({
      field: 'open',
      reason: expect.stringContaining('length mismatch') as string,
    });
    expect(
      thrown(() =>
        jsonToColumns('X', [{ time: 1, open: 1, high: null, low: 1, close: 1, volume: 1 }]),
      ),
    ).toMatchObject({ row: 0, field: 'high' });
    expect(thrown(() => jsonToColumns('X', 'bars'))).toBeInstanceOf(DataValidationError);
    expect(thrown(() => validateColumns('X', { ...barsFor('X', 2), close: [1, 2] }))).toMatchObject(
      { field: 'close' },
    );
  });
});

describe('prices and volumes (CSV and JSON number fields)', () => {
  const fields = ['open', 'high', 'low', 'close', 'volume'] as const;
  /** A two-bar input where `field` of the second bar holds `v`, in every form the text fits. */
  function inputs(field: (typeof fields)[number], v: string): [string, () => unknown][] {
    const at = fields.indexOf(field) + 1;
    const row = (cell: string) =>
      ['2', '1', '1', '1', '1', '1'].map((x, i) => (i === at ? cell : x)).join(',');
    const bar = { time: 2, open: 1, high: 1, low: 1, close: 1, volume: 1, [field]: v };
    const first = { time: 1, open: 1, high: 1, low: 1, close: 1, volume: 1 };
    const out: [string, () => unknown][] = [
      ['CSV quoted', () => parseCsv('AAPL', `${header}\n1,1,1,1,1,1\n${row(`"${v}"`)}\n`)],
      ['JSON rows', () => jsonToColumns('AAPL', [first, bar])],
      [
        'JSON tuples',
        () =>
          jsonToColumns('AAPL', [
            [1, 1, 1, 1, 1, 1],
            [2, bar.open, bar.high, bar.low, bar.close, bar.volume],
          ]),
      ],
      [
        'JSON columns',
        () =>
          jsonToColumns(
            'AAPL',
            Object.fromEntries(
              Object.entries(bar).map(([k, x]) => [k, [first[k as keyof typeof first], x]]),
            ),
          ),
      ],
    ];
    // Unquoted, a delimiter, a quote or a line end would change the record.
    if (!/[,"\r\n]/.test(v))
      out.push(['CSV', () => parseCsv('AAPL', `${header}\n1,1,1,1,1,1\n${row(v)}\n`)]);
    return out;
  }

  it('refuses hex, binary, octal, Infinity, NaN, separators, overflow, blanks other than spaces and tabs, and empty values, naming the symbol, the row and the field', () => {
    const bad = [
      '0x10',
      '0X1a',
      '0b1',
      '0o7',
      '1_000',
      '1,000',
      'Infinity',
      '-Infinity',
      '+Infinity',
      'NaN',
      '1e400',
      '-1e400',
      '',
      '   ',
      '12abc',
      '1e',
      'e5',
      '.',
      '-',
      '+-1',
      '1.2.3',
      '12 34',
      '\u00a012',
      '12\u00a0',
      '\v12',
      '\n12',
      '\ufeff12',
      '\u0661\u0662',
    ];
    for (const v of bad) {
      for (const field of fields) {
        for (const [form, attempt] of inputs(field, v)) {
          const what = `${form} ${field} ${JSON.stringify(v)}`;
          const error = thrown(attempt) as DataValidationError;
          expect(error, what).toBeInstanceOf(DataValidationError);
          expect(error, what).toMatchObject({ symbol: 'AAPL', row: 1, field });
          expect(error.message, what).toContain(JSON.stringify(v));
          expect(error.reason, what).toMatch(/^(non-numeric value|number out of range) /);
        }
      }
    }
    // A JSON number too large for a double arrives as Infinity.
    expect(
      thrown(() =>
        jsonToColumns('AAPL', [{ time: 1, open: Infinity, high: 1, low: 1, close: 1, volume: 1 }]),
      ),
    ).toMatchObject({
      symbol: 'AAPL',
      row: 0,
      field: 'open',
      reason: 'number out of range (Infinity)',
    });
    // The first line of a headerless file is data, and its bad number is reported as one.
    expect(thrown(() => parseCsv('AAPL', '1,0x10,1,1,1,1\n'))).toMatchObject({
      symbol: 'AAPL',
      row: 0,
      field: 'open',
      reason: expect.stringContaining('non-numeric value "0x10"') as string,
    });
    // So is an empty one (an empty field decides nothing in header detection).
    for (const options of [{}, { header: false }])
      expect(thrown(() => parseCsv('AAPL', '1,,1,1,1,1\n', options))).toMatchObject({
        row: 0,
        field: 'open',
        reason: expect.stringContaining('non-numeric value ""') as string,
      });
  });

  it('accepts plain decimal numbers with spaces or tabs around them, in CSV and as JSON numbers or strings, with the value Number() gives', () => {
    const good = [
      '12',
      '-0.5',
      '+7',
      '.5',
      '5.',
      '-0',
      '1.5e3',
      '1E-3',
      '2.5e+2',
      '007',
      '123456789012345678',
      '1e300',
      '  12.5  ',
      '\t12.5\t',
    ];
    for (const v of good) {
      const want = Number(v);
      for (const field of fields) {
        for (const [form, attempt] of inputs(field, v)) {
          const cols = attempt() as Record<string, Float64Array>;
          expect(cols[field]![1], `${form} ${field} ${JSON.stringify(v)}`).toBe(want);
        }
      }
    }
    // JSON numbers are taken as they are.
    expect(
      jsonToColumns('X', [{ time: 1, open: 12.5, high: -3, low: 1e-7, close: 0, volume: 1e21 }])
        .volume[0],
    ).toBe(1e21);
  });
});

describe('timestamps (CSV and JSON time fields)', () => {
  /** One bar at time `t` as CSV (with a header) and as JSON rows and columns; every result's time. */
  function timesOf(t: string): number[] {
    const bar = { open: 1, high: 1, low: 1, close: 1, volume: 1 };
    return [
      parseCsv('T', `${header}\n${t},1,1,1,1,1\n`).time[0]!,
      parseCsv('T', `${header}\n"${t}",1,1,1,1,1\n`).time[0]!,
      jsonToColumns('T', [{ time: t, ...bar }]).time[0]!,
      jsonToColumns('T', { time: [t], open: [1], high: [1], low: [1], close: [1], volume: [1] })
        .time[0]!,
    ];
  }

  it('reads epoch milliseconds and ISO-8601 dates and date-times: T or space, fractions, Z or offset, no offset as UTC', () => {
    const cases: [string, number][] = [
      ['1700000000000', 1_700_000_000_000],
      ['1700000000000.5', 1_700_000_000_000.5],
      ['1.7e12', 1.7e12],
      ['-5', -5],
      ['2024-01-02', Date.UTC(2024, 0, 2)],
      ['2024-02-29', Date.UTC(2024, 1, 29)],
      ['2024-01-02T03:04', Date.UTC(2024, 0, 2, 3, 4)],
      ['2024-01-02T03:04:05', Date.UTC(2024, 0, 2, 3, 4, 5)],
      ['2024-01-02 03:04:05', Date.UTC(2024, 0, 2, 3, 4, 5)],
      ['2024-01-02T03:04:05Z', Date.UTC(2024, 0, 2, 3, 4, 5)],
      ['2024-01-02t03:04:05z', Date.UTC(2024, 0, 2, 3, 4, 5)],
      ['2024-01-02T03:04:05.6Z', Date.UTC(2024, 0, 2, 3, 4, 5, 600)],
      ['2024-01-02T03:04:05.678Z', Date.UTC(2024, 0, 2, 3, 4, 5, 678)],
      ['2024-01-02T03:04:05.678901Z', Date.UTC(2024, 0, 2, 3, 4, 5, 678) + 0.901],
      ['2024-01-02T03:04:05+02:00', Date.UTC(2024, 0, 2, 1, 4, 5)],
      ['2024-01-02 03:04:05.5-05:30', Date.UTC(2024, 0, 2, 8, 34, 5, 500)],
      // Years 0–99 are years 0–99 (Date.UTC would read 50 as 1950).
      ['0050-06-01', new Date(Date.UTC(2000, 5, 1)).setUTCFullYear(50)],
    ];
    for (const [text, want] of cases) {
      for (const got of timesOf(text)) expect(got, text).toBeCloseTo(want, 3);
    }
    // No offset means UTC whatever the machine's time zone (Date.parse reads it as local time).
    const zone = process.env.TZ;
    const offsetBefore = new Date(2024, 0, 2).getTimezoneOffset();
    process.env.TZ = 'Asia/Kolkata';
    try {
      expect(new Date(2024, 0, 2).getTimezoneOffset()).toBe(-330);
      expect(timesOf('2024-01-02T03:04:05')).toEqual(Array(4).fill(Date.UTC(2024, 0, 2, 3, 4, 5)));
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
    expect(new Date(2024, 0, 2).getTimezoneOffset()).toBe(offsetBefore);
    // A headerless file may start with a date.
    expect(parseCsv('T', '2024-01-02,1,1,1,1,1\n2024-01-03,1,1,1,1,1\n').time).toEqual(
      Float64Array.of(Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3)),
    );
  });

  it('refuses any other time, naming the symbol, the row and the field', () => {
    const bad = [
      'foo 12',
      '1/2/2024',
      'Jan 2 2024',
      'Tue, 02 Jan 2024 03:04:05 GMT',
      '2024-13-01',
      '2023-02-29',
      '2024-04-31',
      '2024-01-02T24:00',
      '2024-01-02T03:60',
      '2024-01-02T03:04:60',
      '2024-01-02T03',
      '2024-01-02Z',
      '2024-01-02T03:04:05.Z',
      '2024-01-02T03:04:05+5',
      '2024-01-02T03:04:05+0200',
      '2024-01-02T03:04:05 +02:00',
      '2024-1-2',
      '24-01-02',
      '0x10',
      'Infinity',
      '1e400',
      '12abc',
      // Spaces and tabs around a time are skipped; other blanks are not (as for prices).
      '\u00a02024-01-02',
      '2024-01-02\u00a0',
      '\v1700000000000',
    ];
    const bar = { open: 1, high: 1, low: 1, close: 1, volume: 1 };
    for (const t of bad) {
      const attempts = [
        () => parseCsv('AAPL', `${header}\n1,1,1,1,1,1\n"${t}",1,1,1,1,1\n`),
        () =>
          jsonToColumns('AAPL', [
            { time: 1, ...bar },
            { time: t, ...bar },
          ]),
        () =>
          jsonToColumns('AAPL', [
            [1, 1, 1, 1, 1, 1],
            [t, 1, 1, 1, 1, 1],
          ]),
      ];
      // Unquoted, a comma would split the field, and 1e400 is a plain number (Infinity), which
      // validation refuses (asserted below).
      if (!t.includes(',') && t !== '1e400')
        attempts.push(() => parseCsv('AAPL', `${header}\n1,1,1,1,1,1\n${t},1,1,1,1,1\n`));
      for (const attempt of attempts) {
        const error = thrown(attempt) as DataValidationError;
        expect(error, t).toBeInstanceOf(DataValidationError);
        expect(error, t).toMatchObject({ symbol: 'AAPL', row: 1, field: 'time' });
        expect(error.reason, t).toContain('invalid time');
        expect(error.message, t).toContain(JSON.stringify(t));
      }
    }
    expect(
      thrown(() => parseCsv('AAPL', `${header}\n1,1,1,1,1,1\n1e400,1,1,1,1,1\n`)),
    ).toMatchObject({ symbol: 'AAPL', row: 1, field: 'time' });
    // The first line of a headerless file: a time in an unsupported form is reported as such,
    // not taken for a header.
    for (const t of ['foo 12', '2024/01/02', '02.01.2024 10:00'])
      expect(
        thrown(() => parseCsv('AAPL', `${t},1,1,1,1,1\n`)),
        t,
      ).toMatchObject({
        symbol: 'AAPL',
        row: 0,
        field: 'time',
        reason: expect.stringContaining('invalid time') as string,
      });
    // A real header is still one.
    expect(parseCsv('X', `Date,Open,High,Low,Close,Volume\n1,1,1,1,1,1\n`).time).toEqual(
      Float64Array.of(1),
    );
  });
});
