#!/usr/bin/env bash
# Issue 5: the strategy grid on one more task, as bench/wildcard_grid.sh did for wildcard (step
# budgets, two chains of experiments at a time, one torch thread each). Databases, curves, logs and
# the report go to bench/out/grid-$TASK/.
# Usage: TASK=unionfind TRAIN_STEPS=500 ADV_STEPS=150 bench/task_grid.sh
#   CHAIN1 / CHAIN2: the runs of each chain, in order (default below); a finished run is skipped
#   and an unfinished one resumes, so the script can be rerun after a kill.
cd "$(dirname "$0")/.."
task=${TASK:?TASK=unionfind|shortpath|...}
out=bench/out/grid-$task
mkdir -p "$out"
common="OUT=$out PLOTS=$out IDA_THREADS=1 TASKS=$task SEEDS=1 TRAIN_STEPS=${TRAIN_STEPS:-500} ADV_STEPS=${ADV_STEPS:-150} EVAL_QUESTIONS=${EVAL_QUESTIONS:-200}"
P="--temperature 0.05 --confidence -0.15 --max-cycles ${CYCLES:-20}"
run() {  # run NAME STRATEGY BUDGET PER_ROUND TAG EXTRA...
  local name=$1 strategy=$2 budget=$3 per=$4 tag=$5
  shift 5
  env $common STRATEGIES="$strategy" BUDGET="$budget" PER_ROUND="$per" TAG="$tag" EXTRA="$*" bench/strategies.sh > "$out/run-$name.log" 2>&1
}
chain() {
  for r in $1; do
    case $r in
      adversary) run adversary adversary 6000 "${PER_ROUND:-40}" primed $P ;;
      bernoulli) run bernoulli bernoulli 6000 "${PER_ROUND:-40}" primed $P --alpha -0.15 ;;
      random) run random random 6000 "${PER_ROUND:-40}" primed $P ;;
      uncertainty) run uncertainty uncertainty 6000 "${PER_ROUND:-40}" primed $P ;;
      none) run none none 6000 "${PER_ROUND:-40}" primed $P ;;
      full) run full full 6000 "${PER_ROUND:-40}" "" --max-cycles "${CYCLES:-20}" ;;
      supervised) run supervised supervised 3000 150 "" ;;
    esac
  done
}
chain "${CHAIN1:-adversary full uncertainty}" & chain "${CHAIN2:-supervised random bernoulli none}" & wait
