"""A round: `ida round` amplifies C training questions and stores their trees (docs/spec.md §2).

- `options.py`  `RoundOptions` (checked before anything is opened), the strategy objects they
                name, `RoundResult`.
- `run.py`      `run_round`: pick the questions, walk them with `ida_cli.walk`, store the trees.
- `pick.py`     `--pick adversary`: which unlabelled questions to amplify, by the adversary's score.
- `parallel.py` `--workers N` / `--ray ADDRESS`: the dispatcher; only the parent writes.
- `worker.py`   the worker side: walk a chunk of trees into an in-memory store.
- `ray.py`      the chunks as Ray tasks (the optional `ray` extra).

The order of a round: options.py → run.py → (pick.py) → parallel.py → worker.py, never back up.
"""
