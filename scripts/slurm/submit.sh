#!/bin/bash
# Submits a sharded pm batch to Slurm: an array of N shard tasks, then the merge after all of
# them succeeded. Prints the two job ids.
#   scripts/slurm/submit.sh --pm PM --input DIR --market M [--params P] --out DIR --shards N
#                           [--split] [--threads T] [-- extra sbatch options]
# --split first cuts the input with pm split (here, once) so each task reads only its 1/N.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PM=pm PARAMS="" SPLIT=0 THREADS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --pm) PM=$2; shift 2 ;;
    --input) IN=$2; shift 2 ;;
    --market) MARKET=$2; shift 2 ;;
    --params) PARAMS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --shards) N=$2; shift 2 ;;
    --split) SPLIT=1; shift ;;
    --threads) THREADS=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "submit.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
ACCOUNTS="$IN/accounts.csv"
mkdir -p "$OUT"
if [ "$SPLIT" = 1 ]; then
  "$PM" split --input "$IN" --shards "$N" --out "$OUT/in"
  IN="$OUT/in"
fi
export PM IN MARKET PARAMS OUT N SPLIT THREADS ACCOUNTS
array=$(sbatch --parsable --array=0-$((N - 1)) --cpus-per-task="$THREADS" --chdir="$OUT" "$@" "$here/pm-shard.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --chdir="$OUT" "$@" "$here/pm-merge.sbatch")
echo "$array ${merge%%;*}"
