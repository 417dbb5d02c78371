/**
 * Regenerates test/fixtures/*.bin from test/fixtures-values.ts. Run only when the format version changes:
 *   pnpm exec tsx test/make-fixtures.ts        (from packages/serialize)
 * and bump FORMAT_VERSION: the committed bytes are what src/golden.test.ts holds the encoder to.
 */
import { writeFileSync } from 'node:fs';
import { encode } from '../src/index.js';
import { fixtureValues } from './fixtures-values.js';

for (const [name, { value, options }] of Object.entries(fixtureValues())) {
  const bytes = encode(value, options);
  writeFileSync(new URL(`./fixtures/${name}.bin`, import.meta.url), bytes);
  console.log(name, bytes.byteLength);
}
