"""Why is the adversary no better than ML's own confidence at finding ML's errors (issue 4)? Train
the adversary against one experiment database's latest ML, on that database's rows labelled one
way at a time, and compare AUROCs on the nodes of the scripted trees of every eval question.

    bench/probes/adversary.py DB VARIANT STEPS [SEED]

VARIANT (which answer rows, labelled how; the overseer's fan-out / fan-in rows always stay):
  stored    the amplified answers A*, as `ida train adversary` uses them (docs/spec.md §2.2)
  truth     the same rows, each target replaced by its ground truth (an oracle: diagnosis only)
  clean     only the answer rows whose A* equals the truth (what a noise filter could at best keep)
The database and its checkpoints are copied first (the original is not written). Prints one JSON
line: both AUROCs on the same nodes, and how noisy the stored targets were.
PROBE_PRIOR=0 trains the adversary without its confidence prior (adversary.net.AdvNet), as before
the seventh session. PROBE_LAYERS, PROBE_WIDTH (default 2, 128) size its network and PROBE_PATIENCE
(default 4) is how many evaluations, 50 steps apart, may pass without a better held-out Brier.
PROBE_MAX_ROWS (default 20000) is how many stored rows are judged (a uniform sample).
PROBE_EVAL_EXTRA=N first adds N eval questions on fresh contexts to the copy (4 to a context, seed
PROBE_EVAL_SEED, default 7), for a larger sample of contexts; `eval_gap` is the adversary's AUROC
minus ML's confidence's with a 95% bootstrap interval over contexts."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from adversary.metrics import auroc_gap
from bench.common import copy_db, eval_nodes
from ida_cli.learn import adversarial
from ida_cli.learn.data import gather, resolve_task
from ida_cli.learn.evaluate import adversary_quality
from ida_cli.learn.versions import load_model
from ida_cli.project.questions import generate
from ida_cli.store import Store
from ida_cli.tasks import get_task
from ida_cli.vocabulary import canonical


def main() -> None:
    src, variant, steps = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    tmp, db = copy_db(src, "probe-adversary-", checkpoints=True)
    store = Store(db)
    with store.read() as con:
        task_name = resolve_task(con, None)
        size = con.execute("SELECT max(size) FROM questions WHERE split = 'eval'").fetchone()[0]
        own = con.execute("SELECT DISTINCT context_id FROM questions WHERE split = 'eval'").fetchall()
        original = {r[0] for r in own}
    extra = int(os.environ.get("PROBE_EVAL_EXTRA", 0))
    if extra:
        generate(store, task_name, size, extra, int(os.environ.get("PROBE_EVAL_SEED", 7)), "eval", 4)
    with store.read() as con:
        rows = gather(con, task_name, False)
    task = get_task(task_name)
    answer_rows = [r for r in rows.items if r[2] == "answer"]
    noisy = [canonical(task.truth(r[1], r[3])) != canonical(r[5]) for r in answer_rows]
    if variant == "truth":
        rows.items = [(*r[:5], task.truth(r[1], r[3])) if r[2] == "answer" else r for r in rows.items]
    elif variant == "clean":
        bad = {id(r) for r, wrong in zip(answer_rows, noisy, strict=True) if wrong}
        rows.items = [r for r in rows.items if id(r) not in bad]
    elif variant != "stored":
        raise SystemExit(f"unknown variant {variant}")
    adversarial.gather = lambda con, task, supervised: rows  # type: ignore[assignment]
    prior = os.environ.get("PROBE_PRIOR", "1") != "0"
    if not prior:
        from adversary import train as adv_train
        from adversary.net import AdvNet

        adv_train.AdvNet = lambda cfg, confidence_prior=True: AdvNet(cfg, False)  # type: ignore[assignment,misc]
    t0 = time.perf_counter()
    r = adversarial.train_adversary(
        store,
        adversarial.TrainAdvOptions(
            task=task_name,
            minutes=60,
            max_steps=steps,
            seed=seed,
            eval_every=50,
            patience=int(os.environ.get("PROBE_PATIENCE", 4)),
            max_rows=int(os.environ.get("PROBE_MAX_ROWS", 20000)),
            layers=int(os.environ.get("PROBE_LAYERS", 2)),
            width=int(os.environ.get("PROBE_WIDTH", 128)),
        ),
    )
    ml = load_model(store, task_name)
    assert ml is not None
    nodes, groups = eval_nodes(store, task_name)
    decoded: dict[int, list] = {}  # ML decodes the nodes once for both scorings below
    real_answer, real_score = ml.answer, adversarial.AdvScorer.score
    real_load = adversarial.scorer_from_payload

    def answer(items):  # type: ignore[no-untyped-def]
        if id(items) not in decoded:
            decoded[id(items)] = real_answer(items)
        return decoded[id(items)]

    ml.answer = answer  # type: ignore[method-assign]
    scored: list[list[float]] = []

    def score(self, items, logps=None):  # type: ignore[no-untyped-def]
        out = real_score(self, items, logps)
        scored.append(out)
        return out

    adversarial.AdvScorer.score = score  # type: ignore[method-assign]
    quality = adversary_quality(store, task, ml, nodes, groups)
    # the same adversary without its probe of ML's state, on the same nodes: a paired comparison
    adversarial.scorer_from_payload = lambda payload, *a: real_load({**payload, "probes": {}}, *a)
    plain = adversary_quality(store, task, ml, nodes, groups)
    adversarial.scorer_from_payload = real_load
    adversarial.AdvScorer.score = real_score  # type: ignore[method-assign]
    errors = [a != task.truth(c, q) for (c, q), (a, _) in zip(nodes, decoded[id(nodes)], strict=True)]
    probe_gap = auroc_gap(scored[-2], scored[-1], errors, groups, np.random.default_rng(0))
    gap_keys = ("adversary_auroc_gap", "adversary_auroc_gap_low", "adversary_auroc_gap_high")
    before = None
    if extra:  # the same adversary on the database's own eval contexts alone, for comparison
        keep = [i for i, c in enumerate(groups) if c in original]
        q0 = adversary_quality(store, task, ml, [nodes[i] for i in keep], [groups[i] for i in keep])
        before = [q0["adversary_contexts"], round(q0["adversary_auroc"], 3)]
        before += [round(q0["uncertainty_auroc"], 3)] + [round(q0[k], 4) for k in gap_keys]
    print(
        json.dumps(
            {
                "db": str(src),
                "variant": variant,
                "prior": prior,
                "steps": steps,
                "steps_run": r["metrics"]["steps"],
                "layers": int(os.environ.get("PROBE_LAYERS", 2)),
                "width": int(os.environ.get("PROBE_WIDTH", 128)),
                "seed": seed,
                "model_version": ml.version,
                "answer_rows": len(answer_rows),
                "answer_rows_wrong": sum(noisy),
                "train_error_rate": r["metrics"]["ml_error_rate"],
                "held_auroc": round(r["metrics"]["auroc"], 3),
                "held_auroc_uncertainty": round(r["metrics"]["auroc_uncertainty"], 3),
                "held_auroc_answers": r["metrics"].get("auroc_answers"),
                "held_auroc_uncertainty_answers": r["metrics"].get("auroc_uncertainty_answers"),
                "eval_nodes": quality["adversary_nodes"],
                "eval_error_rate": round(quality["ml_node_error_rate"], 4),
                "eval_auroc": round(quality["adversary_auroc"], 3),
                "eval_auroc_uncertainty": round(quality["uncertainty_auroc"], 3),
                "eval_auroc_without_probe": round(plain["adversary_auroc"], 4),
                "eval_gap_probe_vs_without": None if probe_gap is None else [round(v, 4) for v in probe_gap],
                "eval_extra": extra,
                "probe_kinds": r["metrics"].get("probe_kinds"),
                "max_rows": int(os.environ.get("PROBE_MAX_ROWS", 20000)),
                "eval_contexts": quality["adversary_contexts"],
                "eval_gap": [round(quality[k], 4) for k in gap_keys],
                "own_eval_contexts_auroc_conf_gap": before,
                "wall": round(time.perf_counter() - t0, 1),
            }
        ),
        flush=True,
    )
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
