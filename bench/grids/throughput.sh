#!/bin/sh
# Issue 23: the cells an hour of --workers 1 and 2 on the idle machine (bench/topics/experiments.md).
cd "$(dirname "$0")/../.."
export IDA_THREADS=1
rm -rf /tmp/tp1 /tmp/tp2; mkdir -p /tmp/tp1 /tmp/tp2
s=$(date +%s.%N)
.venv/bin/python -m ida_cli grid bench/grids/headline.toml --tasks wildcard --strategies adversary --seeds 6-9 --workers 1 --threads 1 --results /tmp/tp1/res --work /tmp/tp1/work > /tmp/tp1.out 2> /tmp/tp1.err
e=$(date +%s.%N); echo "workers1 $(echo "$e - $s" | bc)" >> /tmp/tp.log
s=$(date +%s.%N)
.venv/bin/python -m ida_cli grid bench/grids/headline.toml --tasks wildcard --strategies adversary --seeds 6-9 --workers 2 --threads 1 --results /tmp/tp2/res --work /tmp/tp2/work > /tmp/tp2.out 2> /tmp/tp2.err
e=$(date +%s.%N); echo "workers2 $(echo "$e - $s" | bc)" >> /tmp/tp.log
