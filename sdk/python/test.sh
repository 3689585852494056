#!/usr/bin/env bash
# Builds the Python SDK wheel, installs it into sdk/python/.venv and runs the
# test suite against a live hivesyncd (started by tests/conftest.py; set
# HIVESYNC_BIN to use a prebuilt binary instead of `go build ./cmd/hivesyncd`).
# Run from the repository root: bash sdk/python/test.sh [extra pytest args]
set -euo pipefail

sdk_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/venv.sh
source "$sdk_dir/scripts/venv.sh"
hivesync_ensure_venv "$sdk_dir"
py="$sdk_dir/.venv/bin/python"

if [[ ! -f "$sdk_dir/src/hivesync/v1/meta_service_connect.py" ]]; then
  bash "$sdk_dir/gen.sh"
fi

# Build the publishable wheel and test exactly that artifact (not src/).
cd "$sdk_dir"
rm -rf dist
"$py" -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation \
  --wheel-dir dist .
"$py" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
  dist/hivesync-*.whl

rc=0
"$py" -m pytest -p no:cacheprovider "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
  echo "sdk/python/test.sh: pytest collected no tests; treating that as a failure" >&2
  exit 1
fi
exit "$rc"
