# shellcheck shell=bash
# Sourced by gen.sh and test.sh: creates or refreshes sdk/python/.venv from the
# hash-locked requirements/dev.lock. Fast (a hash comparison) when nothing
# changed; rebuilt from scratch when the lock or the interpreter changes.
# Set PYTHON to choose the interpreter (default: python3, must be >= 3.11).

hivesync_ensure_venv() {
  local sdk_dir="$1"
  local venv="$sdk_dir/.venv"
  local lock="$sdk_dir/requirements/dev.lock"
  local py="${PYTHON:-python3}"
  local stamp="$venv/.hivesync-lock"

  if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "sdk/python: need Python >= 3.11 (set PYTHON=...); '$py' is not" >&2
    return 1
  fi
  local want
  want="$(sha256sum "$lock" | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.version.split()[0])')"

  # Serialize concurrent runs (gen.sh and test.sh started in parallel).
  exec 9>"$sdk_dir/.venv.lock"
  flock 9
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exec 9>&-
    return 0
  fi
  echo "sdk/python: creating $venv from requirements/dev.lock" >&2
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --no-deps --only-binary :all: -r "$lock"
  "$venv/bin/python" -m pip check >&2
  echo "$want" >"$stamp"
  exec 9>&-
}
