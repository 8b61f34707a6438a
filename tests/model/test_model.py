"""ML with tiny configs: training records a version, checkpoints are verified, decoding is batched
and agrees with one-at-a-time decoding and with the teacher-forced exact match."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import numpy as np

from tests.helpers import TINY, Run, ida_popen, ida_subprocess, setup, sigint_state


def test_train_supervised_records_a_version_and_eval_reports(ida: Run, db: Path) -> None:
    setup(ida)
    r = ida("train", "model", "--supervised", *TINY, "--json")
    assert r.code == 0, r.stderr
    doc = r.json()
    assert doc["version"] == 1 and doc["supervised"] is True and doc["data"]["answer"] == 200
    assert doc["metrics"]["steps"] == 10 and 0 <= doc["metrics"]["held_accuracy"] <= 1
    ck = Path(doc["checkpoint"])
    assert ck.is_file() and ck.parent == db.with_name(db.name + ".checkpoints")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT version, status, sha256 FROM versions").fetchall() == [
            (1, "ready", doc["sha256"])
        ]
    e = ida("eval", "--json")
    assert e.code == 0, e.stderr
    ev = e.json()
    assert (ev["task"], ev["split"], ev["model_version"], ev["questions"]) == ("wildcard", "eval", 1, 40)
    assert set(ev["by_kind"]) == {"sum"} and ev["fan_out_steps"] > 0 and ev["fan_in_steps"] > 0
    assert ida("train", "model", "--supervised", *TINY, "--json").json()["version"] == 2
    assert ida("status", "--json").json()["versions"] == {"model": 2}


def test_amplified_training_uses_trees_and_steps(ida: Run) -> None:
    setup(ida, "permutation", 16)
    ida("round", "--questions", "4")
    doc = ida("train", "model", *TINY, "--json").json()
    data = doc["data"]
    assert data["answer"] > 4 and data["fan_out"] > 0 and data["fan_in"] > 0


def test_training_bad_input(ida: Run, db: Path) -> None:
    ida("init")
    r = ida("train", "model", "--task", "wildcard", *TINY)
    assert (r.code, r.stderr) == (
        2,
        "error: no amplified trees for task wildcard to train on: run `ida round "
        "--task wildcard` first (or train the baseline with --supervised)\n",
    )
    ida(
        "questions",
        "generate",
        "--task",
        "wildcard",
        "--size",
        "8",
        "--count",
        "8",
        "--seed",
        "1",
        "--split",
        "eval",
    )
    r = ida("train", "model", "--supervised", *TINY)
    assert r.code == 2
    assert r.stderr.startswith("error: task wildcard has only eval questions, which are never trained on")
    r = ida("train", "model", "--supervised", "--resume", *TINY)
    assert r.code == 2
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM versions").fetchone() == (0,)
    assert not db.with_name(db.name + ".checkpoints").exists()


def test_eval_refuses_tampered_missing_or_foreign_checkpoints(ida: Run, db: Path) -> None:
    setup(ida)
    ck = Path(ida("train", "model", "--supervised", *TINY, "--json").json()["checkpoint"])
    data = ck.read_bytes()
    ck.write_bytes(data[:-10] + b"0123456789")
    r = ida("eval")
    assert (r.code, r.stderr) == (
        2,
        f"error: checkpoint {ck} does not match its recorded SHA-256 (changed or "
        "truncated): retrain with `ida train model`\n",
    )
    ck.write_bytes(data[: len(data) // 2])
    assert "does not match its recorded SHA-256" in ida("eval").stderr
    ck.unlink()
    r = ida("eval")
    assert (r.code, r.stderr) == (2, f"error: checkpoint {ck} is missing: retrain with `ida train model`\n")
    ida(
        "questions",
        "generate",
        "--task",
        "permutation",
        "--size",
        "8",
        "--count",
        "8",
        "--seed",
        "1",
        "--split",
        "eval",
    )
    r = ida("eval", "--task", "permutation", "--version", "1")
    assert (r.code, r.stderr) == (
        2,
        "error: model v1 was trained for task wildcard, not permutation: train one "
        "with `ida train model --task permutation`\n",
    )
    r = ida("eval", "--task", "permutation")
    assert (
        r.stderr
        == "error: no trained model for task permutation: run `ida train model --task permutation` first\n"
    )


def test_batched_decoding_agrees_with_single_calls_and_teacher_forcing(ida: Run, db: Path) -> None:
    from ida_cli.learn.versions import load_model
    from ida_cli.model.batch import Example
    from ida_cli.model.train import evaluate
    from ida_cli.model.vocab import answer_tokens, context_slots, input_tokens
    from ida_cli.store import Store
    from ida_cli.tasks import get_task

    setup(ida, "permutation", 400)
    ida(
        "train",
        "model",
        "--supervised",
        "--layers",
        "1",
        "--width",
        "32",
        "--max-steps",
        "60",
        "--eval-every",
        "30",
        "--json",
    )
    ml = load_model(Store(db), "permutation")
    assert ml is not None
    task = get_task("permutation")
    rng = np.random.default_rng(0)
    items = []
    for _ in range(6):
        ctx = task.generate_context(8, rng)
        items += [(ctx, q) for q in task.generate_questions(ctx, 5, rng)]
    batched = ml.answer(items)
    single = [ml.answer([it])[0] for it in items]
    assert [a for a, _ in batched] == [a for a, _ in single]
    assert np.allclose([lp for _, lp in batched], [lp for _, lp in single], atol=1e-4)
    exs = [
        Example(
            i // 5,
            [ml.vocab.ids(s) for s in context_slots(task, c)],
            ml.vocab.ids(input_tokens(task, "answer", q)),
            ml.vocab.ids(answer_tokens(task, q, task.truth(c, q))),
        )
        for i, (c, q) in enumerate(items)
    ]
    _, hits = evaluate(ml.net, exs, 8)
    assert hits == [a == task.truth(c, q) for (a, _), (c, q) in zip(batched, items, strict=True)]
    steps = ml.fan_out([items[0]])
    assert len(steps) == 1


def test_ctrl_c_saves_and_resume_continues(ida: Run, db: Path) -> None:
    # permutation: this tiny model never reaches 100% held-out, so the run cannot end by itself
    # before the signal (wildcard did, on a loaded machine, and exited 0)
    setup(ida, "permutation", 400)
    args = [
        "train",
        "model",
        "--supervised",
        "--layers",
        "1",
        "--width",
        "32",
        "--batch",
        "8",
        "--eval-every",
        "5",
        "--minutes",
        "5",
        "--patience",
        "1000",
    ]
    proc = ida_popen(db, *args)
    partial = db.with_name(db.name + ".checkpoints") / "model-v1.partial.pt"
    deadline = time.monotonic() + 60
    while not partial.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert partial.exists()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"training went on a minute after Ctrl-C; {sigint_state()}") from None
    assert proc.returncode == 130, err
    assert "continue with `ida train model --resume`" in err
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM versions").fetchall() == [("interrupted",)]
    from ida_cli.model.train import load_checkpoint

    # the step reached before the signal varies with the machine's load: past a fixed
    # --max-steps 40, the resumed run would have nothing left to do. Resume for 10 more
    saved = int(load_checkpoint(partial, None)["step"])
    assert saved >= 5
    until = saved + 10
    r = ida_subprocess(db, *args[:-4], "--patience", "1000", "--max-steps", str(until), "--resume", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["version"] == 1 and doc["metrics"]["steps"] == until
    assert not partial.exists()


def test_user_task_out_of_vocabulary_text_is_refused(ida: Run, tmp_path: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text(
        "".join(json.dumps({"question": f"add {i} and {i}", "truth": str(2 * i)}) + "\n" for i in range(1, 6))
    )
    assert ida("questions", "import", str(train)).code == 0
    r = ida("train", "model", "--supervised", "--task", "user", *TINY, "--json")
    assert r.code == 0, r.stderr
    evalf = tmp_path / "eval.jsonl"
    evalf.write_text(json.dumps({"question": "add 3 and Ω", "truth": "?", "split": "eval"}) + "\n")
    assert ida("questions", "import", str(evalf)).code == 0
    r = ida("eval", "--task", "user")
    assert r.code == 2
    assert r.stderr == (
        "error: 'Ω' is not in the model's vocabulary: retrain with `ida train model` after "
        "importing questions that use it\n"
    )


def test_the_steps_after_the_last_evaluation_are_judged_too() -> None:
    # A time or step budget that ends between evaluations: the final (annealed) weights compete
    # with the best evaluated ones, and win a tie. Before, a 21-s experiment cycle kept the weights
    # of its one evaluation at the end of the warmup.
    import torch

    from ida_cli.model.batch import Example
    from ida_cli.model.net import ModelConfig, Net
    from ida_cli.model.train import TrainConfig, train

    torch.manual_seed(0)
    net = Net(ModelConfig(vocab_size=16, width=16, heads=2, layers=1))
    examples = [Example(g, [[4 + g % 3]], [5, 6 + g % 4], [10 + g % 4]) for g in range(24)]
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    cfg = TrainConfig(batch=4, per_seq=2, max_steps=7, eval_every=5, patience=99, warmup=1)
    outcome, best_state = train(net, opt, examples[:20], examples[20:], cfg)
    assert [h["step"] for h in outcome.history] == [5, 7]
    assert outcome.stopped == "steps"
    first, last = (h["held_accuracy"] for h in outcome.history)
    assert outcome.best_step == (7 if last >= first else 5)
    if outcome.best_step == 7:
        assert all(torch.equal(v, net.state_dict()[k]) for k, v in best_state.items())


def test_a_warm_start_continues_the_optimizer_without_a_rate_restart(ida: Run, db: Path) -> None:
    import torch

    setup(ida, count=60)
    assert ida("train", "model", "--supervised", *TINY).code == 0
    r = ida("train", "model", "--supervised", "--warm", *TINY, "--json")
    assert r.code == 0, r.stderr
    folder = db.with_name(db.name + ".checkpoints")
    v1 = torch.load(folder / "model-v1.pt", weights_only=True)
    v2 = torch.load(folder / "model-v2.pt", weights_only=True)
    assert v2["vocab"] == v1["vocab"] and v2["train_config"]["warmup"] == 0
    steps = [float(s["step"]) for s in v2["optimizer"]["state"].values()]
    assert steps and min(steps) == 20  # AdamW's own count went on from v1's 10 steps


def test_train_model_goes_on_from_the_latest_version_unless_fresh(ida: Run, db: Path) -> None:
    import torch

    setup(ida, count=60)
    first = ida("train", "model", "--supervised", *TINY, "--json")
    assert first.json()["metrics"]["start"] == "from scratch"
    again = ida("train", "model", "--supervised", *TINY)  # the default: the same recipe goes on
    assert again.code == 0 and again.stdout.rstrip().endswith("; continued from v1)")
    fresh = ida("train", "model", "--supervised", "--fresh", *TINY, "--json")
    assert fresh.json()["metrics"]["start"] == "from scratch"
    folder = db.with_name(db.name + ".checkpoints")
    adam = [
        min(
            float(s["step"])
            for s in torch.load(folder / f"model-v{v}.pt", weights_only=True)["optimizer"]["state"].values()
        )
        for v in (1, 2, 3)
    ]
    assert adam == [10, 20, 10]
    # another shape is another recipe: from scratch, saying why; --warm insists and is refused
    wider = [*TINY[:2], "--width", "64", *TINY[4:]]
    r = ida("train", "model", "--supervised", *wider, "--json")
    assert r.json()["metrics"]["start"] == "from scratch (--width 64 differs from v3's 32)"
    r = ida("train", "model", "--supervised", "--warm", *TINY)
    assert (r.code, r.stderr) == (
        2,
        "error: --warm: --width 32 differs from v4's 64; train with --fresh\n",
    )
    r = ida("train", "model", "--supervised", "--warm", "--fresh", *TINY)
    assert (r.code, r.stderr) == (2, "error: --fresh starts from scratch: drop --warm / --resume\n")


def test_a_damaged_warm_parent_leaves_no_version_behind(ida: Run, db: Path) -> None:
    setup(ida, count=60)
    assert ida("train", "model", "--supervised", *TINY).code == 0
    parent = db.with_name(db.name + ".checkpoints") / "model-v1.pt"
    parent.write_bytes(parent.read_bytes()[:200])
    r = ida("train", "model", "--supervised", "--warm", *TINY)
    assert r.code == 2 and "retrain with `ida train model`" in r.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT version, status FROM versions").fetchall() == [(1, "ready")]
