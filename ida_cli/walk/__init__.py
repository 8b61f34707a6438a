"""The walker: how one question becomes a tree (docs/spec.md §2).

- `walker.py`    `Walker`: fan-out, fan-in, the strategy hook that picks which subquestion is
                 recursed on, ML answering the rest; the primed overseer H' (§2.3).
- `frontier.py`  many walks at once as coroutines, one batched ML call per kind per step.
- `overseer.py`  the overseer H behind one interface (scripted expert, ML imitating H, a person).
- `ports.py`     what the walker needs of ML and of the adversary (`ML`, `Scorer` protocols) and
                 the checks that refuse a strategy whose inputs are missing.
- `strategies.py` the recursion strategies and question selection as pure functions over score
                 arrays with an explicit `numpy.random.Generator` (Gumbel-max, Bernoulli, α schedule).

Below this package: `ida_cli.vocabulary`, `ida_cli.tasks`, `ida_cli.errors`. The walker knows no
database, no torch and no training constant: its callers hand it ML, the scorer and a clock.
"""
