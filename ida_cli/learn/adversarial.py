"""`ida train adversary` and the adversary at work: Adv is trained on ML as it now is (docs/spec.md §2.2's
L_Adv with ℓ the 0/1 error of ML's greedy output), calibrated with isotonic regression, recorded as a
numbered version tied to the model version it judged, and served to the walker as a Scorer."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ida_cli import checks
from ida_cli.errors import UsageError
from ida_cli.learn import checkpoints
from ida_cli.learn.data import HELD_OUT_EVERY, Rows, check_data, gather, resolve_task
from ida_cli.learn.options import check_budget, check_shape
from ida_cli.store import Store, versions
from ida_cli.tasks import get_task
from ida_cli.vocabulary import JSON, canonical


@dataclass
class TrainAdvOptions:
    task: str | None = None
    supervised: bool = False
    minutes: float = 5.0
    max_steps: int = 0
    seed: int = 0
    layers: int = 2
    width: int = 128
    batch: int = 32
    eval_every: int = 100
    patience: int = 5
    lr: float = 1e-3
    max_rows: int = 0  # judge at most this many examples (a uniform sample; 0: all)

    def check(self) -> None:
        check_budget(self.minutes, self.max_steps)
        check_shape(self.layers, self.width, self.batch, self.lr, self.eval_every, self.patience)
        checks.at_least("max_rows", self.max_rows, 0)
        checks.seed(self.seed)


@dataclass
class Judged:
    """ML's outputs on examples with a known target, ready for the adversary."""

    groups: list[int]
    inputs: list[list[str]]
    outputs: list[list[str]]
    contexts: list[JSON]
    logps: np.ndarray
    errors: np.ndarray
    modes: list[str]


def judge(ml: Any, task_name: str, rows: Rows) -> Judged:
    """Run ML (batched) on every row and mark where its greedy output misses the target."""
    from ida_cli.model.vocab import answer_tokens, input_tokens, step_tokens

    task = get_task(task_name)
    out = Judged([], [], [], [], np.zeros(0), np.zeros(0, dtype=bool), [])
    logps: list[float] = []
    errors: list[bool] = []
    for mode in ("answer", "fan_out", "fan_in"):
        items = [r for r in rows.items if r[2] == mode]
        if not items:
            continue
        if mode == "answer":
            got = ml.answer([(r[1], r[3]) for r in items])
            outs = [answer_tokens(task, r[3], a) for r, (a, _) in zip(items, got, strict=True)]
        elif mode == "fan_out":
            got = ml.fan_out([(r[1], r[3]) for r in items])
            outs = [step_tokens(task, r[3], y) for r, (y, _) in zip(items, got, strict=True)]
        else:
            got = ml.fan_in([(r[1], r[3], r[4]) for r in items])
            outs = [step_tokens(task, r[3], y) for r, (y, _) in zip(items, got, strict=True)]
        for r, (value, lp), toks in zip(items, got, outs, strict=True):
            out.groups.append(r[0])
            out.contexts.append(r[1])
            out.inputs.append(input_tokens(task, mode, r[3], r[4]))
            out.outputs.append(toks)
            out.modes.append(mode)
            logps.append(lp)
            errors.append(_differs(value, r[5]))
    out.logps, out.errors = np.asarray(logps, dtype=float), np.asarray(errors, dtype=bool)
    return out


def _differs(value: JSON, target: JSON) -> bool:
    if hasattr(value, "value") or hasattr(value, "questions"):  # steps compare as steps
        return repr(value) != repr(target)
    return canonical(value) != canonical(target)


def train_adversary(
    store: Store, opts: TrainAdvOptions, on_progress: Callable[[Any], None] | None = None
) -> dict[str, Any]:
    from ida_cli.learn.versions import load_model
    from ida_cli.model import dist as distributed

    opts.check()
    d = distributed.setup()  # under torchrun: every rank trains, rank 0 writes
    with store.read() as con:
        task = resolve_task(con, opts.task)
        rows = gather(con, task, opts.supervised)
        check_data(con, task, rows, opts.supervised)
    if opts.max_rows and len(rows.items) > opts.max_rows:
        keep = np.random.default_rng(opts.seed).choice(len(rows.items), opts.max_rows, replace=False)
        rows = Rows([rows.items[i] for i in sorted(keep)])
    ml = load_model(store, task)
    assert ml is not None
    started = time.perf_counter()
    judged = judge(ml, task, rows)
    from adversary import train as adv_train

    result = adv_train.fit(ml, judged, opts, HELD_OUT_EVERY, on_progress if d.main else None)
    if not d.main:
        return {"task": task, "rank": d.rank, "metrics": result["metrics"]}
    version, path, sha, metrics, counts = publish(store, task, ml.version, judged, result, started)
    return {
        "task": task,
        "version": version,
        "model_version": ml.version,
        "data": counts,
        "metrics": metrics,
        "checkpoint": str(path),
        "sha256": sha,
        "rank": 0,
    }


def publish(
    store: Store, task: str, model_version: int, judged: Judged, result: dict[str, Any], started: float
) -> tuple[int, Any, str, dict[str, Any], dict[str, int]]:
    """A fitted adversary as the next numbered version (its checkpoint and its row, in one write
    transaction): (version, path, SHA-256, metrics, counts)."""
    from ida_cli.model.train import save_checkpoint

    with store.write() as con:
        vid, version = versions.allocate(con, "adversary")
        path = checkpoints.folder(store) / f"adversary-v{version}.pt"
        sha = save_checkpoint(path, {**result["payload"], "model_version": model_version, "task": task})
        checkpoints.publish(store, path, sha, con)
        metrics = {
            **result["metrics"],
            "wall_seconds": time.perf_counter() - started,
            "ml_error_rate": float(judged.errors.mean()) if len(judged.errors) else None,
        }
        counts = {m: judged.modes.count(m) for m in ("answer", "fan_out", "fan_in")}
        versions.add_adversary(
            con,
            vid,
            version,
            task,
            result["payload"]["config"],
            counts,
            metrics,
            checkpoints.record(store, path),
            sha,
            model_version,
        )
    return version, path, sha, metrics, counts


