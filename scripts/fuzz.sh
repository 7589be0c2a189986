#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of the input readers and the batch path.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Builds one fuzzer binary into .build-fuzz/ (the library's sources plus Fuzz/Sources/*.swift in one
# module, so the targets reach internal APIs; address sanitizer on; the C kernels by clang), then
# runs each target for SECONDS_PER_TARGET (default 60) on one worker with a seed corpus from data/
# and Fuzz/seeds/. Prints executions and findings per target; exits 1 on a finding, the input kept
# in .build-fuzz/findings/TARGET/. Targets: number date json csv batch market params account
# bybit reconcile sweep whatif smile smileargs manifest report maxsize hedgeargs explainargs history backtestargs.
#
# Environment: PM_FUZZ_PENDING=1 turns on the contract checks that wait for other fixes of issue 7
# and makes the findings of Fuzz/known-findings.txt failures again (Fuzz/README.md); PM_FUZZ_SEED
# fixes libFuzzer's seed; PM_FUZZ_RUNS caps executions per target; PM_FUZZ_KEEP_GOING=1 continues
# after a finding (fork mode); PM_FUZZ_TIMEOUT (s, default 30); PM_FUZZ_RSS (MB, default 2048);
# PM_FUZZ_BUILD_ONLY=1 builds the binary and runs nothing (scripts/test.sh builds it while other
# steps run, then runs two lists of targets at once); PM_FUZZ_LIST=1 prints ALL_TARGETS and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="/opt/swift/usr/bin:$PATH"
SECONDS_PER_TARGET=${1:-60}
# 0 while the fixes of Fuzz/known-findings.txt are on other branches; 1 once they are merged.
export PM_FUZZ_PENDING=${PM_FUZZ_PENDING:-1}
shift || true
ALL_TARGETS=(number date json csv batch market params account bybit reconcile sweep whatif smile smileargs manifest report maxsize hedgeargs explainargs history backtestargs)
TARGETS=("$@")
[ "${PM_FUZZ_LIST:-0}" != 1 ] || { echo "${ALL_TARGETS[@]}"; exit 0; }
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")

OUT=$ROOT/.build-fuzz
BIN=$OUT/pm-fuzz
mkdir -p "$OUT/obj" "$OUT/module/CKernels" "$OUT/module/CPlatform"

