#!/usr/bin/env bash
# Byte-for-byte comparison of a candidate `pm` against a reference binary (issue 8: no byte of output
# may change). Runs `pm batch` on data/sample/accounts and on a `pm generate --accounts 100000 --seed 3`
# book, and `pm margin` (JSON and --format table) on every data/examples/*.json; compares every output
# with `cmp`. manifest.json is compared with its "finished" instant removed.
# Usage: scripts/compare-outputs.sh REFERENCE_PM [CANDIDATE_PM]   (candidate default: .build/release/pm)
# REF_PARAMS=FILE: the reference runs with --params FILE (a parameter file whose bytes changed but not its
# values, e.g. one an older reference cannot read); the manifests' params digest line is then not compared.
set -uo pipefail
cd "$(dirname "$0")/.."
REF=${1:?usage: compare-outputs.sh REFERENCE_PM [CANDIDATE_PM]}
NEW=${2:-.build/release/pm}
W=$(mktemp -d /tmp/pm-compare.XXXXXX)
fail=0
same() { if cmp -s "$1" "$2"; then :; else echo "DIFFERS: $3"; fail=1; fi; }
manifest() { if [ -n "${REF_PARAMS:-}" ]; then grep -v '"finished"\|"params": {"size"' "$1"; else grep -v '"finished"' "$1"; fi; }
for who in ref new; do
  bin=$REF; [ $who = new ] && bin=$NEW
  P=(); [ $who = ref ] && [ -n "${REF_PARAMS:-}" ] && P=(--params "$REF_PARAMS")
  "$bin" generate --accounts 100000 --seed 3 --out "$W/$who-gen" 2>/dev/null || { echo "$who: generate failed"; fail=1; }
  "$bin" batch --quiet "${P[@]}" --input data/sample/accounts --market data/sample/market.json --out "$W/$who-sample" 2>/dev/null
  echo "exit $?" > "$W/$who-sample.rc"
  "$bin" batch --quiet "${P[@]}" --input "$W/$who-gen" --market "$W/$who-gen/market.json" --out "$W/$who-big" 2>/dev/null
  echo "exit $?" > "$W/$who-big.rc"
  for f in data/examples/*.json; do
    b=$(basename "$f" .json)
    "$bin" margin "$f" "${P[@]}" --market data/sample/market.json > "$W/$who-$b.json" 2>&1; echo "exit $?" >> "$W/$who-$b.json"
    "$bin" margin "$f" "${P[@]}" --market data/sample/market.json --format table > "$W/$who-$b.table" 2>&1; echo "exit $?" >> "$W/$who-$b.table"
  done
done
for f in accounts.csv balances.csv positions.csv orders.csv market.json; do same "$W/ref-gen/$f" "$W/new-gen/$f" "generate $f"; done
for run in sample big; do
  same "$W/ref-$run.rc" "$W/new-$run.rc" "batch $run exit status"
  for f in margins.csv units.csv; do same "$W/ref-$run/$f" "$W/new-$run/$f" "batch $run $f"; done
  same <(manifest "$W/ref-$run/manifest.json" | sed "s#$W/ref-#X#g") <(manifest "$W/new-$run/manifest.json" | sed "s#$W/new-#X#g") "batch $run manifest.json"
done
for f in data/examples/*.json; do
  b=$(basename "$f" .json)
  same "$W/ref-$b.json" "$W/new-$b.json" "margin $b json"
  same "$W/ref-$b.table" "$W/new-$b.table" "margin $b table"
done
n=$(ls data/examples/*.json | wc -l)
if [ $fail = 0 ]; then echo "identical: generate (5 files), 2 batch runs (margins, units, manifest), $n examples × (json, table)"; rm -rf "$W"; else echo "outputs kept in $W"; fi
exit $fail