class AdvScorer:
    """The walker's Scorer: S for ML's answers (batched), calibrated; S = −P(ML is wrong)."""

    def __init__(
        self,
        net: Any,
        calibrator: Any,
        ml: Any,
        version: int,
        model_version: int | None,
        vocab: list[str] | None = None,
        probes: dict[str, Any] | None = None,
    ) -> None:
        from adversary.train import translation

        self.net, self.calibrator, self.ml = net.eval(), calibrator, ml
        self.version, self.model_version = version, model_version
        self.task = get_task(ml.task)
        self.table = translation(ml.vocab.tokens, vocab, net.cfg.vocab_size)
        self.probes = probes or {}

    def _probe(self, kind: str, contexts: list[JSON], inputs: list[list[str]], logps: Any) -> Any:
        """The state probe's logit for each item, or None: a probe reads the states of the ML it was
        fit on, and another version's states mean something else."""
        probe = self.probes.get(kind)
        if probe is None or getattr(self.ml, "net", None) is None or self.ml.version != self.model_version:
            return None
        from ida_cli.model.decode import input_states

        return probe.logit(input_states(self.ml, list(zip(contexts, inputs, strict=True))), np.asarray(logps))

    def score(
        self, items: Sequence[tuple[JSON, JSON, JSON]], logps: Sequence[float] | None = None
    ) -> list[float]:
        """S for ML's answers; `logps` (ML's log p of each, as decoded) spares one teacher-forced
        pass of ML over the batch, a fifth of a round's torch time."""
        from ida_cli.model.decode import output_logp
        from ida_cli.model.vocab import answer_tokens, input_tokens

        if not items:
            return []
        inputs = [input_tokens(self.task, "answer", q) for _, q, _ in items]
        outputs = [answer_tokens(self.task, q, a) for _, q, a in items]
        if logps is None:
            logps = output_logp(
                self.ml, [(c, i, o) for (c, _, _), i, o in zip(items, inputs, outputs, strict=True)]
            )
        from adversary.train import predict

        contexts = [c for c, _, _ in items]
        p = predict(self.net, self.ml, contexts, inputs, outputs, np.asarray(logps), self.table)
        probe = self._probe("answer", contexts, inputs, logps)
        return [-float(v) for v in self.calibrator(p, np.asarray(logps), "answer", probe)]

    def score_steps(self, mode: str, items: Sequence[tuple[JSON, JSON, Any, Any]]) -> list[float]:
        """Adv.fan_out(Q, Y) / Adv.fan_in(Q, transcript, Y): S for ML's imitation Y of the overseer's
        step; items are (context, question, transcript, step), the transcript ignored for fan_out."""
        from ida_cli.model.decode import output_logp
        from ida_cli.model.vocab import input_tokens, step_tokens

        if not items:
            return []
        inputs = [input_tokens(self.task, mode, q, t if mode == "fan_in" else ()) for _, q, t, _ in items]
        outputs = [step_tokens(self.task, q, y) for _, q, _, y in items]
        logps = output_logp(
            self.ml, [(c, i, o) for (c, *_), i, o in zip(items, inputs, outputs, strict=True)]
        )
        from adversary.train import predict

        contexts = [c for c, *_ in items]
        p = predict(self.net, self.ml, contexts, inputs, outputs, np.asarray(logps), self.table)
        probe = self._probe(mode, contexts, inputs, logps)
        return [-float(v) for v in self.calibrator(p, np.asarray(logps), mode, probe)]


def scorer_from_payload(payload: dict[str, Any], ml: Any, version: int, judged: int | None) -> AdvScorer:
    """Adversary `version` from its checkpoint, scoring for `ml`; `judged` is the model version it
    was trained against."""
    from adversary.net import Calibrator
    from adversary.net import build as build_adversary
    from adversary.probe import StateProbe

    probes = {k: StateProbe.from_payload(v) for k, v in (payload.get("probes") or {}).items()}
    net, calibrator = build_adversary(payload), Calibrator.from_payload(payload)
    if getattr(ml, "net", None) is not None:  # beside the ML it scores (model/device.py)
        from ida_cli.model import device

        net.to(device.of(ml.net))
    return AdvScorer(net, calibrator, ml, version, judged, payload.get("vocab"), probes)


def load_scorer(
    store: Store, task: str, ml: Any, required: bool = True
) -> tuple[AdvScorer | None, str | None]:
    """The latest adversary for `task` and a warning when it judged an older model than `ml`."""

    with store.read() as con:
        info = versions.latest(con, "adversary", task)
        judged = None if info is None else versions.judged_model(con, info.version)
    if info is None:
        if required:
            raise UsageError(
                f"no trained adversary for task {task}: run `ida train adversary --task {task}` first"
            )
        return None, None
    scorer = scorer_from_payload(checkpoints.load(store, info), ml, info.version, judged)
    warning = None
    if ml is not None and judged != ml.version:
        warning = (
            f"adversary v{info.version} was trained against model v{judged}, but the current model is "
            f"v{ml.version}: run `ida train adversary --task {task}`"
        )
    return scorer, warning