# ---- build (only when a source changed) ----
SOURCES=$(find Sources/PortfolioMargin Fuzz/Sources -name '*.swift' | sort)
# Both C targets: the kernels (not CKernels/tests, a program of its own) and the platform calls.
CSOURCES=$(find CKernels CPlatform -maxdepth 1 -name '*.c' | sort)
newest=$(ls -t $SOURCES $CSOURCES CKernels/*.h CKernels/include/*.h CPlatform/include/*.h data/params/pm-params.json | sed -n 1p)
if [ ! -x "$BIN" ] || [ "$newest" -nt "$BIN" ]; then
    echo "fuzz: building $BIN" >&2
    cat > "$OUT/module/CKernels/module.modulemap" <<MAP
module CKernels {
    header "$ROOT/CKernels/include/CKernels.h"
    export *
}
MAP
    cat > "$OUT/module/CPlatform/module.modulemap" <<MAP
module CPlatform {
    header "$ROOT/CPlatform/include/CPlatform.h"
    export *
}
MAP
    objs=()
    for c in $CSOURCES; do
        o=$OUT/obj/$(basename "$c" .c).o
        clang -O2 -g -fsanitize=fuzzer-no-link,address -ICKernels/include -ICKernels -ICPlatform/include -c "$c" -o "$o"
        objs+=("$o")
    done
    # -O keeps executions fast; whole-module so that one compile job builds everything.
    # Run from $OUT: swiftc leaves module files (.swiftmodule, .swiftdoc) in the current folder.
    # The library's embedded resource (Package.swift `.embedInCode`), generated as SwiftPM does.
    python3 -c 'import sys; print("struct PackageResources {\nstatic let pm_params_json: [UInt8] = [" + ",".join(map(str, open(sys.argv[1], "rb").read())) + "]\n}")' \
        data/params/pm-params.json > "$OUT/embedded_resources.swift"
    abs=("$OUT/embedded_resources.swift")
    for f in $SOURCES; do abs+=("$ROOT/$f"); done
    (cd "$OUT" && swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name PortfolioMargin -package-name PortfolioMargin -swift-version 5 \
        -wmo -num-threads 1 \
        -I "$OUT/module/CKernels" -I "$OUT/module/CPlatform" -I "$ROOT/Sources/CBLAS" -Xcc -fmodule-map-file="$ROOT/Sources/CBLAS/module.modulemap" \
        "${abs[@]}" "${objs[@]}" -lopenblas -llapacke -use-ld=lld -o "$BIN.tmp")
    mv "$BIN.tmp" "$BIN"
fi
[ "${PM_FUZZ_BUILD_ONLY:-0}" != 1 ] || exit 0

# ---- run ----
export PM_FUZZ_ROOT=$ROOT
export OPENBLAS_NUM_THREADS=1
# Swift's own crash reporter would race ASan/libFuzzer for the signal (and ASan then reports the
# reporter's memory reads instead of the trap): leave crashes to libFuzzer.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
# A finding listed in Fuzz/known-findings.txt (its message and a frame both in the log): prints
# the issue case, or nothing.
known_finding() {
    local target=$1 log=$2 tgt msg frame case
    while IFS=$'\t' read -r tgt msg frame case; do
        case $tgt in ''|'#'*) continue ;; esac
        [ "$tgt" = "$target" ] || continue
        if grep -qE -- "$msg" "$log" && grep -qE -- "$frame" "$log"; then echo "$case"; return; fi
    done < Fuzz/known-findings.txt
}
status=0
for t in "${TARGETS[@]}"; do
    case $t in
        number|date) maxlen=64; dict=Fuzz/dict/number.dict ;;
        csv|batch) maxlen=4096; dict=Fuzz/dict/csv.dict ;;
        bybit|reconcile) maxlen=16384; dict=Fuzz/dict/bybit.dict ;;
        sweep|whatif) maxlen=512; dict=Fuzz/dict/args.dict ;;
        smile) maxlen=512; dict=Fuzz/dict/smile.dict ;;
        smileargs) maxlen=256; dict=Fuzz/dict/smileargs.dict ;;
        maxsize|hedgeargs) maxlen=256; dict=Fuzz/dict/trader.dict ;;
        manifest) maxlen=8192; dict=Fuzz/dict/json.dict ;;
        report) maxlen=8192; dict=Fuzz/dict/report.dict ;;
        explainargs) maxlen=2048; dict=Fuzz/dict/csv.dict ;;
        history) maxlen=4096; dict=Fuzz/dict/csv.dict ;;
        backtestargs) maxlen=256; dict=Fuzz/dict/number.dict ;;
        *) maxlen=16384; dict=Fuzz/dict/json.dict ;;
    esac
    corpus=$OUT/corpus/$t
    findings=$OUT/findings/$t
    # Targets write their input as a file each execution: on a disk that costs ~3 ms, on tmpfs µs.
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then work=/dev/shm/pm-fuzz-$$-$t; else work=$OUT/work/$t; fi
    mkdir -p "$corpus" "$findings" "$work"
    trap 'rm -rf "$work"' EXIT
    # Seeds: hand-made ones (Fuzz/seeds/TARGET) and small slices of data/.
    # known-*: inputs of crashes and broken invariants other branches are fixing (Fuzz/README.md);
    # they join the corpus only with PM_FUZZ_PENDING=1.
    rm -f "$corpus"/known-*
    for f in Fuzz/seeds/"$t"/*; do
        [ -f "$f" ] || continue
        case $(basename "$f") in known-*) [ "$PM_FUZZ_PENDING" = 1 ] || continue ;; esac
        cp "$f" "$corpus/"
    done
    case $t in
        json|market) for f in data/examples/*.json Fuzz/fixtures/market-small.json; do cp -n "$f" "$corpus/data-$(basename "$f")"; done ;;
        account) for f in data/examples/*.json; do cp -n "$f" "$corpus/data-$(basename "$f")"; done ;;
        params) cp -n data/params/pm-params.json "$corpus/data-pm-params.json" ;;
        reconcile) cp -n data/examples/bybit/portfolio-margin-published.json "$corpus/data-portfolio-margin-published.json" ;;
        csv) for f in data/sample/accounts/*.csv; do head -c 3000 "$f" > "$corpus/data-$(basename "$f")"; done ;;
        batch)
            k=0
            for f in accounts balances positions orders; do
                { printf "\\x$(printf %02x $k)"; head -n 12 "Fuzz/fixtures/batch/$f.csv"; } > "$corpus/fixture-$f"
                k=$((k + 1))
            done ;;
    esac
    log=$OUT/$t.log
    extra=()
    limits=(-timeout="${PM_FUZZ_TIMEOUT:-30}" -rss_limit_mb="${PM_FUZZ_RSS:-2048}" -malloc_limit_mb="${PM_FUZZ_RSS:-2048}")
    [ -n "${PM_FUZZ_SEED:-}" ] && extra+=(-seed="$PM_FUZZ_SEED")
    # PM_FUZZ_RUNS=N: stop a target after N executions (or SECONDS_PER_TARGET, whichever is first).
    [ -n "${PM_FUZZ_RUNS:-}" ] && extra+=(-runs="$PM_FUZZ_RUNS")
    # PM_FUZZ_KEEP_GOING=1: libFuzzer's fork mode (still one worker) keeps fuzzing after a finding,
    # to collect every distinct one in a long run.
    [ "${PM_FUZZ_KEEP_GOING:-0}" = 1 ] && extra+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
    marker=$OUT/.start-$t
    touch "$marker"
    set +e
    PM_FUZZ_TARGET=$t PM_FUZZ_WORK=$work "$BIN" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -max_len=$maxlen \
        "${limits[@]}" -dict="$dict" -artifact_prefix="$findings/" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' \
            || grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || echo "?")
    rate=$(grep -o 'exec/s: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
    new=$(find "$findings" -type f -newer "$marker" ! -name '*.log' | sort)
    if [ -z "$new" ]; then
        if [ $rc -eq 0 ]; then
            echo "fuzz $t: ${execs} executions (${rate}/s), no finding"
        else
            echo "fuzz $t: FAILED (exit $rc) after ${execs} executions, no input kept (log $log)"
            status=1
        fi
    fi
    # Each input found is run again alone; its log says what broke, and whether it is known.
    for f in $new; do
        set +e
        PM_FUZZ_TARGET=$t PM_FUZZ_WORK=$work "$BIN" "$f" "${limits[@]}" >"$f.log" 2>&1
        set -e
        why=$(grep -m1 -oE 'FUZZ INVARIANT BROKEN.*|Swift runtime failure: [^/]*|ERROR: AddressSanitizer: [a-z-]+' "$f.log" \
              || grep -m1 -oE 'ERROR: libFuzzer: .*' "$f.log" || echo "did not reproduce alone")
        known=$(known_finding "$t" "$f.log")
        if [ -n "$known" ] && [ "$PM_FUZZ_PENDING" != 1 ]; then
            echo "fuzz $t: KNOWN finding (issue 7 case $known) after ${execs} executions, not a failure until that fix merges: $why -> $f"
        else
            echo "fuzz $t: FINDING after ${execs} executions: $why -> $f (log $f.log)"
            status=1
        fi
    done
    rm -rf "$work"
    trap - EXIT
done
exit $status
