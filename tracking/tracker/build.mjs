// Minifies tracking/tracker/script.js into tracking/tracker/dist/script.js (scripts/minify.mjs: --check, --stdout).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../scripts/minify.mjs';

const here = dirname(fileURLToPath(import.meta.url));
await run({
  source: join(here, 'script.js'),
  output: join(here, 'dist', 'script.js'),
  name: 'tracking/tracker/dist/script.js',
  banner: '/*! Humblytics tracker: cookie-free analytics. Source: tracking/tracker/script.js */',
});
