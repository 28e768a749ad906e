// The one minifier of the served scripts, with the terser pinned in package.json. Each script's build.mjs
// names its source, output and options and calls run(); its command line takes:
//   (nothing)   write the build
//   --check     exit 1 when the committed build differs from a fresh one
//   --stdout    print the fresh build (what the pytest tests compare)
// The output depends only on the source, the terser version and the options: no dates, no paths.
import { readFileSync, writeFileSync } from 'node:fs';
import { minify } from 'terser';

export async function run({ source, output, name, banner, toplevel }) {
  const format = { comments: false, ascii_only: true };
  if (banner) format.preamble = banner;
  const options = { ecma: 2017, compress: { passes: 3 }, mangle: true, format };
  if (toplevel !== undefined) options.toplevel = toplevel;
  const result = await minify(readFileSync(source, 'utf8'), options);
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
      console.error(`${name} is stale: run \`make build-tracker\` and commit it.`);
      process.exit(1);
    }
  } else if (mode === undefined) {
    writeFileSync(output, built);
    console.log(`wrote ${output} (${Buffer.byteLength(built)} bytes)`);
  } else {
    console.error(`unknown option ${mode}; use --check or --stdout`);
    process.exit(2);
  }
}
