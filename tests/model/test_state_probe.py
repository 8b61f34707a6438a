"""The probe of ML's state (adversary.probe): a linear read of ML's final state on held-out
contexts, cross-fitted over contexts, and its place in the calibration stack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adversary.metrics import auroc
from adversary.net import Calibrator
from adversary.probe import StateProbe, cross_fit
from tests.helpers import Run


def _data(n: int = 3000, width: int = 16, seed: int = 0) -> tuple[np.ndarray, ...]:
    # ML's log p says little; one direction of its state says where it is wrong
    rng = np.random.default_rng(seed)
    wrong = rng.random(n) < 0.3
    states = rng.normal(0, 1, (n, width))
    states[:, 3] += 1.5 * wrong
    logps = -rng.exponential(0.5, n) - 0.3 * wrong
    groups = rng.integers(0, 60, n)
    return states, logps, wrong, groups


def test_the_probe_reads_what_log_p_misses_and_round_trips_as_plain_data() -> None:
    states, logps, wrong, groups = _data()
    oof = cross_fit(states, logps, wrong, groups)
    assert oof is not None
    assert auroc(-oof, wrong) > auroc(logps, wrong) + 0.1
    probe = StateProbe.fit(states, logps, wrong)
    assert probe is not None
    again = StateProbe.from_payload(probe.to_payload())
    assert np.allclose(again.logit(states[:5], logps[:5]), probe.logit(states[:5], logps[:5]))
    assert all(isinstance(v, float) for v in probe.to_payload()["coef"])


def test_too_few_nodes_or_one_outcome_give_no_probe() -> None:
    states, logps, wrong, groups = _data(100)
    assert cross_fit(states, logps, wrong, groups) is None  # under MIN_NODES
    states, logps, _, groups = _data()
    assert cross_fit(states, logps, np.zeros(len(logps), bool), groups) is None
    assert StateProbe.fit(states, logps, np.ones(len(logps), bool)) is None


def test_the_stack_reads_the_probe_only_where_it_has_one() -> None:
    states, logps, wrong, groups = _data()
    raw = np.clip(-logps / 3, 0.01, 0.99)  # a raw adversary score no better than log p
    oof = cross_fit(states, logps, wrong, groups)
    assert oof is not None
    kinds = ["answer"] * len(raw)
    cal = Calibrator.fit(raw, wrong, logps, kinds, oof)
    assert set(cal.probe_kinds) == {"answer"}
    with_probe = cal(raw, logps, "answer", oof)
    without = cal(raw, logps, "answer")
    assert auroc(-with_probe, wrong) > auroc(-without, wrong) + 0.1
    # a kind with no probe stack, or NaN where no probe was computed, falls back to the plain stack
    assert np.allclose(cal(raw, logps, "fan_out", oof), cal(raw, logps, "fan_out"))
    assert np.allclose(cal(raw, logps, "answer", np.full(len(raw), np.nan)), without)
    old = Calibrator.from_payload({k: v for k, v in cal.to_payload().items() if k != "calib_probe_kinds"})
    assert np.allclose(old(raw, logps, "answer", oof), without)  # saved before the probe: as before


@pytest.mark.slow  # trains a model that is right on some nodes: minutes on 2 cores
def test_a_trained_adversary_keeps_its_probes_and_skips_them_for_another_model(ida: Run, db: Path) -> None:
    from ida_cli.learn.adversarial import load_scorer
    from ida_cli.learn.versions import load_model
    from ida_cli.store import Store

    # enough training that ML is right on some nodes and wrong on others
    small = ["--layers", "2", "--width", "64", "--batch", "16", "--eval-every", "50", "--max-steps", "150"]
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "960", "--seed", "1")
    assert ida("round", "--questions", "900").code == 0
    assert ida("train", "model", *small).code == 0
    r = ida("train", "adversary", "--layers", "1", "--width", "32", "--max-steps", "5", "--json")
    assert r.code == 0, r.stderr
    store = Store(db)
    ml = load_model(store, "wildcard")
    scorer, _ = load_scorer(store, "wildcard", ml)
    assert scorer is not None
    assert sorted(scorer.probes) == r.json()["metrics"]["probe_kinds"]
    items = [(c, q, a) for (c, q), (a, _) in zip(_nodes(store), ml.answer(_nodes(store)), strict=True)]
    assert "answer" in scorer.probes  # 900 trees: enough held-out answer nodes for a probe
    contexts = [c for c, _, _ in items]
    assert scorer._probe("answer", contexts, _inputs(items), [-0.1] * len(items)) is not None
    ml.version += 1  # another model's states mean something else
    assert scorer._probe("answer", contexts, _inputs(items), [-0.1] * len(items)) is None
    assert len(scorer.score(items)) == len(items)


def _nodes(store: object) -> list[tuple[object, object]]:
    import json

    from ida_cli.store.records import loads

    with store.read() as con:  # type: ignore[attr-defined]
        rows = con.execute(
            "SELECT c.data, q.question FROM questions q JOIN contexts c ON c.id = q.context_id LIMIT 20"
        ).fetchall()
    return [(loads(d), json.loads(q)) for d, q in rows]


def _inputs(items: list[tuple[object, object, object]]) -> list[list[str]]:
    from ida_cli.model.vocab import input_tokens
    from ida_cli.tasks import get_task

    task = get_task("wildcard")
    return [input_tokens(task, "answer", q) for _, q, _ in items]
