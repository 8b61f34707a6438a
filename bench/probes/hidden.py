"""Does ML's own hidden state know where ML is wrong, beyond ML's confidence (issue 4)? On eval
contexts only (contexts ML never trained on), fit a logistic regression of "ML's answer is wrong"
on ML's final hidden state where it predicts the answer's first token, plus its log p, with
cross-fitting over contexts (5 folds: each node is predicted by a fit that never saw its context),
and compare its AUROC with ML's confidence's on the same nodes.

    bench/probes/hidden.py DB [EXTRA]

EXTRA (default 2000) eval questions on fresh contexts are first added to a copy of the database
(4 to a context); the original is not written. Prints one JSON line."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from adversary.metrics import auroc, auroc_gap
from adversary.probe import features
from bench.common import eval_nodes, with_eval_questions
from ida_cli.learn.versions import load_model
from ida_cli.model.decode import input_states
from ida_cli.model.vocab import input_tokens
from ida_cli.tasks import get_task


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    src = Path(sys.argv[1])
    extra = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    t0 = time.perf_counter()
    tmp, store, task_name = with_eval_questions(src, "probe-hidden-", extra)
    task = get_task(task_name)
    ml = load_model(store, task_name)
    assert ml is not None
    nodes, groups = eval_nodes(store, task_name)
    answers = ml.answer(nodes)
    errors = np.array([a != task.truth(c, q) for (c, q), (a, _) in zip(nodes, answers, strict=True)])
    logp = np.array([lp for _, lp in answers])
    h = input_states(ml, [(c, input_tokens(task, "answer", q)) for c, q in nodes])
    g = np.asarray(groups)
    results = {}
    # the product's probe (adversary.probe) reads the same features; this one was measured with
    # scikit-learn's default C = 1.0, as the figures in bench/RESULTS.md were
    for name, x in (("logp", features(h[:, :0], logp)), ("hidden+logp", features(h, logp))):
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
