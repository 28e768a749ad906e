// Minifies splittests/tracker/runtime.js into splittests/tracker/dist/runtime.js (scripts/minify.mjs: --check,
// --stdout), as tracking/tracker/build.mjs does for the core tracker.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../scripts/minify.mjs';

const here = dirname(fileURLToPath(import.meta.url));
await run({
  source: join(here, 'runtime.js'),
  output: join(here, 'dist', 'runtime.js'),
  name: 'splittests/tracker/dist/runtime.js',
  toplevel: false, // keeps the one name the server calls: humblyticsSplit
});
