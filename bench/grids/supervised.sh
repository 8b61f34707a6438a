#!/usr/bin/env bash
# Supervised targets of issue 3: size 8, eval on held-out contexts. One database per task in
# bench/out/; the eval split is generated first so that training contexts avoid it.
# Usage: bench/grids/supervised.sh [task ...]   (default: all five; minutes via MINUTES / MINUTES_ASSIGNMENTS)
set -euo pipefail
cd "$(dirname "$0")/../.."
IDA=".venv/bin/python -m ida_cli"
mkdir -p bench/out
tasks=("$@")
[ ${#tasks[@]} -eq 0 ] && tasks=(wildcard permutation unionfind shortpath assignments)
for task in "${tasks[@]}"; do
  db="bench/out/supervised-$task.duckdb"
  minutes=${MINUTES:-15}
  [ "$task" = assignments ] && minutes=${MINUTES_ASSIGNMENTS:-30}
  if [ ! -f "$db" ]; then
    # wildcard has only 256 contexts at size 8: keep its eval split to 25 of them
    if [ "$task" = wildcard ]; then n_eval=200; per=8; else n_eval=1000; per=4; fi
    $IDA --db "$db" questions generate --task "$task" --size 8 --count $n_eval --seed 7 --split eval --per-context $per
    $IDA --db "$db" questions generate --task "$task" --size 8 --count 300000 --seed 7
  fi
  echo "== $task: train $minutes min"
  $IDA --db "$db" train model --fresh --supervised --task "$task" --minutes "$minutes" --eval-every 250 --patience 8 \
    --json > "bench/out/supervised-$task.train.json"
  $IDA --db "$db" eval --task "$task" --json > "bench/out/supervised-$task.eval.json"
  cat "bench/out/supervised-$task.eval.json"
done
