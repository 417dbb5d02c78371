// Child process of source-identity.test.ts: prints, as JSON, the names that the built-in sources
// derive from the configurations in argv[2] (JSON), so the test can compare them with its own.
import { sourcesFor, type NameConfigs } from './name-configs.js';

const configs = JSON.parse(process.argv[2]!) as NameConfigs;
console.log(JSON.stringify(sourcesFor(configs).map((source) => source.name)));
