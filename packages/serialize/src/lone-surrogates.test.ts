/**
 * Strings that are not well-formed UTF-16 (a lone surrogate: a code unit D800-DFFF that is not half of a
 * high-low pair). MessagePack's str type is UTF-8, which cannot carry them, so every encoder must refuse
 * them with E_SERIALIZE_UNSUPPORTED_TYPE rather than write U+FFFD (or invalid UTF-8) and decode a
 * different string; every well-formed string must come back unchanged, with unchanged bytes.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  createCodec,
  decode,
  decodeStream,
  encode,
  encodeAsync,
  encodeStream,
  UnsupportedTypeError,
} from './index.js';
import { TABLE_MIN_ROWS } from './table.js';

const raw = createCodec({ thresholdBytes: Infinity });
const zstd = createCodec({ thresholdBytes: 0 });

/** True when `v` holds a string (value, object key, Map key, Set member) that is not well-formed. */
function hasLoneSurrogate(v: unknown): boolean {
  if (typeof v === 'string') return !v.isWellFormed();
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || v instanceof Date)
    return false;
  if (Array.isArray(v)) return v.some(hasLoneSurrogate);
  if (v instanceof Map) return [...v].some(([k, x]) => hasLoneSurrogate(k) || hasLoneSurrogate(x));
  if (v instanceof Set) return [...v].some(hasLoneSurrogate);
  return Object.entries(v).some(([k, x]) => !k.isWellFormed() || hasLoneSurrogate(x));
}

/** Asserts that `run` throws the documented error: UnsupportedTypeError, naming UTF-16. */
async function expectRefused(run: () => unknown): Promise<UnsupportedTypeError> {
  let caught: unknown;
  try {
    await run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UnsupportedTypeError);
  const err = caught as UnsupportedTypeError;
  expect(err.code).toBe('E_SERIALIZE_UNSUPPORTED_TYPE');
  expect(err.message).toMatch(/not well-formed UTF-16/);
  // The message itself must be well-formed (the offending string is shown escaped).
  expect(err.message.isWellFormed()).toBe(true);
  return err;
}

async function streamBytes(value: unknown): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of encodeStream(value)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every encoder and its decoder: each either gives back exactly `value` or throws the documented error. */
async function checkEveryPath(value: unknown): Promise<void> {
  const bad = hasLoneSurrogate(value);
  const paths: [string, () => Promise<unknown>][] = [
    ['sync raw', () => Promise.resolve(raw.decode(raw.encode(value)))],
    ['sync zstd', () => Promise.resolve(zstd.decode(zstd.encode(value)))],
    ['sync default', () => Promise.resolve(decode(encode(value)))],
    ['async raw', async () => raw.decodeAsync(await raw.encodeAsync(value))],
    ['async zstd', async () => zstd.decodeAsync(await zstd.encodeAsync(value))],
    ['stream', async () => decodeStream([await streamBytes(value)])],
  ];
  for (const [name, run] of paths) {
    if (bad) await expectRefused(run);
    else expect(await run(), name).toStrictEqual(value);
  }
}

/** Code units: ASCII, Latin-1, BMP, astral pairs, and lone high/low surrogates. */
const unitArb = fc.oneof(
  fc.constantFrom('a', 'Z', '0', ' ', 'é', '€', '\ufffd', '한', '😀', '\ud83d\ude00'),
  fc.integer({ min: 0xd800, max: 0xdbff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0xdc00, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
);
/** Short strings, and long ones (past msgpackr's 64-unit switch to native UTF-8 writing). */
const strArb = fc.oneof(
  fc.string({ unit: unitArb, maxLength: 8 }),
  fc.string({ unit: unitArb, maxLength: 80 }),
  fc
    .tuple(
      fc.string({ unit: unitArb, maxLength: 4 }),
      fc.constantFrom('x', 'é', '€'),
      fc.integer({ min: 60, max: 3000 }),
      fc.string({ unit: unitArb, maxLength: 4 }),
    )
    .map(([a, fill, n, b]) => a + fill.repeat(n) + b),
);
const keyArb = strArb.filter((k) => k !== '__proto__');

const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    strArb,
    fc.double(),
    fc.constant(null),
    tie('array'),
    tie('object'),
    tie('map'),
    tie('set'),
    tie('table'),
  ),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(keyArb, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((e) => new Map(e)),
  set: fc.array(tie('value'), { maxLength: 3 }).map((m) => new Set(m)),
  // Same-shaped number rows: the Table fast path, whose key list is written separately.
  table: fc
    .uniqueArray(keyArb, { minLength: 1, maxLength: 3 })
    .map((keys) =>
      Array.from({ length: TABLE_MIN_ROWS }, (_, i) =>
        Object.fromEntries(keys.map((k, j) => [k, i * 10 + j])),
      ),
    ),
}));

