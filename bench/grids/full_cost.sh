#!/usr/bin/env bash
# Eighteenth session: full HCH's CPU to 95% against supervised's, now that an unaudited full run
# has no adversary and ML answers nothing in its rounds (`ida experiment` without --audit). Each
# task's pair (supervised, full) runs side by side, one thread each, seed 1; the round sizes are
# those that reach 95% on the online engine (wildcard: the headline grid's 160; unionfind: 6,400
# ground-truth questions for supervised, its quickest, and 1,280 trees for full HCH,
# bench/results/unionfind-data-s17). Each finished run's curve (`ida experiment --json`) is
# committed as bench/results/full-cost-s18/NAME.json and skipped on a rerun; an unfinished one
# resumes from its database in bench/out/full-cost. Then:
#   ida report bench/results/full-cost-s18 --level 0.9 --level 0.95
# Usage: bench/grids/full_cost.sh [TASK ...]  (default: wildcard unionfind)
set -euo pipefail
cd "$(dirname "$0")/../.."
IDA=".venv/bin/python -m ida_cli"
export IDA_THREADS=1 OMP_NUM_THREADS=1
out=bench/out/full-cost
res=bench/results/full-cost-s18
mkdir -p "$out" "$res"
common=(--size 8 --seed 1 --train-steps 200 --adversary-steps 50 --eval-questions 200 --until 0.95)
run() {  # name, then the experiment's own flags
  local name=$1; shift
  [ -f "$res/$name.json" ] && { echo "== $name: done"; return; }
  echo "== $(date +%T) $name"
  $IDA --db "$out/$name.duckdb" experiment "${common[@]}" "$@" --json > "$out/$name.json" 2> "$out/$name.log" \
    && cp "$out/$name.json" "$res/$name.json"
  echo "== $(date +%T) $name: finished"
}
declare -A cells=(
  [wildcard-supervised]="--task wildcard --strategy supervised --per-round 160 --max-cycles 20 --budget 100000"
  [wildcard-full]="--task wildcard --strategy full --per-round 160 --max-cycles 20 --budget 1000000"
  [unionfind-supervised]="--task unionfind --strategy supervised --per-round 6400 --max-cycles 12 --budget 1000000"
  [unionfind-full]="--task unionfind --strategy full --per-round 1280 --max-cycles 14 --budget 10000000"
)
tasks=("$@")
[ ${#tasks[@]} -eq 0 ] && tasks=(wildcard unionfind)
for task in "${tasks[@]}"; do
  # shellcheck disable=SC2086
  run "$task-supervised" ${cells[$task-supervised]} &
  # shellcheck disable=SC2086
  run "$task-full" ${cells[$task-full]} &
  wait
done
