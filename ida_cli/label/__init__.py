"""`ida label`: a person as the overseer H, at the terminal, crash-safe and resumable.

The session walks training questions with the ordinary walker (`walk.walker.Walker`, strategy, ML and
adversary as in `ida round`); its overseer is `HumanOverseer`, whose fan_out and fan_in draw a screen
and read keys. With no trained model the walk is pure HCH (strategy full).

Keys (hints always on screen):
  a answer · s ask one or two subquestions ("Q1 ; Q2") · ⏎ or y accept ML's suggestion ·
  k skip (optional reason) · f flag (optional reason) · u undo · c the whole context · ? help · q quit.
Typed answers and subquestions go through the task's parsers (free text for the user task); a bad
one is explained on screen and asked again, and nothing is stored. A subquestion equal to the
question or to one above it in the tree is refused (it would loop), as are more than two at once.

Rounds and items. A label round is a `rounds` row with oracle "human", the annotator in its params,
its strategy and seed. The questions it takes up are `label_items` rows (migration 3) in order:
open → done (tree stored), skipped, or returned (given back to the pool when the skip before it
was undone). The next question is a uniform draw from the available pool (no tree, not open for
anyone, not skipped by this annotator) with `default_rng([seed, round, position])`. Each item pins
the model and adversary versions it was started with, so a resumed tree sees the same ML answers
and scores. `ida label` resumes the annotator's newest open round for the task (and strategy, when
given); --limit N stops after N questions finished or skipped in this session.

Crash safety by replay. Every step the person gives is one `actions` row, committed in its own
short write transaction before the walker sees it: actor "human:NAME", kind fan_out/fan_in, step,
result {"answer": A} / {"ask": [...]}, created_at, seconds spent on the screen, session_id, and a
note {"round", "item", "question", "node", "path", "transcript" (fan-in), "accepted", "ml"}; its
tree_id and node_id stay NULL while the tree is open. Nothing is held between keystrokes, so
`ida status` and `ida train model` run meanwhile from another terminal. To resume (after quit,
Ctrl-C, a closed terminal or kill -9) the item is walked again from its root with the same seed
(the same per-tree Gumbel draws) and pinned models, and each overseer call is answered from the
item's stored steps in order (checked against the node's question and transcript) until they run
out; then the person is asked, at the same node. A kill -9 loses at most the line being typed.

Undo never deletes: it appends a record of kind "undo" whose `supersedes` is the undone action's
id (a step, a flag, or the skip of the question just before this one), and the item is walked
again; replay ignores superseded actions. A stored step that the replay no longer reaches (the
pinned model vanished and ML now answers differently) is superseded by a "void" record, and the
person is told. Skips and flags are actions too (result {"skip": reason} / {"flag": reason}).

Finishing a tree. One transaction writes the tree and its nodes with `treestore.write_trees`
(passing the tree with no actions) and then links the item's live steps to it: each step's
tree_id and node_id are set, in the walker's order, which is the order the steps were replayed
or given. So each answer is stored exactly once, and a finished tree's actions are exactly the
steps that built it (what `ida train model` reads). Superseded steps and the undo, skip, flag and
void records keep tree_id NULL; their note names the round, item and question. The tree's
`seconds` is everything the person spent on the item.
"""

from ida_cli.label.options import LabelOptions, Summary
from ida_cli.label.session import LabelSession

__all__ = ["LabelOptions", "LabelSession", "Summary"]
