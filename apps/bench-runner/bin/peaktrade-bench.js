#!/usr/bin/env node
// Thin launcher: the logic lives in src/ (compiled to dist/). tsx is registered so the
// packages' bench/*.bench.ts files can be imported as they are.
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
