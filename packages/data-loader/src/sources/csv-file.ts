import { createReadStream } from 'node:fs';
import type { OhlcvColumns } from '../columns.js';
import { CsvParser, type CsvOptions } from '../csv.js';
import type { Source } from './types.js';

/** Options of {@link csvFileSource}. */
export interface CsvFileSourceOptions extends CsvOptions {
  /** File of a symbol, e.g. `(s) => \`data/${s}.csv\``. */
  readonly path: (symbol: string) => string;
  /** Read buffer size in bytes (default 1 MiB). */
  readonly chunkBytes?: number;
}

/** Stream a CSV file through {@link CsvParser} into columns. */
export async function readCsvFile(
  path: string,
  symbol = path,
  options: CsvOptions & { chunkBytes?: number; signal?: AbortSignal } = {},
): Promise<OhlcvColumns> {
  const parser = new CsvParser(symbol, options);
  const stream = createReadStream(path, {
    highWaterMark: options.chunkBytes ?? 1 << 20,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  for await (const chunk of stream) parser.push(chunk as Buffer);
  return parser.finish();
}

/** A source that streams one CSV file per symbol. */
export function csvFileSource(options: CsvFileSourceOptions): Source {
  return {
    name: 'csv-file',
    load: (symbol, { signal }) => readCsvFile(options.path(symbol), symbol, { ...options, signal }),
  };
}
