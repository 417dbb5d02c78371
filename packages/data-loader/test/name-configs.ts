// Plain-data source configurations whose derived names must be equal in every process.
import {
  columnarFileSource,
  csvFileSource,
  httpSource,
  sqliteSource,
  type Source,
} from '../src/index.js';

export interface NameConfigs {
  readonly base: string;
  readonly dir: string;
  readonly db: string;
}

/** One source per configuration kind, in a fixed order. */
export function sourcesFor({ base, dir, db }: NameConfigs): Source[] {
  const sqlite = sqliteSource({ database: db, table: 'bars' });
  sqlite.close();
  return [
    httpSource({ url: `${base}/a/{symbol}` }),
    httpSource({ url: `${base}/a/{symbol}`, format: 'csv', headers: { 'X-Key': 'k' } }),
    csvFileSource({ path: `${dir}/{symbol}.csv`, delimiter: ';' }),
    columnarFileSource({ path: `${dir}/{symbol}.ptc` }),
    sqlite,
  ];
}
