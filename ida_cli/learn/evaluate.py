"""`ida eval`: exact-match accuracy of ML.answer on the eval split, per task and question kind, and
how well ML imitates the scripted expert's fan-out and fan-in; stored per model version."""

from __future__ import annotations

from typing import Any

from ida_cli.errors import UsageError
from ida_cli.learn.data import resolve_task
from ida_cli.store import Store, questions
from ida_cli.store.questions import QuestionRow
from ida_cli.tasks import get_task
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, Ask, Step

IMITATION_QUESTIONS = 100
IMITATION_STEPS = 4000
ADVERSARY_NODES = 3000


def expert_steps(
    task: Task, context: JSON, question: JSON, limit: int
) -> list[tuple[str, JSON, list[Any], Step]]:
    """Every (mode, question, transcript, step) the scripted expert takes in its full HCH tree."""
    out: list[tuple[str, JSON, list[Any], Step]] = []

    def solve(q: JSON) -> JSON:
        y = task.expert_fan_out(context, q)
        out.append(("fan_out", q, [], y))
        transcript: list[tuple[JSON, JSON]] = []
        while isinstance(y, Ask):
            for sq in y.questions:
                transcript.append((sq, solve(sq) if len(out) < limit else task.truth(context, sq)))
            y = task.expert_fan_in(context, q, transcript)
            out.append(("fan_in", q, list(transcript), y))
        return y.value

    solve(question)
    return out


def evaluate(
    store: Store, task_name: str | None = None, split: str = "eval", version: int | None = None
) -> dict[str, Any]:
    from ida_cli.learn.versions import load_model
    from ida_cli.model.batch import Example
    from ida_cli.model.train import evaluate as teacher_forced
    from ida_cli.model.vocab import answer_tokens, context_slots, input_tokens, step_tokens

    if split not in ("eval", "train"):
        raise UsageError(f"unknown split '{split}': use --split eval or --split train")
    with store.read() as con:
        task_name = resolve_task(con, task_name)
        rows = questions.labelled(con, task_name, split)
        calls = questions.overseer_totals(con, task_name)
    if not rows:
        raise UsageError(
            f"no {split} questions for task {task_name}: run `ida questions generate --task "
            f"{task_name} --split {split} ...`"
        )
    ml = load_model(store, task_name, version)
    assert ml is not None
    task = get_task(task_name)
    strict = task_name == "user"
    slots: dict[int, list[list[int]]] = {}
    answers: list[Example] = []
    steps: list[Example] = []
    for row in rows:
        cid, ctx, question, answer = row.context_id, row.context, row.question, row.truth
        if cid not in slots:
            slots[cid] = [ml.vocab.ids(s, strict) for s in context_slots(task, ctx)]
        kind = task.question_text(question).split()[0] if task.has_expert else "text"
        answers.append(
            Example(
                cid,
                slots[cid],
                ml.vocab.ids(input_tokens(task, "answer", question), strict),
                ml.vocab.ids(answer_tokens(task, question, answer), strict),
                kind,
            )
        )
        if (
            task.has_expert
            and len(steps) < IMITATION_STEPS
            and len({e.group for e in steps}) < IMITATION_QUESTIONS
        ):
            for mode, sq, transcript, y in expert_steps(task, ctx, question, IMITATION_STEPS - len(steps)):
                steps.append(
                    Example(
                        cid,
                        slots[cid],
                        ml.vocab.ids(input_tokens(task, mode, sq, transcript), strict),
                        ml.vocab.ids(step_tokens(task, sq, y), strict),
                        mode,
                    )
                )
    acc, hits = teacher_forced(ml.net, answers, ml.per_seq)
    by_kind: dict[str, list[bool]] = {}
    for ex, ok in zip(answers, hits, strict=True):
        by_kind.setdefault(ex.kind, []).append(ok)
    result: dict[str, Any] = {
        "task": task_name,
        "split": split,
        "model_version": ml.version,
        "questions": len(answers),
        "accuracy": acc,
        "by_kind": {k: sum(v) / len(v) for k, v in sorted(by_kind.items())},
        "overseer_calls": int(calls[0]),
        "primitive_calls": int(calls[1]),
    }
    if steps:
        _, step_hits = teacher_forced(ml.net, steps, ml.per_seq)
        for mode in ("fan_out", "fan_in"):
            got = [ok for ex, ok in zip(steps, step_hits, strict=True) if ex.kind == mode]
            result[f"{mode}_accuracy"] = sum(got) / len(got) if got else None
            result[f"{mode}_steps"] = len(got)
    if task.has_expert:
        nodes, groups = adversary_nodes(task, rows, ADVERSARY_NODES)
        result.update(adversary_quality(store, task, ml, nodes, groups))
    _store_metrics(store, result)
    return result


