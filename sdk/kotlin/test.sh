#!/usr/bin/env bash
# Builds the Kotlin SDK and runs its tests against a live hivesyncd.
# Usually `bash sdk/kotlin/test.sh` from the repository root.
#
# The tests start `hivesyncd dev` once for the run: the binary at $HIVESYNC_BIN
# when set, otherwise one built with `go build ./cmd/hivesyncd` from the root.
# Maven resolves dependencies into ~/.m2; once they are there the build runs
# offline (-o), and falls back to the network only when something is missing.
set -euo pipefail

sdk_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for tool in java mvn; do
  command -v "$tool" >/dev/null || { echo "test.sh: '$tool' not found (needs JDK 17+ and Maven 3.8+)" >&2; exit 1; }
done
if [[ ! -d "$sdk_dir/src/generated/java" ]]; then
  echo "test.sh: generated code missing; running gen.sh" >&2
  bash "$sdk_dir/gen.sh"
fi

# Quiet Maven, but keep Surefire's "Tests run:" lines.
export MAVEN_OPTS="${MAVEN_OPTS:-} -Dorg.slf4j.simpleLogger.log.org.apache.maven.plugin.surefire=info"
# The Kotlin compiler runs in Maven's own process: its daemon would stay
# behind for two hours after the tests, holding a gigabyte and waking up.
args=(-B -q -ntp -Dstyle.color=never -Dkotlin.compiler.daemon=false -f "$sdk_dir/pom.xml" test)

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
mvn -o "${args[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [[ $rc -ne 0 ]] && grep -q "in offline mode" "$log"; then
  echo "test.sh: (the errors above come from the offline attempt) dependencies missing from ~/.m2; resolving them online" >&2
  mvn "${args[@]}"
  rc=$?
fi
exit "$rc"
