import { createReadStream } from 'node:fs';
import type { OhlcvColumns } from '../columns.js';
import { CsvParser, type CsvOptions } from '../csv.js';
import { digest, nameOption, pathOption } from './naming.js';
import type { Source } from './types.js';

/** Options of {@link csvFileSource}. */
export interface CsvFileSourceOptions extends CsvOptions {
  /**
   * File of a symbol: a template such as `'data/{symbol}.csv'` (made absolute against the current
   * directory when the source is made; every `{symbol}` is replaced by the symbol, which may then
   * not hold `/`, `\` or NUL, nor be `.` or `..`), or a function such as `(s) => \`data/${s}.csv\``.
   */
  readonly path: string | ((symbol: string) => string);
  /** Read buffer size in bytes (default 1 MiB). */
  readonly chunkBytes?: number;
  /**
   * Name of this source in cache keys and reports. Default with a template `path`:
   * `csv-file:<absolute template>`, followed by `#<digest>` of the CSV options (`header`,
   * `delimiter`, `columns`) when any is given. With a function `path` no name can be derived: a
   * `DataLoader` with a `cache` then refuses the source until it has one.
   */
  readonly name?: string;
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
  const explicitName = nameOption(options.name);
  const { absolute, pathOf } = pathOption('path', options.path);
  let derivedName: string | undefined;
  if (absolute !== undefined) {
    // The parsing options change what a file reads as; the read buffer size does not.
    const parsing = {
      header: options.header,
      delimiter: options.delimiter,
      columns: options.columns,
    };
    const plain = Object.values(parsing).every((v) => v === undefined);
    derivedName = `csv-file:${absolute}${plain ? '' : `#${digest(parsing)}`}`;
  }
  return {
    name: explicitName ?? derivedName ?? 'csv-file',
    ...((explicitName ?? derivedName) ? {} : { anonymous: true }),
    load: (symbol, { signal }) =>
      // Through a promise, so a symbol refused by the path template is a rejection, not a throw.
      new Promise<string>((resolve) => resolve(pathOf(symbol))).then((path) =>
        readCsvFile(path, symbol, { ...options, signal }),
      ),
  };
}
