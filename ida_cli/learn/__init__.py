"""Learning and versions: the alternating `ida train model` / `ida train adversary`, and `ida eval`.

- `data.py`        the training rows gathered from the store (`Rows`, the held-out contexts).
- `training.py`    `ida train model`: ML on every amplified answer and overseer step.
- `runner.py`      its torch side: examples, network, loop, checkpoint.
- `distill.py`     extra targets from the distillation walk, ML in every role (§2.4).
- `adversarial.py` `ida train adversary` and the adversary served to the walker as a `Scorer`.
- `versions.py`    which model / adversary version is current; loading it safely.
- `checkpoints.py` checkpoint files beside the database and, on PostgreSQL, in the store.
- `prune.py`       `ida prune`: delete old checkpoints.
- `evaluate.py`    `ida eval`: accuracy on the eval split, AUROC of the adversary.

Builds on `ida_cli.model` (ML), `adversary/` (Adv), `ida_cli.walk` and `ida_cli.store`.
"""
