#!/usr/bin/env bash
# The main job on the shipped sample: sets up, builds (release) and runs the nightly batch over
# data/sample/accounts against data/sample/market.json, writing out/sample/{margins,units}.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product pm
.build/release/pm batch --input data/sample/accounts --market data/sample/market.json --out out/sample "$@"
