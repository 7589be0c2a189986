#!/usr/bin/env bash
# `swift test --skip-build ARGS` with a private, empty TMPDIR, then fails if the run left anything
# in it: a nightly run must not fill the disk with test folders (every test's files live under one
# per-process root, Tests/PMTestSupport/TestTemp.swift, removed at exit). Exit status: the
# test run's, or 1 if it passed but left entries behind.
#   scripts/test-tmpclean.sh [swift test arguments, e.g. --filter '^UnitTests\.']
# A private TMPDIR rather than a before/after count of /tmp: colleagues' runs and other programs
# write to /tmp at the same time, so only an empty folder of our own tells exactly what this run
# left. Everything in it is ours except SwiftPM's own: `TemporaryDirectory.*` (its tooling makes
# and cleans them) and its lock files `_<path with _ for />.lock` (one fixed name per locked path,
# reused by every run, so they do not pile up); those are ignored. Files a test puts in /tmp by a literal path would escape the
# private TMPDIR, so test sources naming "/tmp" are refused too.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
box=$(mktemp -d "${TMPDIR:-/tmp}/pm-tmpclean.XXXXXX") || exit 1
log=$(mktemp "${TMPDIR:-/tmp}/pm-tmpclean-log.XXXXXX") || exit 1
trap 'rm -rf "$box" "$log"' EXIT
TMPDIR=$box swift test --skip-build "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# A filter that matches nothing is a pass for `swift test`: here it is a failure (a renamed suite
# must not drop out of a run silently).
if grep -q 'Test run with 0 tests' "$log"; then
  echo "test-tmpclean: FAILED: no test matched: $*" >&2
  [ "$rc" -ne 0 ] || rc=1
fi
left=$(find "$box" -mindepth 1 -maxdepth 1 ! -name 'TemporaryDirectory.*' ! -name '_*.lock' -printf '%f\n' | sort)
if [ -n "$left" ]; then
  n=$(printf '%s\n' "$left" | wc -l)
  echo "test-tmpclean: FAILED: the test run left $n entries in its TMPDIR:" >&2
  printf '%s\n' "$left" | sed -E 's/-[0-9]+(-[0-9A-Za-z]+)?$/-*/' | sort | uniq -c | sort -rn | sed -n 1,40p >&2
  [ "$rc" -ne 0 ] || rc=1
else
  echo "test-tmpclean: the test run left nothing in its TMPDIR"
fi
if hits=$(grep -rn '"/tmp' Tests/ --include='*.swift'); then
  echo "test-tmpclean: FAILED: test sources name /tmp (use TestTemp.dir, which honours TMPDIR):" >&2
  echo "$hits" >&2
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
