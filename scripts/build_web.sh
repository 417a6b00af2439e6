#!/usr/bin/env bash
# Build the browser SDK (services/gateway/sdk -> services/gateway/static/sdk/tme.js) and the web
# dashboard (services/gateway/dashboard -> services/gateway/static/dashboard/), which the gateway
# serves at /sdk/tme.js and /. Each part runs `npm ci` when its node_modules is missing or older
# than its package-lock.json, and builds only when an output is missing or older than a source.
#   scripts/build_web.sh           build what is out of date
#   scripts/build_web.sh --force   rebuild everything
# Needs Node.js >= 20.19 and npm (Debian: apt-get install nodejs npm).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GATEWAY="$ROOT/services/gateway"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

# what is missing, said once and plainly: `make run` and `make test` stop here without it
need_node() {
  echo "" >&2
  echo "build_web: $1" >&2
  echo "  make run builds the dashboard and the browser SDK with Node.js 20.19+ and npm (see README.md)." >&2
  echo "  Install them (e.g. apt-get install nodejs npm, if your distribution's Node.js is 20.19 or newer)," >&2
  echo "  then run the same command again." >&2
  exit 1
}
missing=()
command -v node >/dev/null || missing+=("Node.js (node)")
command -v npm >/dev/null || missing+=("npm")
if ((${#missing[@]})); then
  printf -v list '%s and ' "${missing[@]}"
  need_node "not found: ${list% and }."
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  need_node "Node.js $(node --version) is too old: 20.19 or newer is needed."
fi

# stale OUTPUT PATH... : true when OUTPUT is missing or any file under PATHs is newer
stale() {
  local output="$1"; shift
  [[ $FORCE == 1 || ! -e "$output" ]] && return 0
  [[ -n "$(find "$@" -newer "$output" -type f -print -quit 2>/dev/null)" ]]
}

install_deps() {
  local dir="$1"
  if [[ $FORCE == 1 || ! -e "$dir/node_modules/.package-lock.json" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    echo "build_web: npm ci in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

SDK="$GATEWAY/sdk"
SDK_SOURCES=("$SDK/src" "$SDK/build.mjs" "$SDK/package.json" "$SDK/package-lock.json")
# two outputs: the script-tag bundle the gateway serves and the npm package's entry (dist/)
if stale "$GATEWAY/static/sdk/tme.js" "${SDK_SOURCES[@]}" || stale "$SDK/dist/index.js" "${SDK_SOURCES[@]}"; then
  install_deps "$SDK"
  (cd "$SDK" && node build.mjs)
else
  echo "build_web: SDK is up to date ($(wc -c <"$GATEWAY/static/sdk/tme.js") bytes, $(gzip -9c "$GATEWAY/static/sdk/tme.js" | wc -c) gzipped)"
fi

DASH="$GATEWAY/dashboard"
if stale "$GATEWAY/static/dashboard/index.html" "$DASH/src" "$DASH/public" "$DASH/index.html" "$DASH/vite.config.ts" \
    "$DASH/tsconfig.json" "$DASH/package.json" "$DASH/package-lock.json"; then
  install_deps "$DASH"
  (cd "$DASH" && npx --no-install tsc --noEmit -p . && npx --no-install vite build --logLevel warn)
  total=0
  for f in "$GATEWAY"/static/dashboard/assets/*; do total=$((total + $(gzip -9c "$f" | wc -c))); done
  echo "build_web: dashboard built ($(ls "$GATEWAY"/static/dashboard/assets | wc -l) assets, ${total} bytes gzipped)"
else
  echo "build_web: dashboard is up to date"
fi
