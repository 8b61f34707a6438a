#!/usr/bin/env bash
# Eighteenth session: full HCH's CPU to 95% against supervised's, now that an unaudited full run
# has no adversary and ML answers nothing in its rounds (`ida experiment` without --audit). Each
# task's pair (supervised, full) runs side by side, one thread each; the round sizes are
# those that reach 95% on the online engine (wildcard: the headline grid's 160; unionfind: 6,400
# ground-truth questions for supervised, its quickest, and 1,280 trees for full HCH,
# bench/results/unionfind-data-s17). Each finished run's curve (`ida experiment --json`) is
# committed as bench/results/full-cost-s18/NAME.json and skipped on a rerun; an unfinished one
# resumes from its database in bench/out/full-cost. Then:
#   ida report bench/results/full-cost-s18 --level 0.9 --level 0.95
# `bench/grids/full_cost.sh audited` runs wildcard full HCH with --audit alone (the cost of the
# adversary it trains and of ML's answers in its rounds).
# Usage: [SEED=K] bench/grids/full_cost.sh [TASK ...]  (default: wildcard unionfind; seed 1, whose
# files have no seed in their names)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/grids/cells.sh
source bench/grids/cells.sh
out=bench/out/full-cost
res=bench/results/full-cost-s18
mkdir -p "$out" "$res"
seed=${SEED:-1}
tag=$([ "$seed" = 1 ] && echo "" || echo "-seed$seed")
common=(--size 8 --seed "$seed" --train-steps 200 --adversary-steps 50 --eval-questions 200 --until 0.95)
declare -A cells=(
  [wildcard-supervised]="--task wildcard --strategy supervised --per-round 160 --max-cycles 20 --budget 100000"
  [wildcard-full]="--task wildcard --strategy full --per-round 160 --max-cycles 20 --budget 1000000"
  [wildcard-full-audited]="--task wildcard --strategy full --per-round 160 --max-cycles 20 --budget 1000000 --audit"
  [unionfind-supervised]="--task unionfind --strategy supervised --per-round 6400 --max-cycles 12 --budget 1000000"
  [unionfind-full]="--task unionfind --strategy full --per-round 1280 --max-cycles 14 --budget 10000000"
)
tasks=("$@")
[ ${#tasks[@]} -eq 0 ] && tasks=(wildcard unionfind)
if [ "${tasks[0]}" = audited ]; then
  # shellcheck disable=SC2086
  run "wildcard-full-audited$tag" ${cells[wildcard-full-audited]}
  exit 0
fi
for task in "${tasks[@]}"; do
  # shellcheck disable=SC2086
  run "$task-supervised$tag" ${cells[$task-supervised]} &
  # shellcheck disable=SC2086
  run "$task-full$tag" ${cells[$task-full]} &
  wait
done
