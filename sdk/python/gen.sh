#!/usr/bin/env bash
# Regenerates the Python SDK's generated code (sdk/python/src/hivesync/v1/)
# from proto/. Run from the repository root: bash sdk/python/gen.sh
set -euo pipefail

sdk_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$sdk_dir/../.." && pwd)"
# shellcheck source=scripts/venv.sh
source "$sdk_dir/scripts/venv.sh"
hivesync_ensure_venv "$sdk_dir"

cd "$root"
# The pinned toolchain (buf, protoc 36.2, google-proto-files) lives in tools/.
if [[ ! -x tools/node_modules/.bin/buf || ! -x tools/node_modules/.bin/protoc \
      || ! -f tools/node_modules/google-proto-files/google/api/annotations.proto ]]; then
  (cd tools && npm ci --no-audit --no-fund --silent)
fi
# google/api/{annotations,http}.proto: the buf workspace's import-only module
# (git-ignored; `make gen` fills it the same way).
for f in annotations http; do
  if [[ ! -f "third_party/googleapis/google/api/$f.proto" ]]; then
    mkdir -p third_party/googleapis/google/api
    cp "tools/node_modules/google-proto-files/google/api/$f.proto" third_party/googleapis/google/api/
  fi
done

# From scratch: src/hivesync/v1 holds generated files only.
rm -rf sdk/python/src/hivesync/v1
tools/node_modules/.bin/buf generate --template sdk/python/buf.gen.yaml
