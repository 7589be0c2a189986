#!/usr/bin/env bash
# Sets up (apt packages) and runs the whole test suite. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
# Fuzzing (issue 7, Fuzz/README.md): every target briefly, about a minute in all plus the build.
# PM_FUZZ_SECONDS per target (0 skips); a fixed libFuzzer seed keeps CI runs comparable.
if [ "${PM_FUZZ_SECONDS:-7}" != 0 ]; then
    PM_FUZZ_SEED=${PM_FUZZ_SEED:-1} scripts/fuzz.sh "${PM_FUZZ_SECONDS:-7}"
fi
