#!/bin/bash
# Paired rounds, the code before (a worktree) against this checkout, on fresh copies of one database:
# CPU per round, and the trees (overseer calls, accuracy, ML calls) must agree. Seventeenth session.
# Usage: bench/perf/logp_cache.sh DB OLD_CHECKOUT  (a shortpath database with a model and an adversary,
# e.g. a grid cell's; a worktree of the code before). Results: bench/out/logp_cache_rounds.jsonl
SRC=$(realpath "${1:?give a database}"); OLD=$(realpath "${2:?give the old checkout}")
HERE=$(cd "$(dirname "$0")/../.." && pwd); cd "$HERE"
out=bench/out/logp_cache_rounds.jsonl; mkdir -p bench/out; : > $out
for rep in 1 2 3; do
  for side in old new; do
    d=/tmp/pair-$side; rm -rf $d; mkdir -p $d
    cp $SRC $d/db.duckdb; cp -r $SRC.checkpoints $d/db.duckdb.checkpoints
    [ $side = old ] && dir=$OLD || dir=$HERE
    (cd $dir &&
    /usr/bin/time -f "%U %S %e %M" -o $d/time env IDA_THREADS=1 PYTHONPATH=$dir $HERE/.venv/bin/python -m ida_cli --db $d/db.duckdb round --task shortpath --strategy adversary --questions 320 --temperature 0.05 --confidence -0.15 --seed 99 --json > $d/round.json 2> $d/err)
    python3 -c "
import json,sys
r=json.load(open('$d/round.json')); t=open('$d/time').read().split()
print(json.dumps({'rep':$rep,'side':'$side','cpu':float(t[0])+float(t[1]),'wall':float(t[2]),'rss_kb':int(t[3]),'overseer_calls':r.get('overseer_calls'),'accuracy':r.get('accuracy') or r.get('correct'),'model_calls':r.get('model_calls')}))" >> $out
  done
done
