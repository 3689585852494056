#!/usr/bin/env bash
# Installs the SDK's pinned dependencies (when missing or out of date), builds
# the package, and runs its smoke tests against a live `hivesyncd dev` that the
# tests start themselves (HIVESYNC_BIN, or `go build ./cmd/hivesyncd`).
set -euo pipefail

SDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$SDK_DIR"

# 1. Dependencies: `npm ci` from the committed lockfile, skipped when
#    node_modules was installed from this exact lockfile.
stamp="node_modules/.hivesync-lock.sha256"
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_sum" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > "$stamp"
fi

# 2. Build the package (dist/) and the tests (build-test/), from scratch.
rm -rf dist build-test
node_modules/.bin/tsc -p tsconfig.json
node_modules/.bin/tsc -p tsconfig.test.json

# 3. Run the suite (node's built-in runner; non-zero exit on any failure).
node --test --test-reporter=spec build-test/smoke.test.js
