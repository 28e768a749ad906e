// Minifies splittests/tracker/runtime.js into splittests/tracker/dist/runtime.js with the terser pinned in
// package.json, as tracking/tracker/build.mjs does for the core tracker.
//   node splittests/tracker/build.mjs            write the build
//   node splittests/tracker/build.mjs --check    exit 1 when the committed build differs from a fresh one
//   node splittests/tracker/build.mjs --stdout   print the fresh build
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { minify } from 'terser';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'runtime.js');
const output = join(here, 'dist', 'runtime.js');

const result = await minify(readFileSync(source, 'utf8'), {
  ecma: 2017,
  compress: { passes: 3 },
  mangle: true,
  toplevel: false, // keeps the one name the server calls: humblyticsSplit
  format: { comments: false, ascii_only: true },
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
    console.error('splittests/tracker/dist/runtime.js is stale: run `make build-tracker` and commit it.');
    process.exit(1);
  }
} else if (mode === undefined) {
  writeFileSync(output, built);
  console.log(`wrote ${output} (${Buffer.byteLength(built)} bytes)`);
} else {
  console.error(`unknown option ${mode}; use --check or --stdout`);
  process.exit(2);
}
