#!/usr/bin/env bash
# Issue 5: the strategy grid on one more task, as bench/grids/wildcard_grid.sh did for wildcard (step
# budgets, two chains of experiments at a time, one torch thread each). Databases, curves, logs and
# the report go to bench/out/grid-$TASK/.
# Usage: TASK=unionfind TRAIN_STEPS=500 ADV_STEPS=150 bench/grids/task_grid.sh
#   CHAIN1 / CHAIN2: the runs of each chain, in order (default below); a finished run is skipped
#   and an unfinished one resumes, so the script can be rerun after a kill.
#   OUT (default bench/out/grid-$TASK), BUDGET (6000 calls), SUP_BUDGET / SUP_PER_ROUND (the
#   supervised baseline's labelled examples, 3000 / 150), CONF (α' of the primed overseer, and
#   bernoulli's α; default -0.15), PER_ROUND (40), CYCLES (20).
cd "$(dirname "$0")/../.."
task=${TASK:?TASK=unionfind|shortpath|...}
out=${OUT:-bench/out/grid-$task}
mkdir -p "$out"
common="OUT=$out PLOTS=$out IDA_THREADS=1 TASKS=$task SEEDS=1 TRAIN_STEPS=${TRAIN_STEPS:-500} ADV_STEPS=${ADV_STEPS:-150} EVAL_QUESTIONS=${EVAL_QUESTIONS:-200}"
conf=${CONF:--0.15}
budget=${BUDGET:-6000}
P="--temperature 0.05 --confidence $conf --max-cycles ${CYCLES:-20}"
run() {  # run NAME STRATEGY BUDGET PER_ROUND TAG EXTRA...
  local name=$1 strategy=$2 budget=$3 per=$4 tag=$5
  shift 5
  env $common STRATEGIES="$strategy" BUDGET="$budget" PER_ROUND="$per" TAG="$tag" EXTRA="$*" bench/grids/strategies.sh > "$out/run-$name.log" 2>&1
}
chain() {
  for r in $1; do
    case $r in
      adversary) run adversary adversary $budget "${PER_ROUND:-40}" primed $P ;;
      bernoulli) run bernoulli bernoulli $budget "${PER_ROUND:-40}" primed $P --alpha $conf ;;
      random) run random random $budget "${PER_ROUND:-40}" primed $P ;;
      uncertainty) run uncertainty uncertainty $budget "${PER_ROUND:-40}" primed $P ;;
      none) run none none $budget "${PER_ROUND:-40}" primed $P ;;
      full) run full full $budget "${PER_ROUND:-40}" "" --max-cycles "${CYCLES:-20}" ;;
      supervised) run supervised supervised "${SUP_BUDGET:-3000}" "${SUP_PER_ROUND:-150}" "" ;;
    esac
  done
}
chain "${CHAIN1:-adversary full uncertainty}" & chain "${CHAIN2:-supervised random bernoulli none}" & wait
