"""Experiments: scripted active learning end to end, and comparing strategies (docs/spec.md §5).

- `run.py`    `ida experiment`: options, the experiment row, the loop of cycles, resuming.
- `cycle.py`  one cycle phase by phase: a round, ML's training, the adversary's, the eval point.
- `report.py` `ida report`: HC@p, final accuracy, learning-curve plots.
- `demo.py`   `make demo`: the main job through the real command line.
"""
