// Minifies tracking/tracker/script.js into tracking/tracker/dist/script.js with the terser pinned in package.json.
//   node tracking/tracker/build.mjs            write the build
//   node tracking/tracker/build.mjs --check    exit 1 when the committed build differs from a fresh one
//   node tracking/tracker/build.mjs --stdout   print the fresh build (what the pytest test compares)
// The output depends only on the source, the terser version and the options below: no dates, no paths.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { minify } from 'terser';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'script.js');
const output = join(here, 'dist', 'script.js');

const BANNER = '/*! Humblytics tracker: cookie-free analytics. Source: tracking/tracker/script.js */';

const result = await minify(readFileSync(source, 'utf8'), {
  ecma: 2017,
  compress: { passes: 3 },
  mangle: true,
  format: { preamble: BANNER, comments: false, ascii_only: true },
});
const built = result.code + '\n';

const mode = process.argv[2];
if (mode === '--stdout') {
  process.stdout.write(built);
} else if (mode === '--check') {
  let committed = '';
  try {
    committed = readFileSync(output, 'utf8');
  } catch {}
  if (committed !== built) {
    console.error('tracking/tracker/dist/script.js is stale: run `make build-tracker` and commit it.');
    process.exit(1);
  }
} else if (mode === undefined) {
  writeFileSync(output, built);
  console.log(`wrote ${output} (${Buffer.byteLength(built)} bytes)`);
} else {
  console.error(`unknown option ${mode}; use --check or --stdout`);
  process.exit(2);
}
