#!/usr/bin/env bash
# Issue 5: more seeds for the wildcard grid of bench/grids/wildcard_grid.sh (the same settings, the same
# folder bench/out/steps/, so that `ida report bench/out/steps/wildcard-*.duckdb` gives mean and
# spread over seeds). Two chains at a time, one torch thread each; rerunnable (finished runs are
# skipped, unfinished ones resume).
cd "$(dirname "$0")/../.."
mkdir -p bench/out/steps
common="OUT=bench/out/steps PLOTS=bench/out/steps IDA_THREADS=1 TASKS=wildcard PER_ROUND=40 TRAIN_STEPS=200 ADV_STEPS=80 EVAL_QUESTIONS=200"
P="--temperature 0.05 --confidence -0.15 --max-cycles 20"
run() {  # run STRATEGY SEED EXTRA...
  local strategy=$1 seed=$2
  shift 2
  env $common STRATEGIES="$strategy" SEEDS="$seed" BUDGET=6000 EXTRA="$P $*" TAG=primed bench/grids/strategies.sh \
    > "bench/out/steps/run-$strategy-primed-$seed.log" 2>&1
}
chain1() { run random 2; run bernoulli 2 --alpha -0.15; run random 3; run bernoulli 3 --alpha -0.15; }
chain2() { run adversary 3; run none 2; run uncertainty 2; }
chain1 & chain2 & wait
