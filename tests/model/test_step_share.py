"""`--step-share`: a drawn fan-out or fan-in row stays in ML's batch with that chance, an answer
always; the flag is checked before anything is written and leaves the committed grid keys alone
at its default."""

from __future__ import annotations

import pytest

from ida_cli.errors import UsageError
from ida_cli.experiment.options import ExperimentOptions
from ida_cli.learn.continual import Learner, LearnerConfig
from ida_cli.model.batch import Example
from ida_cli.model.vocab import Vocab


def learner(share: float) -> Learner:
    return Learner.fresh("wildcard", Vocab.build({"a", "b"}), LearnerConfig(seed=4, step_share=share))


def seq(kinds: str) -> list[Example]:
    names = {"a": "answer:x", "o": "fan_out:x", "i": "fan_in:x"}
    return [Example(0, [[4]], [4, 5], [5], names[k]) for k in kinds]


def test_answers_always_stay_and_steps_stay_at_the_share() -> None:
    ml = learner(0.25)
    drawn = [seq("aoioi"), seq("oi"), seq("a")] * 400
    kept, lengths = ml._thin(drawn)
    rows = [ex for s in kept for ex in s]
    assert sum(ex.kind.startswith("answer") for ex in rows) == 800  # every answer
    steps = sum(not ex.kind.startswith("answer") for ex in rows)
    assert 0.2 < steps / 2400 < 0.3
    assert all(kept) and len(kept) < len(drawn)  # a sequence left empty drops out
    assert len(lengths) == len(kept)


def test_a_full_share_never_thins(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 1 the batches are drawn exactly as before the flag: no extra draw from the generator."""
    ml = learner(1.0)
    ml.seqs, ml.lengths = [seq("ao"), seq("ia"), seq("o")], [5, 5, 3]

    def thin(*_: object) -> None:
        pytest.fail("a full share thinned a batch")

    monkeypatch.setattr(Learner, "_thin", thin)
    assert ml.train(2)["steps"] == 2


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"step_share": 0.0}, "--step-share must be in (0, 1], e.g. 0.5, not 0.0"),
        ({"step_share": 1.5}, "--step-share must be in (0, 1], e.g. 0.5, not 1.5"),
        (
            {"step_share": 0.5, "schedule": "cycles"},
            "--step-share thins the online schedule's batches: leave it out with --schedule cycles",
        ),
    ],
)
def test_bad_shares_are_refused(flags: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as e:
        ExperimentOptions(task="wildcard", size=8, strategy="adversary", budget=500, seed=1, **flags).check()  # type: ignore[arg-type]
    assert str(e.value) == message


def test_a_grid_cell_keeps_its_key_at_the_default_share() -> None:
    from ida_cli.grid.spec import Cell

    base = {"per_round": 160, "budget": 500}
    plain = Cell("wildcard", "adversary", 1, base)
    assert Cell("wildcard", "adversary", 1, {**base, "step_share": 1.0}).key == plain.key
    assert Cell("wildcard", "adversary", 1, {**base, "step_share": 0.5}).key != plain.key


def test_the_online_default_is_half_and_older_runs_count_as_whole() -> None:
    from ida_cli.experiment.options import before
    from ida_cli.experiment.report import variant

    online = ExperimentOptions(task="wildcard", size=8, strategy="adversary", budget=500, seed=1)
    cycles = ExperimentOptions(
        task="wildcard", size=8, strategy="adversary", budget=500, seed=1, schedule="cycles"
    )
    online.check()
    cycles.check()  # no share given: nothing to refuse
    assert (online.share(), cycles.share()) == (0.5, 1.0)
    assert before({"schedule": "online"})["step_share"] == 1.0  # stored before the flag existed
    # a report keeps the recipes apart: the headline's pinned 1, the default, a run before the flag
    assert variant({"strategy": "full", "schedule": "online", "step_share": 1.0}) == "full (steps=1)"
    assert variant({"strategy": "full", "schedule": "online", "step_share": None}) == "full"
    assert variant({"strategy": "full", "schedule": "online"}) == "full (steps=1)"
    assert variant({"strategy": "full", "schedule": "cycles", "step_share": None}) == "full"
    assert variant({"strategy": "supervised", "schedule": "online"}) == "supervised"
