#!/usr/bin/env bash
# Builds the served tracker from its readable source with the terser pinned in package.json/package-lock.json.
# Installs node_modules with `npm ci` when it is missing or holds another terser version.
#   scripts/build_tracker.sh            write tracking/tracker/dist/script.js
#   scripts/build_tracker.sh --check    exit 1 when the committed build is stale
#   scripts/build_tracker.sh --stdout   print a fresh build
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(node -p "require('./package.json').devDependencies.terser")
have=$(node -p "require('./node_modules/terser/package.json').version" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
exec node tracking/tracker/build.mjs "$@"
