"""`--sub-share`: a drawn answer row of a subquestion stays in ML's batch with that chance, a root
question's always; the stored rows say which answers are roots; the flag is checked before
anything is written and leaves the committed grid keys alone at its default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ida_cli.errors import UsageError
from ida_cli.experiment.options import ExperimentOptions
from ida_cli.learn.continual import Learner, LearnerConfig
from ida_cli.model.batch import Example
from ida_cli.model.vocab import Vocab
from tests.helpers import Run


def seq(kinds: str) -> list[Example]:
    # r: a root's answer, s: a subquestion's, o: a fan-out step
    return [
        Example(0, [[4]], [4, 5], [5], "fan_out:x" if k == "o" else "answer:x", root=k == "r") for k in kinds
    ]


def test_roots_always_stay_and_subquestions_stay_at_the_share() -> None:
    ml = Learner.fresh("wildcard", Vocab.build({"a"}), LearnerConfig(seed=4, sub_share=0.25))
    drawn = [seq("rsso"), seq("ss")] * 500
    kept, lengths = ml._thin(drawn)
    rows = [ex for s in kept for ex in s]
    assert sum(ex.root for ex in rows) == 500
    assert sum(ex.kind.startswith("fan_out") for ex in rows) == 500  # the step share is 1
    assert 0.2 < sum(not ex.root and ex.kind.startswith("answer") for ex in rows) / 2000 < 0.3
    assert len(kept) < len(drawn) and len(lengths) == len(kept)


def test_a_full_sub_share_draws_as_before() -> None:
    """At 1 the step share thins exactly as it did before the flag: the same rows from the same seed."""
    drawn = [seq("sosr"), seq("oo"), seq("s")] * 50
    a = Learner.fresh("wildcard", Vocab.build({"a"}), LearnerConfig(seed=4, step_share=0.5))
    b = Learner.fresh("wildcard", Vocab.build({"a"}), LearnerConfig(seed=4, step_share=0.5, sub_share=1.0))
    assert a._thin(drawn) == b._thin(drawn)
    assert all(
        ex.kind.startswith("answer") for s in a._thin(drawn)[0] for ex in s if not ex.kind.startswith("fan")
    )


def test_the_stored_rows_mark_each_trees_root(ida: Run, db: Path) -> None:
    import duckdb

    from ida_cli.store.training_rows import training_rows

    assert (
        ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "5", "--seed", "1").code
        == 0
    )
    assert ida("round", "--strategy", "full", "--questions", "5").code == 0
    with duckdb.connect(str(db), read_only=True) as con:
        rows = training_rows(con, "wildcard", False)
        roots = {tuple(r) for r in con.execute("SELECT context_id, question FROM questions").fetchall()}
        supervised = training_rows(con, "wildcard", True)
    marked = [rows.items[i] for i in sorted(rows.roots)]
    assert len(marked) == 5 and all(mode == "answer" for _, _, mode, _, _, _ in marked)
    assert {(cid, json.dumps(q)) for cid, _, _, q, _, _ in marked} <= {
        (c, json.dumps(json.loads(q))) for c, q in roots
    }
    assert len(rows.items) > 5  # the subquestions' answers and the steps are not roots
    assert supervised.roots == set(range(len(supervised.items)))  # every one a question asked


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"sub_share": 0.0}, "--sub-share must be in (0, 1], e.g. 0.3, not 0.0"),
        ({"sub_share": 1.5}, "--sub-share must be in (0, 1], e.g. 0.3, not 1.5"),
        (
            {"sub_share": 0.5, "schedule": "cycles"},
            "--sub-share thins the online schedule's batches: leave it out with --schedule cycles",
        ),
    ],
)
def test_bad_sub_shares_are_refused(flags: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as e:
        ExperimentOptions(task="wildcard", size=8, strategy="full", budget=500, seed=1, **flags).check()  # type: ignore[arg-type]
    assert str(e.value) == message


def test_a_grid_cell_keeps_its_key_at_the_default_and_a_report_names_the_share() -> None:
    from ida_cli.experiment.report import variant
    from ida_cli.grid.spec import Cell

    base = {"per_round": 160, "budget": 500}
    plain = Cell("wildcard", "full", 1, base)
    assert Cell("wildcard", "full", 1, {**base, "sub_share": 1.0}).key == plain.key
    assert Cell("wildcard", "full", 1, {**base, "sub_share": 0.3}).key != plain.key
    online = {"strategy": "full", "schedule": "online", "step_share": None}
    assert variant({**online, "sub_share": 0.3}) == "full (subs=0.3)"
    assert variant({**online, "sub_share": 1.0}) == variant(online) == "full"
