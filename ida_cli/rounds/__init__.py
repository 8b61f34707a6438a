"""A round: `ida round` amplifies C training questions and stores their trees (docs/spec.md §2).

- `options.py`  `RoundOptions` (checked before anything is opened), the strategy objects they
                name, `RoundResult`.
- `common.py`   what the serial round and the parallel one share: the round's walker, its
                transactions, the tally of what it did.
- `run.py`      `run_round`: pick the questions, walk them with `ida_cli.walk`, store the trees.
- `pick.py`     `--pick adversary`: which unlabelled questions to amplify, by the adversary's score.
- `worker.py`   a parallel round's worker side: walk a chunk of trees into an in-memory store.
- `dispatch.py` its parent side: hand out the chunks, take the trees back in order, store them.
- `parallel.py` `--workers N`: the chunks in local processes; `ray.py`: as Ray tasks (`--ray`).

Imports go one way: options → common → worker → dispatch → parallel / ray → run.
"""
