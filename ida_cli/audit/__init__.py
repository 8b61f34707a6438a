"""Error-localization audits on answered trees (docs/spec.md §3).

- `localize.py` the orders that find a tree's culprit (a wrong node whose children are right),
                asking an oracle one node at a time; pure, never prints.
- `run.py`      the audit commands' cores: load trees, score nodes, localize, store the results.
"""
