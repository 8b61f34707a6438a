"""Does ML disagree with its own one-step amplification where it is wrong (issue 4)? For each eval
node, ML answers the question directly (A) and also amplifies it one level with itself in every
role (ML's fan-out, ML's answers to the subquestions, ML's fan-in: A'). Where A' differs from A,
one of the two is wrong. On eval contexts only, cross-fitted over contexts (5 folds), a logistic
regression of "A is wrong" on the database's trained adversary's score, ML's log p and that
disagreement is compared with the adversary alone and ML's confidence, on the same nodes.

    bench/probes/consistency.py DB [EXTRA]

EXTRA (default 1000) eval questions on fresh contexts are first added to a copy of the database
(4 to a context, seed 7); the original is not written. Prints one JSON line."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from adversary.metrics import auroc, auroc_gap
from bench.common import eval_nodes, with_eval_questions
from ida_cli.learn.adversarial import load_scorer
from ida_cli.learn.distill import distill
from ida_cli.learn.versions import load_model
from ida_cli.tasks import get_task
from ida_cli.vocabulary import UNKNOWN, canonical


def cross_fit(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    p = np.zeros(len(y))
    for train, test in GroupKFold(5).split(x, y, g):
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(x[train], y[train])
        p[test] = lr.predict_proba(x[test])[:, 1]
    return p


def main() -> None:
    src = Path(sys.argv[1])
    extra = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    t0 = time.perf_counter()
    tmp, store, task_name = with_eval_questions(src, "probe-consistency-", extra)
    task = get_task(task_name)
    ml = load_model(store, task_name)
    assert ml is not None
    scorer, _ = load_scorer(store, task_name, ml)
    assert scorer is not None
    nodes, groups = eval_nodes(store, task_name)
    answers = ml.answer(nodes)
    errors = np.array([a != task.truth(c, q) for (c, q), (a, _) in zip(nodes, answers, strict=True)])
    logp = np.array([lp for _, lp in answers])
    t1 = time.perf_counter()
    s = np.array(scorer.score([(c, q, a) for (c, q), (a, _) in zip(nodes, answers, strict=True)], logp))
    t_score = time.perf_counter() - t1
    t1 = time.perf_counter()
    trees = distill(task, [(c, q, None) for c, q in nodes], ml, max_depth=0)
    t_walk = time.perf_counter() - t1
    amplified = [t.root.answer for t in trees]
    differs = np.array(
        [canonical(b) != canonical(a) for b, (a, _) in zip(amplified, answers, strict=True)], dtype=float
    )
    unknown = np.array([b == UNKNOWN for b in amplified], dtype=float)
    leaf = np.array([not t.root.children for t in trees], dtype=float)
    g = np.asarray(groups)
    p_wrong = np.clip(-s, 1e-6, 1 - 1e-6)
    logit = np.log(p_wrong / (1 - p_wrong))
    base = np.stack([logit, logp], axis=1)
    with_d = np.concatenate([base, differs[:, None], unknown[:, None], (differs * leaf)[:, None]], axis=1)
    refit = cross_fit(base, errors, g)
    both = cross_fit(with_d, errors, g)

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 4)

    def interval(gap: tuple[float, float, float] | None) -> list[float] | None:
        return None if gap is None else [round(v, 4) for v in gap]

    gap_conf = auroc_gap(-both, logp, errors, g, np.random.default_rng(0))
    gap_stored = auroc_gap(s, logp, errors, g, np.random.default_rng(0))
    gap_adv = auroc_gap(-both, -refit, errors, g, np.random.default_rng(0))
    print(
        json.dumps(
            {
                "db": str(src),
                "task": task_name,
                "model_version": ml.version,
                "adversary_version": scorer.version,
                "nodes": len(nodes),
                "contexts": len(set(groups)),
                "error_rate": r(float(errors.mean())),
                "disagree_rate": r(float(differs.mean())),
                "wrong_given_disagree": r(float(errors[differs == 1].mean())) if differs.any() else None,
                "wrong_given_agree": r(float(errors[differs == 0].mean())),
                "auroc_confidence": r(auroc(logp, errors)),
                "auroc_adversary": r(auroc(s, errors)),
                "auroc_adversary_refit": r(auroc(-refit, errors)),
                "auroc_with_consistency": r(auroc(-both, errors)),
                "gap_adversary_vs_confidence": interval(gap_stored),
                "gap_vs_confidence": interval(gap_conf),
                "gap_vs_adversary": interval(gap_adv),
                "score_seconds": round(t_score, 1),
                "walk_seconds": round(t_walk, 1),
                "wall": round(time.perf_counter() - t0, 1),
            }
        ),
        flush=True,
    )
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
