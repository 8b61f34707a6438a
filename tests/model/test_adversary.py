"""The adversary: metrics, calibration, `ida train adversary`, its place in `ida eval` and rounds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from adversary.metrics import auroc, brier, calibration_error
from adversary.net import Calibrator
from tests.helpers import Run

TINY = ["--layers", "1", "--width", "32", "--batch", "8", "--eval-every", "5", "--max-steps", "10"]


def test_metrics_by_hand() -> None:
    # S near 0 = ML right; very negative = ML wrong. A perfect ranking has AUROC 1.
    assert auroc([-0.9, -0.8, -0.1, 0.0], [True, True, False, False]) == 1.0
    assert auroc([0.0, -0.1, -0.8, -0.9], [True, True, False, False]) == 0.0
    assert auroc([-0.5, -0.5], [True, True]) is None
    assert calibration_error([0.0, 0.0, 1.0, 1.0], [False, False, True, True]) == 0.0
    assert abs(calibration_error([0.5] * 4, [True, False, False, False]) - 0.25) < 1e-9
    assert brier([1.0, 0.0], [True, False]) == 0.0


def test_calibration_is_monotone_and_plain_data() -> None:
    rng = np.random.default_rng(0)
    raw = rng.random(2000)
    errors = rng.random(2000) < raw**2  # true P(wrong) = raw²: raw overstates it
    logps = np.full(2000, -0.5)  # ML's confidence says nothing here
    cal = Calibrator.fit(raw, errors, logps)
    assert all(isinstance(v, float) for v in cal.stack) and len(cal.stack) == 3
    grid = np.linspace(0, 1, 50)
    mapped = cal(grid, np.full(50, -0.5))
    assert np.all(np.diff(mapped) >= -1e-12)
    assert calibration_error(cal(raw, logps), errors) < calibration_error(raw, errors)


def test_the_stack_takes_mls_confidence_where_the_raw_score_misses_it() -> None:
    """On contexts ML never saw its confidence may know what the network does not: the stack,
    fit there, must rank at least as well as either signal alone."""
    rng = np.random.default_rng(1)
    n = 4000
    errors = rng.random(n) < 0.3
    raw = np.clip(0.3 + 0.25 * errors + rng.normal(0, 0.2, n), 0.01, 0.99)  # a weak signal
    logps = np.where(errors, -2.0, -0.2) + rng.normal(0, 0.6, n)  # a strong one
    cal = Calibrator.fit(raw[: n // 2], errors[: n // 2], logps[: n // 2])
    test = slice(n // 2, n)
    both = auroc(-cal(raw[test], logps[test]), errors[test])
    assert both > auroc(-raw[test], errors[test]) and both > auroc(logps[test], errors[test])
    again = Calibrator.from_payload(cal.to_payload())
    assert np.allclose(again(raw[test], logps[test]), cal(raw[test], logps[test]))


def test_each_kind_of_output_gets_its_own_stack() -> None:
    """ML's log p says much of its answers and little of its imitated steps: one stack for both,
    fit mostly on steps, ranks the answers worse than a stack of their own."""
    rng = np.random.default_rng(2)
    n_steps, n_answers = 6000, 1000
    kinds = ["fan_out"] * n_steps + ["answer"] * n_answers
    errors = rng.random(n_steps + n_answers) < 0.3
    signal = np.where(errors, 1.0, 0.0)
    on_answer = np.arange(n_steps + n_answers) >= n_steps
    raw = np.clip(
        0.3 + 0.2 * np.where(on_answer, 0.2, 1.0) * signal + rng.normal(0, 0.1, len(kinds)), 0.01, 0.99
    )
    logps = -np.where(on_answer, 2.0, 0.1) * signal + rng.normal(0, 0.5, len(kinds))
    train = rng.random(len(kinds)) < 0.5
    kind_arr = np.asarray(kinds)
    one = Calibrator.fit(raw[train], errors[train], logps[train])
    per = Calibrator.fit(raw[train], errors[train], logps[train], kind_arr[train].tolist())
    assert set(per.kinds) == {"answer", "fan_out"}
    test = ~train & on_answer
    assert (
        auroc(-per(raw[test], logps[test], "answer"), errors[test])
        > auroc(-one(raw[test], logps[test]), errors[test]) + 0.02
    )
    # per row, and through the payload
    again = Calibrator.from_payload(per.to_payload())
    mixed = kind_arr[~train].tolist()
    assert np.allclose(again(raw[~train], logps[~train], mixed), per(raw[~train], logps[~train], mixed))
    # a kind without a stack of its own falls back to the stack of all
    assert np.allclose(per(raw[:5], logps[:5], "fan_in"), one(raw[:5], logps[:5]))


def test_an_adversary_saved_before_the_stack_keeps_its_isotonic_map() -> None:
    old = Calibrator.from_payload({"calib_x": [0.0, 1.0], "calib_y": [0.0, 0.5]})
    assert np.allclose(old(np.array([0.2, 0.8]), np.array([-9.0, 0.0])), [0.1, 0.4])


def test_another_models_vocabulary_is_translated_to_the_adversarys() -> None:
    from adversary.train import translation

    # a model trained from scratch on other rows: the adversary's tokens keep their ids, new ones
    # read as <unk> (1), never as an index past the adversary's embedding
    adv = ["<pad>", "<unk>", "a", "b"]
    assert translation(adv, adv, 4) is None
    assert translation(["<pad>", "<unk>", "b", "c", "a"], adv, 4).tolist() == [0, 1, 3, 1, 2]
    # saved before the vocabulary was stored: only the size is known
    assert translation(["<pad>", "<unk>", "a", "b", "c"], None, 3).tolist() == [0, 1, 2, 1, 1]
    assert translation(["<pad>", "<unk>", "a"], None, 3) is None


def test_an_untrained_adversary_ranks_as_mls_confidence_and_old_ones_still_load() -> None:
    import torch

    from adversary.net import AdvNet, build
    from ida_cli.model.net import ModelConfig

    cfg = ModelConfig(vocab_size=12, width=16, layers=1, heads=2)
    torch.manual_seed(0)
    net = AdvNet(cfg, confidence_prior=True).eval()
    b, s, t = 6, 2, 5
    slots = torch.randint(1, 12, (b, s, 1))
    seq = torch.randint(1, 12, (b, t))
    pos = torch.arange(t).repeat(b, 1)
    seg = torch.zeros(b, t, dtype=torch.long)
    last = torch.stack([torch.arange(b), torch.full((b,), t - 1)], dim=1)
    logp = torch.tensor([-0.001, -3.0, -0.02, -0.5, -8.0, -0.0001])
    with torch.no_grad():
        z = net(slots, seq, pos, seg, last, logp)
    assert torch.equal(torch.argsort(z), torch.argsort(-logp))  # the less sure ML, the likelier wrong
    assert torch.allclose(torch.sigmoid(z), -logp / (1 - logp), atol=1e-4)
    old = AdvNet(cfg)  # an adversary saved before the prior: no key in its payload, a narrower head
    again = build({"config": cfg.to_dict(), "model": old.state_dict()})
    assert not again.confidence_prior and again.head.in_features == 16 + 2


def test_train_adversary_records_a_version_tied_to_the_model(ida: Run, db: Path) -> None:
    ida(
        "questions",
        "generate",
        "--task",
        "permutation",
        "--size",
        "8",
        "--count",
        "40",
        "--seed",
        "1",
        "--split",
        "eval",
    )
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "60", "--seed", "1")
    r = ida("train", "adversary", "--max-steps", "5")
    assert (r.code, r.stderr) == (
        2,
        "error: no amplified trees for task permutation to train on: run `ida round "
        "--task permutation` first (or train the baseline with --supervised)\n",
    )
    ida("round", "--questions", "6")
    r = ida("train", "adversary", "--max-steps", "5")
    assert (r.code, r.stderr) == (
        2,
        "error: no trained model for task permutation: run `ida train model --task permutation` first\n",
    )
    assert ida("train", "model", *TINY).code == 0
    r = ida(
        "train",
        "adversary",
        "--layers",
        "1",
        "--width",
        "32",
        "--max-steps",
        "10",
        "--eval-every",
        "5",
        "--json",
    )
    assert r.code == 0, r.stderr
    doc = r.json()
    assert (doc["version"], doc["model_version"]) == (1, 1)
    assert doc["data"]["answer"] > 0 and doc["data"]["fan_out"] > 0
    assert set(doc["metrics"]) >= {"auroc", "auroc_uncertainty", "calibration_error", "held_nodes"}
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "SELECT kind, version, model_version, status FROM versions ORDER BY id"
        ).fetchall() == [("model", 1, None, "ready"), ("adversary", 1, 1, "ready")]
    e = ida("eval", "--json").json()
    assert e["adversary_version"] == 1 and e["adversary_nodes"] > 0 and e["warning"] is None
    assert 0 <= e["adversary_calibration_error"] <= 1
    assert 0 <= e["adversary_nodes_wrong"] <= e["adversary_nodes"]
    assert e["adversary_contexts"] == 5  # 40 eval questions, 8 to a context
    # the gap and its interval exist exactly when both AUROCs do (ML both right and wrong somewhere)
    assert (e["adversary_auroc_gap"] is None) == (e["adversary_auroc"] is None)
    if e["adversary_auroc_gap"] is not None:
        assert e["adversary_auroc_gap_low"] <= e["adversary_auroc_gap"] <= e["adversary_auroc_gap_high"]
        assert abs(e["adversary_auroc_gap"] - (e["adversary_auroc"] - e["uncertainty_auroc"])) < 1e-9
    with duckdb.connect(str(db), read_only=True) as con:  # the counts behind the AUROCs are kept
        stored = dict(
            con.execute("SELECT name, value FROM metrics WHERE name LIKE 'adversary_nodes%'").fetchall()
        )
    assert stored == {
        "adversary_nodes": e["adversary_nodes"],
        "adversary_nodes_wrong": e["adversary_nodes_wrong"],
    }
    # a newer model makes the adversary stale: say so and name the command
    assert ida("train", "model", *TINY).code == 0
    r = ida("eval")
    assert r.code == 0
    assert (
        "warning: adversary v1 was trained against model v1, but the current model is v2: run `ida train "
        "adversary --task permutation`"
    ) in " ".join(r.stderr.split())


def test_rounds_with_every_strategy_use_the_trained_pair(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "200", "--seed", "1")
    ida("round", "--questions", "10")
    r = ida("round", "--strategy", "none", "--questions", "2")
    assert (r.code, r.stderr) == (
        2,
        "error: --strategy none needs a trained model: run `ida train model` first "
        "(or use --strategy full)\n",
    )
    ida("train", "model", *TINY)
    r = ida("round", "--strategy", "adversary", "--questions", "2")
    assert r.code == 2 and "ida train adversary" in r.stderr
    ida("train", "adversary", "--layers", "1", "--width", "32", "--max-steps", "5", "--eval-every", "5")
    for strategy in ("none", "random", "uncertainty", "bernoulli", "adversary"):
        r = ida("round", "--strategy", strategy, "--questions", "3", "--seed", "1", "--json")
        assert r.code == 0, (strategy, r.stderr)
        doc = r.json()
        assert doc["strategy"] == strategy and doc["questions"] == 3 and doc["model_calls"] > 0
    with duckdb.connect(str(db), read_only=True) as con:
        scored = con.execute("""SELECT count(*) FROM nodes n JOIN trees t ON t.id = n.tree_id
                                JOIN rounds r ON r.id = t.round_id
                                WHERE r.strategy = 'adversary' AND n.parent_id IS NOT NULL
                                  AND n.score IS NULL""").fetchone()[0]
    assert scored == 0  # every child of an adversary round carries its score


def test_a_damaged_adversary_checkpoint_names_the_command_that_remakes_it(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "60", "--seed", "1")
    ida("round", "--questions", "10")
    ida("train", "model", *TINY)
    ida("train", "adversary", "--layers", "1", "--width", "32", "--max-steps", "5", "--eval-every", "5")
    checkpoint = db.with_name(db.name + ".checkpoints") / "adversary-v1.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    r = ida("round", "--strategy", "adversary", "--questions", "2")
    assert r.code == 2
    assert r.stderr == (
        f"error: checkpoint {checkpoint} does not match its recorded SHA-256 (changed or truncated): "
        "retrain with `ida train adversary`\n"
    )
