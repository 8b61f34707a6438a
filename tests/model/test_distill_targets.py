"""`ida train model --distill N`: the distillation walk's root answers as extra targets, kept only
where the adversary is confident (docs/spec.md §2.4)."""

from __future__ import annotations

from tests.helpers import Run


def _setup(ida: Run) -> None:
    assert (
        ida(
            "questions", "generate", "--task", "wildcard", "--size", "8", "--count", "300", "--seed", "2"
        ).code
        == 0
    )
    assert ida("round", "--strategy", "full", "--questions", "12", "--seed", "1").code == 0
    assert ida("train", "model", "--max-steps", "8", "--eval-every", "4").code == 0


def test_distill_targets_are_walked_filtered_and_counted(ida: Run) -> None:
    _setup(ida)
    r = ida("train", "model", "--max-steps", "4")
    assert r.code == 0
    no_adv = ida("train", "model", "--max-steps", "4", "--distill", "20")
    assert no_adv.code == 2
    assert no_adv.stderr.strip() == (
        "error: no trained adversary for task wildcard: run `ida train adversary --task wildcard` first"
    )
    assert ida("train", "adversary", "--max-steps", "6", "--eval-every", "3").code == 0
    # confidence 1.0 keeps only answers the adversary is certain of; a tiny confidence keeps nearly all
    strict = ida(
        "train", "model", "--max-steps", "4", "--distill", "12", "--distill-confidence", "1.0", "--json"
    )
    loose = ida(
        "train", "model", "--max-steps", "4", "--distill", "12", "--distill-confidence", "0.001", "--json"
    )
    assert strict.code == 0 and loose.code == 0
    s, lo = strict.json()["data"]["distill"], loose.json()["data"]["distill"]
    assert s["walked"] == lo["walked"] == 12
    assert s["kept"] <= lo["kept"] <= 12
    assert lo["model_calls"] >= 12  # every root costs ML at least one call, the overseer none
    assert loose.json()["data"]["answer"] >= lo["kept"]


def test_distill_option_errors(ida: Run) -> None:
    r = ida("train", "model", "--supervised", "--distill", "10")
    assert (r.code, r.stderr.strip()) == (
        2,
        "error: --distill adds targets to amplified training: drop --supervised or --distill",
    )
    r = ida("train", "model", "--distill", "10", "--distill-confidence", "1.5")
    assert (r.code, r.stderr.strip()) == (2, "error: --distill-confidence must be in (0, 1], e.g. 0.9")
    r = ida("train", "model", "--distill", "-1")
    assert r.code == 2
    assert r.stderr.strip() == "error: --distill must be 0 (off) or a number of training questions to walk"