describe('strings that are not well-formed UTF-16 (lone surrogates)', () => {
  it('property: every encoder either round-trips exactly or throws E_SERIALIZE_UNSUPPORTED_TYPE, and throws exactly when a string has a lone surrogate', async () => {
    await fc.assert(fc.asyncProperty(valueArb, checkEveryPath), { numRuns: 300 });
  });

  it('refuses a lone surrogate as a value, key, Map key, Set member or Table key, short or long, on every path', async () => {
    const long = 'é'.repeat(5000);
    const cases: unknown[] = [
      '\ud800',
      'a\udc00b',
      '\udc00\ud800', // a low then a high: two lone surrogates, not a pair
      `${long}\ud800`,
      `\udfff${'x'.repeat(100_000)}`,
      { '\ud800': 1 },
      { ok: { [`k${long}\udbff`]: 'v' } },
      ['fine', ['nested', 'a\udc00b']],
      new Map([['\ud800', 1]]),
      new Map([[1, { deep: '\udc00' }]]),
      new Set(['ok', '\ud800']),
      Array.from({ length: TABLE_MIN_ROWS }, (_, i) => ({ t: i, 'p\ud800x': i })),
      // large enough for the sliced encoder to split it into pieces (and to pack the table in steps)
      Array.from({ length: 5000 }, (_, i) => ({ t: i, 'p\ud800x': i })),
      Array.from({ length: 5000 }, (_, i) => ({ t: i, s: i === 4321 ? 'b\udfff' : 'fine' })),
      { big: new Float64Array(200_000), tail: `${long}\udc00` },
    ];
    for (const value of cases) {
      expect(hasLoneSurrogate(value)).toBe(true);
      await checkEveryPath(value);
    }
  });

  it('names where the string is: its key path and which lone surrogate', async () => {
    let err = await expectRefused(() => encode({ rows: [{ ok: 1 }, { 'a\udc00b': 2 }] }));
    expect(err.message).toContain('$.rows[1]');
    expect(err.message).toContain('U+DC00 at index 1');
    expect(err.message).toContain('object key "a\\udc00b"');

    err = await expectRefused(() => encode({ quotes: { AAPL: { note: 'x\ud800' } } }));
    expect(err.message).toContain('$.quotes.AAPL.note');

    err = await expectRefused(() =>
      encode({
        m: new Map([
          ['k', 1],
          ['\ud800', 2],
        ]),
      }),
    );
    expect(err.message).toMatch(/Map key/);
    expect(err.message).toContain('$.m');

    // the async encoder reports the path from the top, not from the piece it was packing
    const rows = Array.from({ length: 5000 }, (_, i) => ({ i, s: i === 4321 ? 'b\udfff' : 'ok' }));
    err = await expectRefused(() => encodeAsync({ rows }));
    expect(err.message).toContain('$.rows[4321].s');
    err = await expectRefused(() => streamBytes({ rows }));
    expect(err.message).toContain('$.rows[4321].s');
  });

  it('round-trips well-formed strings unchanged: astral characters, emoji, real U+FFFD, at every length', async () => {
    const samples = [
      '',
      '😀',
      '\ud83d\ude00\ud83d\ude00',
      'a😀b',
      '\ufffd',
      '한국어 텍스트',
      `${'x'.repeat(63)}😀`,
      `😀${'é'.repeat(5000)}😀`,
      `${'€'.repeat(70_000)}\ufffd`,
    ];
    for (const s of samples) {
      await checkEveryPath(s);
      await checkEveryPath({ [s]: s, list: [s, s], m: new Map([[s, s]]), set: new Set([s]) });
    }
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary', maxLength: 200 })),
        async (s) => {
          await checkEveryPath([s, { [s === '__proto__' ? 'proto' : s]: [s] }]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('leaves the MessagePack of well-formed strings as msgpackr writes it (the format does not change)', () => {
    const plain = new Packr({ useRecords: false });
    for (const n of [0, 1, 31, 32, 63, 64, 65, 255, 256, 1023, 1024, 65535, 65536, 70_000]) {
      for (const fill of ['x', 'é', '€', '😀']) {
        const s = fill.repeat(Math.floor(n / fill.length)) + (n > 0 ? '\ufffd' : '');
        expect(Buffer.from(raw.encode(s).subarray(12)).equals(plain.pack(s))).toBe(true);
        const obj = { [s.slice(0, 40)]: s };
        expect(Buffer.from(raw.encode(obj).subarray(12)).equals(plain.pack(obj))).toBe(true);
      }
    }
  });

  it('still refuses a long lone-surrogate string when other bytes of the payload look like U+FFFD', async () => {
    // Long strings are checked through their packed bytes when they make up most of the payload: these
    // cases put the bytes of U+FFFD (EF BF BD), or many 0xEF bytes, before the text.
    const text = '€'.repeat(2000);
    const fffd = Uint8Array.from({ length: 1500 }, (_, i) => [0xef, 0xbf, 0xbd][i % 3]!);
    const efs = new Uint8Array(1500).fill(0xef);
    for (const blob of [fffd, efs]) {
      await checkEveryPath({ blob, text: `${text}\ud800` });
      await checkEveryPath({ blob, text: `\udc00${text}` });
      await checkEveryPath({ blob, text });
      await checkEveryPath({ blob, text: `${text}\ufffd` });
    }
  });
});
