#!/usr/bin/env bash
# Issue 5: the wildcard grid of bench/grids/wildcard_grid.sh at low noise (α' = −0.05 for the primed
# overseer; bernoulli also α = −0.05), on the code as it now is (the adversary with its confidence
# prior), in bench/out/lownoise/. The supervised and full HCH runs of bench/out/steps/ are copied
# in as the baselines (their code path has no adversary). Two chains at a time, one torch thread
# each; rerunnable (finished runs are skipped, unfinished ones resume).
# Usage: bench/grids/lownoise_grid.sh   (CHAIN1 / CHAIN2: "strategy:seed ..." to run, in order)
cd "$(dirname "$0")/../.."
out=bench/out/lownoise
mkdir -p "$out"
for base in supervised-1 full-1; do
  [ -e "$out/wildcard-$base.duckdb" ] || cp "bench/out/steps/wildcard-$base.duckdb" "$out/"
done
common="OUT=$out PLOTS=$out IDA_THREADS=1 TASKS=wildcard PER_ROUND=40 TRAIN_STEPS=200 ADV_STEPS=80 EVAL_QUESTIONS=200"
P="--temperature 0.05 --confidence -0.05 --max-cycles 20"
run() {  # run STRATEGY:SEED
  local strategy=${1%%:*} seed=${1##*:} extra=""
  [ "$strategy" = bernoulli ] && extra="--alpha -0.05"
  env $common STRATEGIES="$strategy" SEEDS="$seed" BUDGET=6000 EXTRA="$P $extra" TAG=lownoise \
    bench/grids/strategies.sh > "$out/run-$strategy-$seed.log" 2>&1
}
chain() { for r in $1; do run "$r"; done; }
chain "${CHAIN1:-bernoulli:2 random:1 bernoulli:3}" & chain "${CHAIN2:-adversary:1 adversary:2 random:2}" & wait
