#!/usr/bin/env bash
# Issue 22: why does a warm-started ML generalise worse than a fresh one on the same rows? On copies
# of one experiment database, the next version of ML is trained three ways at the same step budget:
# from scratch; from the latest version's weights with the default schedule (a new optimizer and a
# learning-rate warm-up back to 1e-3: a restart); and from those weights at a third of the rate.
# The latest model version is set aside first, so that the warm start comes from the version before
# it, trained on fewer rows: the situation of an experiment's warm-started cycle. Each is evaluated
# on the database's eval split plus EVAL_EXTRA fresh eval questions.
# Usage: bench/grids/warm_vs_fresh.sh DB [STEPS] [SEEDS]   (results: bench/results/warm_vs_fresh-NAME.jsonl)
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$1
steps=${2:-150}
seeds=${3:-"0 1 2"}
extra=${EVAL_EXTRA:-400}
IDA=".venv/bin/python -m ida_cli"
name=$(basename "$src" .duckdb)
out="bench/results/warm_vs_fresh-$name.jsonl"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for seed in $seeds; do
  for variant in fresh warm warm-lr3e-4; do
    if [ -f "$out" ] && grep -q "\"variant\": \"$variant\", \"seed\": $seed," "$out"; then continue; fi  # resumable
    db="$work/$variant-$seed.duckdb"
    cp "$src" "$db"
    cp -r "$src.checkpoints" "$db.checkpoints"
    .venv/bin/python - "$db" <<'PY'
import sys, duckdb
with duckdb.connect(sys.argv[1]) as con:
    con.execute("""UPDATE versions SET status = 'failed' WHERE kind = 'model'
                   AND version = (SELECT max(version) FROM versions WHERE kind = 'model')""")
PY
    $IDA --db "$db" questions generate --task wildcard --size 8 --count "$extra" --seed 99 --split eval >/dev/null
    case $variant in
      fresh) flags=(--fresh) ;;
      warm) flags=(--warm) ;;
      warm-lr3e-4) flags=(--warm --lr 3e-4) ;;
    esac
    start=$(date +%s.%N)
    $IDA --db "$db" train model --max-steps "$steps" --seed "$seed" --eval-every 50 --patience 100 "${flags[@]}" >/dev/null
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    acc=$($IDA --db "$db" eval --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')
    echo "{\"variant\": \"$variant\", \"seed\": $seed, \"steps\": $steps, \"accuracy\": $acc, \"train_seconds\": $seconds, \"db\": \"$name\"}" >> "$out"
    echo "$variant seed $seed: $acc"
  done
done
