/** Values whose encoded bytes are committed under test/fixtures (see make-fixtures.ts). */
export function fixtureValues(): Record<
  string,
  { value: unknown; options?: { thresholdBytes?: number } }
> {
  const prices = new Float64Array(256);
  for (let i = 0; i < prices.length; i++) prices[i] = 100 + Math.sin(i / 10) * 5 + i / 100;
  return {
    'small-object': {
      value: { symbol: 'BTCUSD', price: 42_000.5, qty: 3, side: 'buy', ok: true, none: null },
    },
    'special-numbers': { value: [NaN, -0, Infinity, -Infinity, 0, 1.5, -7, 2 ** 53] },
    types: {
      value: {
        date: new Date(Date.UTC(2026, 10, 26, 12, 0, 0, 123)),
        big: 2n ** 64n + 5n,
        small: -42n,
        map: new Map<unknown, unknown>([
          ['a', 1],
          [2, 'b'],
        ]),
        set: new Set(['x', 'y']),
        undef: undefined,
        f32: new Float32Array([1.5, -2.25]),
        i32: new Int32Array([1, -1, 2 ** 31 - 1]),
        u8: new Uint8Array([0, 255]),
      },
    },
    'compressed-columns': { value: { close: prices, n: prices.length } },
    // 16 rows with the same keys and number values: the Table extension (0x05), including -0 and NaN.
    table: {
      value: Array.from({ length: 16 }, (_, i) => ({
        t: 1_700_000_000_000 + i * 60_000,
        px: i === 3 ? -0 : i === 5 ? NaN : 100 + i / 4,
        qty: i,
      })),
    },
  };
}
