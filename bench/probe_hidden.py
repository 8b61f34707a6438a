"""Does ML's own hidden state know where ML is wrong, beyond ML's confidence (issue 4)? On eval
contexts only (contexts ML never trained on), fit a logistic regression of "ML's answer is wrong"
on ML's final hidden state where it predicts the answer's first token, plus its log p, with
cross-fitting over contexts (5 folds: each node is predicted by a fit that never saw its context),
and compare its AUROC with ML's confidence's on the same nodes.

    bench/probe_hidden.py DB [EXTRA]

EXTRA (default 2000) eval questions on fresh contexts are first added to a copy of the database
(4 to a context); the original is not written. Prints one JSON line."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scratch import copy_db  # bench/scratch.py

from adversary.metrics import auroc, auroc_gap
from ida_cli.evaluate import expert_steps
from ida_cli.model.batch import collate, pack
from ida_cli.model.vocab import input_tokens
from ida_cli.questions import generate
from ida_cli.store import Store
from ida_cli.store.records import loads
from ida_cli.tasks import get_task
from ida_cli.training import resolve_task
from ida_cli.versions import load_model


def hidden(ml, task, nodes) -> np.ndarray:  # type: ignore[no-untyped-def]
    """ML's final (layer-normed) state at the position that predicts each node's first answer token."""
    exs = ml.examples([(c, input_tokens(task, "answer", q)) for c, q in nodes])
    index = {id(ex): i for i, ex in enumerate(exs)}
    out = np.zeros((len(exs), ml.net.cfg.width), dtype=np.float32)
    grabbed: list[torch.Tensor] = []
    hook = ml.net.ln.register_forward_hook(lambda m, i, o: grabbed.append(o))
    try:
        with torch.no_grad():
            seqs = pack(exs, ml.per_seq)
            for c in range(0, len(seqs), 256):
                chunk = seqs[c : c + 256]
                t = collate(chunk, decode=True, bag=ml.net.cfg.bag)
                grabbed.clear()
                ml.net(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"))
                h = grabbed[-1]  # Net.forward applies ln to the sequence positions only
                last = t["last"]
                rows = h[last[:, 0], last[:, 1]].numpy()
                for ex, row in zip([ex for seq in chunk for ex in seq], rows, strict=True):
                    out[index[id(ex)]] = row
    finally:
        hook.remove()
    return out


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    src = Path(sys.argv[1])
    extra = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    tmp, db = copy_db(src, "probe-hidden-", checkpoints=True)
    store = Store(db)
    t0 = time.perf_counter()
    with store.read() as con:
        task_name = resolve_task(con, None)
        size = con.execute("SELECT max(size) FROM questions WHERE split = 'eval'").fetchone()[0]
    if extra:
        generate(store, task_name, size, extra, 7, "eval", 4)
    with store.read() as con:
        evals = con.execute(
            """SELECT c.id, c.data, q.question FROM questions q JOIN contexts c ON c.id = q.context_id
               WHERE q.task = ? AND q.split = 'eval' ORDER BY q.id""",
            [task_name],
        ).fetchall()
    task = get_task(task_name)
    ml = load_model(store, task_name)
    assert ml is not None
    nodes, groups = [], []
    for cid, data, q in evals:
        ctx = loads(data)
        for mode, sq, _, _ in expert_steps(task, ctx, json.loads(q), 10**6):
            if mode == "fan_out":
                nodes.append((ctx, sq))
                groups.append(cid)
    answers = ml.answer(nodes)
    errors = np.array([a != task.truth(c, q) for (c, q), (a, _) in zip(nodes, answers, strict=True)])
    logp = np.array([lp for _, lp in answers])
    h = hidden(ml, task, nodes)
    conf = np.stack([logp, np.log(-np.minimum(logp, 0) + 1e-6)], axis=1)
    g = np.asarray(groups)
    results = {}
    for name, x in (("logp", conf), ("hidden+logp", np.concatenate([h, conf], axis=1))):
        p = np.zeros(len(g))
        for train, test in GroupKFold(5).split(x, errors, g):
            scale = StandardScaler().fit(x[train])
            lr = LogisticRegression(C=1.0, max_iter=2000).fit(scale.transform(x[train]), errors[train])
            p[test] = lr.predict_proba(scale.transform(x[test]))[:, 1]
        results[name] = p
    gap = auroc_gap(-results["hidden+logp"], logp, errors, g, np.random.default_rng(0))
    print(
        json.dumps(
            {
                "db": str(src),
                "model_version": ml.version,
                "nodes": len(nodes),
                "contexts": len(set(groups)),
                "error_rate": round(float(errors.mean()), 4),
                "auroc_confidence": round(auroc(logp, errors) or 0, 4),
                "auroc_logp_refit": round(auroc(-results["logp"], errors) or 0, 4),
                "auroc_hidden": round(auroc(-results["hidden+logp"], errors) or 0, 4),
                "gap_hidden_vs_confidence": None if gap is None else [round(v, 4) for v in gap],
                "wall": round(time.perf_counter() - t0, 1),
            }
        ),
        flush=True,
    )
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
