#!/usr/bin/env bash
# Renovation check: run the same commands with two `pm` binaries and compare every output
# byte for byte. Usage: scripts/compare-outputs.sh REF_BIN NEW_BIN [WORKDIR]
# Exits non-zero on any difference (stdout, stderr, exit status or written file).
# Without WORKDIR it works in a new `mktemp -d` folder ($TMPDIR or /tmp), removed on exit unless the
# outputs differ (then kept, and named, for the diff); a WORKDIR given is always kept (and its
# generated 100k book reused by the next run).
# Covers: `pm batch` on data/sample/accounts and on a generated 100k-account folder (seed 3),
# `pm margin` on every data/examples/*.json (json and table), `pm liquidate` and `pm whatif` on one
# example each (json and table), and one `pm sweep` on data/sample.
set -u
REF=$(realpath "$1"); NEW=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${3:-}" ]; then
  WORK=$3
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/compare-outputs.XXXXXX") || exit 2
  keep=0
  trap '[ "$keep" = 1 ] || rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
cd "$ROOT"
MARKET=data/sample/market.json
GEN="$WORK/g100k"
if [ ! -f "$GEN/accounts.csv" ]; then
  "$REF" generate --accounts 100000 --seed 3 --out "$GEN" >/dev/null 2>&1 || { echo "generate failed"; exit 2; }
fi

run() { # name, then the command (BIN and OUT substituted)
  local name=$1; shift
  for which in ref new; do
    local bin=$REF; [ $which = new ] && bin=$NEW
    local out="$WORK/$which/$name"; rm -rf "$out"; mkdir -p "$out"
    local args=(); for a in "$@"; do a=${a//@BIN@/$bin}; a=${a//@OUT@/$out/files}; args+=("$a"); done
    if [ $which = ref ] && [ -n "${REF_PARAMS:-}" ] && [ "$2" != generate ]; then args+=(--params "$REF_PARAMS"); fi
    "${args[@]}" >"$out/stdout" 2>"$out/stderr"; echo $? >"$out/status"
  done
}

run batch-sample @BIN@ batch --input data/sample/accounts --market $MARKET --out @OUT@ --quiet
run batch-g100k @BIN@ batch --input "$GEN" --market "$GEN/market.json" --out @OUT@ --quiet
for f in data/examples/*.json; do
  b=$(basename "$f" .json)
  run "margin-$b-json" @BIN@ margin "$f" --market $MARKET
  run "margin-$b-table" @BIN@ margin "$f" --market $MARKET --format table
done
run liquidate-json @BIN@ liquidate data/examples/liquidation.json --market $MARKET
run liquidate-table @BIN@ liquidate data/examples/liquidation.json --market $MARKET --format table
run whatif-json @BIN@ whatif data/examples/short-strangle.json --market $MARKET --add BTCUSDC-26MAR27:-3 --add BTCUSDT:1.5@90000
run whatif-table @BIN@ whatif data/examples/short-strangle.json --market $MARKET --add BTCUSDC-26MAR27:-3 --format table
run sweep-sample @BIN@ sweep --input data/sample/accounts --market $MARKET --set BTC.shortOptionFactor=0.01,0.02 --shock BTC=-0.1,0.1 --iv-scale 1,1.2 --out @OUT@
run whatif-orders @BIN@ whatif data/examples/orders-both-sides.json --market $MARKET --add BTCUSDT:2@80000 --as-orders

# The batch and sweep summary lines on stderr carry timings and the output path; compare them without.
for d in "$WORK"/ref/batch-* "$WORK"/new/batch-* "$WORK"/ref/sweep-* "$WORK"/new/sweep-*; do sed -E -e 's/[0-9.]+ ?(s|ms|µs|accounts\/s)//g' -e "s#$WORK/(ref|new)/#WORK/#g" "$d/stderr" >"$d/stderr.cmp"; mv "$d/stderr.cmp" "$d/stderr"; done

# manifest.json records when the run finished; compare it without that line.
find "$WORK/ref" "$WORK/new" -name manifest.json | while read -r m; do grep -v '"finished"' "$m" >"$m.cmp"; mv "$m.cmp" "$m"; done
# REF_PARAMS=FILE gives the reference binary another parameter file (one it can read) for every command.

if diff -r "$WORK/ref" "$WORK/new" >"$WORK/diff.txt"; then
  n=$(find "$WORK/ref" -type f | wc -l)
  echo "identical: $n files under $WORK/ref and $WORK/new"
  exit 0
else
  keep=1
  echo "DIFFERENT (see $WORK/diff.txt):"; head -40 "$WORK/diff.txt"; exit 1
fi
