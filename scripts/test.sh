#!/usr/bin/env bash
# Sets up (apt packages) and runs the whole test suite. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
