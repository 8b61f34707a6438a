#!/usr/bin/env bash
# Issue 5: the sixth session's wildcard grid (bench/RESULTS.md): step budgets, two experiments at
# a time, one thread each; databases, curves and the report in bench/out/steps/
cd "$(dirname "$0")/../.."
mkdir -p bench/out/steps
common="OUT=bench/out/steps PLOTS=bench/out/steps IDA_THREADS=1 TASKS=wildcard SEEDS=1 PER_ROUND=40 TRAIN_STEPS=200 ADV_STEPS=80 EVAL_QUESTIONS=200"
P="--temperature 0.05 --confidence -0.15 --max-cycles 20"
chain1() {
  env $common STRATEGIES=full BUDGET=6000 EXTRA="--max-cycles 20" bench/grids/strategies.sh > bench/out/steps/run-full.log 2>&1
  env $common STRATEGIES=random BUDGET=6000 EXTRA="$P" TAG=primed bench/grids/strategies.sh > bench/out/steps/run-random-primed.log 2>&1
  env $common STRATEGIES=none BUDGET=6000 EXTRA="$P" TAG=primed bench/grids/strategies.sh > bench/out/steps/run-none-primed.log 2>&1
  env $common STRATEGIES=supervised BUDGET=1500 PER_ROUND=150 bench/grids/strategies.sh > bench/out/steps/run-supervised.log 2>&1
}
chain2() {
  env $common STRATEGIES=adversary BUDGET=6000 EXTRA="$P" TAG=primed bench/grids/strategies.sh > bench/out/steps/run-adv-primed.log 2>&1
  env $common STRATEGIES=bernoulli BUDGET=6000 EXTRA="$P --alpha -0.15" TAG=primed bench/grids/strategies.sh > bench/out/steps/run-bern-primed.log 2>&1
  env $common STRATEGIES=uncertainty BUDGET=6000 EXTRA="$P" TAG=primed bench/grids/strategies.sh > bench/out/steps/run-unc-primed.log 2>&1
  env $common STRATEGIES=adversary SEEDS=2 BUDGET=6000 EXTRA="$P" TAG=primed bench/grids/strategies.sh > bench/out/steps/run-adv-primed-2.log 2>&1
}
chain1 & chain2 & wait
