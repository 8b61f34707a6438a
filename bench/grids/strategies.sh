#!/usr/bin/env bash
# Issue 5: every strategy of docs/spec.md §2.1 and the supervised baseline, on the tasks at size 8, over
# seeds, with the same budget of overseer calls; then `ida report` per task (table + plot).
# One database per experiment in bench/out/strategies/; rerunning resumes unfinished experiments
# (`ida experiment` is resumable) and skips finished ones.
# Usage: bench/grids/strategies.sh
#   TASKS="wildcard permutation unionfind shortpath assignments" (default: all five)
#   STRATEGIES="adversary bernoulli uncertainty random full none supervised" SEEDS="1 2 3"
#   BUDGET=4000 PER_ROUND=40 TRAIN_MINUTES=1 ADV_MINUTES=0.5 EVAL_QUESTIONS=400
#   EXTRA="--temperature 0.05 --confidence -0.15" TAG=primed: a variant, in its own databases
#   (…-adversary-primed-1.duckdb); `ida report` names it by the flags that differ
#   TRAIN_STEPS=200 ADV_STEPS=80: step budgets per cycle instead of the minutes (a curve that
#   does not depend on the machine's load)
#   OUT=bench/out/strategies (default): where the databases go; `ida report` reads every one there
#   PLOTS=bench (default): where the plot per task goes
set -euo pipefail
cd "$(dirname "$0")/../.."
IDA=".venv/bin/python -m ida_cli"
out=${OUT:-bench/out/strategies}
mkdir -p "$out"
TASKS=${TASKS:-"wildcard permutation unionfind shortpath assignments"}
STRATEGIES=${STRATEGIES:-"adversary bernoulli uncertainty random full none supervised"}
SEEDS=${SEEDS:-"1 2 3"}
for task in $TASKS; do
  for strategy in $STRATEGIES; do
    for seed in $SEEDS; do
      db="$out/$task-$strategy${TAG:+-$TAG}-$seed.duckdb"
      echo "== $task $strategy seed $seed ($(date +%T))"
      $IDA --db "$db" experiment --task "$task" --size 8 --strategy "$strategy" --seed "$seed" \
        --budget "${BUDGET:-4000}" --per-round "${PER_ROUND:-40}" --train-minutes "${TRAIN_MINUTES:-1}" \
        --adversary-minutes "${ADV_MINUTES:-0.5}" --eval-questions "${EVAL_QUESTIONS:-400}" \
        ${TRAIN_STEPS:+--train-steps "$TRAIN_STEPS"} ${ADV_STEPS:+--adversary-steps "$ADV_STEPS"} \
        ${EXTRA:-} --json > "$db.curve.json"
    done
  done
  $IDA report "$out/$task"-*.duckdb --plot "${PLOTS:-bench}/strategies-$task.png"
  $IDA report "$out/$task"-*.duckdb --json > "$out/$task.report.json"
done
