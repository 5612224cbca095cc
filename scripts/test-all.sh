#!/usr/bin/env bash
# The whole test suite, as CI and the README run it: build (type-check), lint,
# formatting, unit + integration tests, then the real-kernel e2e suite in QEMU.
# Ends with one line totalling every suite: "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

step() {
  echo "=== $*"
  "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    echo "=== FAILED ($rc): $*"
    status=1
  fi
  return "$rc"
}

step npm run --silent build && step npm run --silent lint && step npm run --silent format:check
if [ "$status" -eq 0 ]; then
  step npx vitest run
  step test/e2e/run
fi

# Sum the per-suite summary lines printed by test/setup/summary-reporter.ts.
read -r passed failed skipped < <(
  sed -n 's/^tests: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$log" |
    awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}'
)
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
