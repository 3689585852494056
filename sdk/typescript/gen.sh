#!/usr/bin/env bash
# Regenerates sdk/typescript/src/gen/ from proto/ (run from anywhere; CI runs
# it from the repository root and diffs the result).
#
# Toolchain: the repository's pinned tools/ package (buf 1.75.0,
# protoc-gen-es 2.17.0, google-proto-files for google/api/*.proto).
set -euo pipefail

SDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SDK_DIR/../.." && pwd)"
cd "$ROOT"

# 1. Toolchain (idempotent: only installs when a binary is missing).
if [[ ! -x tools/node_modules/.bin/buf || ! -x tools/node_modules/.bin/protoc-gen-es \
      || ! -d tools/node_modules/google-proto-files/google/api ]]; then
  echo "gen.sh: installing the pinned toolchain in tools/ (npm ci)" >&2
  npm ci --prefix tools --no-audit --no-fund --loglevel=error
fi

# The generated code must match the runtime the SDK depends on.
want="$(node -p 'require(process.argv[1]).dependencies["@bufbuild/protobuf"]' "$SDK_DIR/package.json")"
have="$(tools/node_modules/.bin/protoc-gen-es --version | sed 's/^protoc-gen-es v//')"
if [[ "$want" != "$have" ]]; then
  echo "gen.sh: protoc-gen-es $have (tools/) does not match @bufbuild/protobuf $want (sdk/typescript/package.json); pin them to the same version" >&2
  exit 1
fi

# 2. google/api/{annotations,http}.proto for the import-only buf module
#    third_party/googleapis (git-ignored; `make gen` puts them there too).
for f in annotations.proto http.proto httpbody.proto; do
  if [[ ! -f "third_party/googleapis/google/api/$f" ]]; then
    mkdir -p third_party/googleapis/google/api
    cp "tools/node_modules/google-proto-files/google/api/$f" "third_party/googleapis/google/api/$f"
  fi
done

# 3. Generate from scratch (the template has clean: true on src/gen).
tools/node_modules/.bin/buf generate --template sdk/typescript/buf.gen.yaml
echo "gen.sh: generated $(find sdk/typescript/src/gen -name '*_pb.ts' | wc -l) files in sdk/typescript/src/gen" >&2