def adversary_nodes(
    task: Task, rows: list[QuestionRow], limit: int
) -> tuple[list[tuple[JSON, JSON]], list[int]]:
    """Up to `limit` nodes of the scripted trees of eval questions, and each one's context id. The
    questions are taken one per context in turn (every context's first, then every second, ...):
    the nodes of one context share its failure modes, so spreading them over contexts is what makes
    an AUROC on them a measurement rather than a few contexts' anecdote."""
    rank: dict[Any, int] = {}
    ranked = []
    for i, row in enumerate(rows):
        rank[row.context_id] = rank.get(row.context_id, -1) + 1
        ranked.append((rank[row.context_id], i, row))
    nodes: list[tuple[JSON, JSON]] = []
    groups: list[int] = []
    for _, _, row in sorted(ranked, key=lambda t: (t[0], t[1])):
        if len(nodes) >= limit:
            break
        ctx, cid = row.context, row.context_id
        for mode, sq, _, _ in expert_steps(task, ctx, row.question, limit - len(nodes)):
            if mode == "fan_out" and len(nodes) < limit:
                nodes.append((ctx, sq))
                groups.append(cid)
    return nodes, groups


def adversary_quality(
    store: Store, task: Task, ml: Any, nodes: list[tuple[JSON, JSON]], groups: list[Any]
) -> dict[str, Any]:
    """AUROC of −S for ML's errors and the calibration error, on held-out (eval-split) nodes with
    ground truth, beside the same AUROC for ML's own confidence (the uncertainty baseline), and the
    difference of the two with a 95% bootstrap interval over `groups` (the nodes' contexts)."""
    import numpy as np

    from adversary.metrics import auroc, auroc_gap, calibration_error
    from ida_cli.learn.adversarial import load_scorer

    scorer, warning = load_scorer(store, task.name, ml, required=False)
    if scorer is None or not nodes:
        return {}
    answers = ml.answer(nodes)
    errors = [a != task.truth(c, q) for (c, q), (a, _) in zip(nodes, answers, strict=True)]
    logps = [lp for _, lp in answers]
    scores = scorer.score([(c, q, a) for (c, q), (a, _) in zip(nodes, answers, strict=True)], logps)
    # an explicit, fixed generator: `ida eval` twice on one model prints one interval
    gap = auroc_gap(scores, logps, errors, groups, np.random.default_rng(0))
    return {
        "adversary_version": scorer.version,
        "adversary_model_version": scorer.model_version,
        "adversary_nodes": len(nodes),
        # an AUROC is only as sure as its rarer class: ML is wrong on 7 of 1,032 wildcard eval
        # nodes late in an experiment (bench/RESULTS.md)
        "adversary_nodes_wrong": sum(errors),
        "ml_node_error_rate": sum(errors) / len(errors),
        "adversary_auroc": auroc(scores, errors),
        "uncertainty_auroc": auroc(logps, errors),
        "adversary_contexts": len(set(groups)),
        "adversary_auroc_gap": None if gap is None else gap[0],
        "adversary_auroc_gap_low": None if gap is None else gap[1],
        "adversary_auroc_gap_high": None if gap is None else gap[2],
        "adversary_calibration_error": calibration_error([-x for x in scores], errors),
        "warning": warning,
    }


def _store_metrics(store: Store, result: dict[str, Any]) -> None:
    names = {"accuracy": result["accuracy"], **{f"accuracy:{k}": v for k, v in result["by_kind"].items()}}
    for name in (
        "fan_out_accuracy",
        "fan_in_accuracy",
        "adversary_auroc",
        "uncertainty_auroc",
        "adversary_calibration_error",
        "adversary_nodes",
        "adversary_nodes_wrong",
        "adversary_auroc_gap",
        "adversary_auroc_gap_low",
        "adversary_auroc_gap_high",
    ):
        if result.get(name) is not None:
            names[name] = result[name]
    with store.write() as con:
        questions.add_metrics(
            con,
            result["task"],
            result["split"],
            names,
            result["model_version"],
            {"questions": result["questions"], "overseer_calls": result["overseer_calls"]},
        )
