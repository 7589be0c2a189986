#!/usr/bin/env bash
# The test suite under sanitizers (a heap corruption is what they exist to catch):
#   - AddressSanitizer, built with `--sanitize=address` into .build-asan (library, C kernels and the
#     `pm` the end-to-end tests run): UnitTests, FaultTests and the EndToEndTests suites that reach
#     the engine and its C kernels, in the test process or in `pm` (all but `plain_only` in
#     scripts/suite-split.sh);
#   - ThreadSanitizer: the tests that run work on several threads (the batch pipeline, its
#     read-ahead and writer, the sweep, sharding), built with `--sanitize=thread` into .build-tsan.
# Sanitizers are command-line options of SwiftPM, never `unsafeFlags` in Package.swift.
#   scripts/test-sanitizers.sh [address|thread]...     (default: both)
# PM_SANITIZE_FILTER overrides the ThreadSanitizer test filter.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(address thread)
# Swift's crash reporter would race the sanitizer for the signal; leaks of process-lifetime
# globals are not findings.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# Threaded OpenBLAS is not built with TSan: its own pool's handshakes would be reported.
export OPENBLAS_NUM_THREADS=1
threaded='StreamingBatch|HeadStart|Pipeline|BatchTests|DenseDeterminism|ScaleOut|SweepPlanEquivalenceTests/runEqualsThePerCombinationPath|SweepTop|OutputFiles'
# What runs under AddressSanitizer and what only without a sanitizer (each test once): scripts/suite-split.sh.
. scripts/suite-split.sh
status=0
for kind in "${kinds[@]}"; do
  case $kind in
    address) scratch=.build-asan; filter=(--skip "$plain_only") ;;
    thread) scratch=.build-tsan; filter=(--filter "${PM_SANITIZE_FILTER:-$threaded}") ;;
    *) echo "test-sanitizers: unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
  esac
  echo "test-sanitizers: building the suite with --sanitize=$kind into $scratch" >&2
  swift build --build-tests --sanitize="$kind" --scratch-path "$scratch"
  # Every name in the ThreadSanitizer filter must still name a test: a renamed suite would
  # otherwise drop out of the run without a word (SweepSpeedTests did).
  if [ "$kind" = thread ] && [ -z "${PM_SANITIZE_FILTER:-}" ]; then
    listed=$(swift test list --skip-build --sanitize=thread --scratch-path "$scratch")
    IFS='|' read -ra names <<<"$threaded"
    for name in "${names[@]}"; do
      grep -qE -- "$name" <<<"$listed" || { echo "test-sanitizers: '$name' in the ThreadSanitizer filter names no test" >&2; status=1; }
    done
  fi
  if scripts/test-tmpclean.sh --sanitize="$kind" --scratch-path "$scratch" "${filter[@]}"; then
    echo "test-sanitizers: $kind: passed"
  else
    echo "test-sanitizers: $kind: FAILED" >&2
    status=1
  fi
done
exit $status
