"""Training the adversary: L_Adv = (S + ℓ)² with S = −P(wrong) and ℓ ML's 0/1 error (docs/spec.md §2.2),
early stopping on held-out contexts, then a calibration (adversary.net.Calibrator) fit on the same
held-out slice."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from adversary.metrics import auroc, brier, calibration_error
from adversary.net import AdvNet, Calibrator
from adversary.probe import MIN_NODES, StateProbe, cross_fit
from ida_cli.model import device
from ida_cli.model.batch import EOS_ID, Example, batches, collate, pack
from ida_cli.model.dist import Dist, current
from ida_cli.model.net import ModelConfig, set_seed


def _examples(
    ml: Any,
    contexts: Sequence[Any],
    inputs: Sequence[list[str]],
    outputs: Sequence[list[str]],
    table: np.ndarray | None = None,
) -> list[Example]:
    exs = ml.examples(list(zip(contexts, inputs, strict=True)))
    for ex, out in zip(exs, outputs, strict=True):
        ex.out = [*ml.vocab.ids(out), EOS_ID]
        if table is not None:
            ex.slots = [table[s].tolist() for s in ex.slots]
            ex.inp, ex.out = table[ex.inp].tolist(), table[ex.out].tolist()
    return exs


def translation(ml_tokens: Sequence[str], adv_tokens: Sequence[str] | None, size: int) -> np.ndarray | None:
    """ML's token ids → the adversary's, or None where they are the same. A model trained from
    scratch on other rows builds another vocabulary, and the adversary's embedding was sized and
    trained on the one it judged; its tokens keep their ids, new ones read as <unk>. Adversaries
    saved before the vocabulary was stored know only their size."""
    if adv_tokens is None:
        if len(ml_tokens) <= size:
            return None
        table = np.arange(len(ml_tokens))
        table[table >= size] = 1  # <unk>
        return table
    if list(ml_tokens) == list(adv_tokens):
        return None
    index = {t: i for i, t in enumerate(adv_tokens)}
    return np.array([index.get(t, 1) for t in ml_tokens], dtype=np.int64)


def _batches(
    exs: list[Example],
    batch: int,
    rng: np.random.Generator | None,
    bag: int,
    dist: Dist | None = None,
    dev: torch.device | None = None,
) -> Iterator[tuple[dict[str, torch.Tensor], list[int]]]:
    """Batches with the indices of their examples in `exs`; under torchrun (`dist`) each rank gets
    its share of every batch."""
    index = {id(ex): i for i, ex in enumerate(exs)}
    seqs = pack(exs, 8, rng)
    if rng is None:  # scoring: any order will do, and sorted by length pads least
        seqs.sort(key=lambda seq: sum(len(ex.inp) + len(ex.out) for ex in seq))
        chunks = [seqs[c : c + batch] for c in range(0, len(seqs), batch)]
    else:  # training: packing order (batches of similar lengths learn less a step, as for ML)
        full, left = batches(seqs, batch, rng, by_length=False)
        chunks = [*full, left] if left else full
    for chunk in chunks:
        if dist is not None and dist.on:
            if len(chunk) < dist.world:  # a tail too small to share: every rank skips it
                continue
            chunk = dist.shard(chunk)
        yield collate(chunk, decode=True, bag=bag, device=dev), [index[id(ex)] for seq in chunk for ex in seq]


def raw_scores(net: AdvNet, exs: list[Example], logps: np.ndarray) -> np.ndarray:
    """P(ML is wrong) before calibration, in the order of `exs`."""
    out = np.zeros(len(exs))
    net.eval()
    dev = device.of(net)
    with torch.no_grad():
        for t, idx in _batches(exs, 128, None, net.cfg.bag, dev=dev):
            lp = torch.tensor(logps[idx], dtype=torch.float32, device=dev)
            z = net(t["slots"], t["seq"], t["pos"], t["seg"], t["last"], lp, t.get("bag"))
            out[idx] = torch.sigmoid(z).cpu().numpy()
    net.train()
    return out


def predict(
    net: AdvNet,
    ml: Any,
    contexts: Sequence[Any],
    inputs: Sequence[list[str]],
    outputs: Sequence[list[str]],
    logps: np.ndarray,
    table: np.ndarray | None = None,
) -> np.ndarray:
    return raw_scores(net, _examples(ml, contexts, inputs, outputs, table), logps)


def _state_probes(
    ml: Any, judged: Any, held_idx: np.ndarray, logps: np.ndarray, errors: np.ndarray, kinds: np.ndarray
) -> tuple[dict[str, StateProbe], np.ndarray]:
    """A probe of ML's state per kind of output with enough held-out nodes (adversary.probe), and
    each held-out node's out-of-fold probe logit (NaN where its kind has no probe)."""
    from ida_cli.model.decode import input_states

    oof = np.full(len(held_idx), np.nan)
    probes: dict[str, StateProbe] = {}
    groups = np.asarray(judged.groups)[held_idx]
    for kind in sorted(set(kinds.tolist())):
        at = np.flatnonzero(kinds == kind)
        if len(at) < MIN_NODES:
            continue
        states = input_states(ml, [(judged.contexts[held_idx[i]], judged.inputs[held_idx[i]]) for i in at])
        got = cross_fit(states, logps[at], errors[at], groups[at])
        probe = StateProbe.fit(states, logps[at], errors[at])
        if got is not None and probe is not None:
            oof[at], probes[str(kind)] = got, probe
    return probes, oof


def fit(
    ml: Any,
    judged: Any,
    opts: Any,
    held_every: int,
    on_progress: Callable[[Any], None] | None,
    init: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (from scratch, or on from `init`: the weights and optimizer state of an earlier fit
    on the same ML vocabulary) and calibrate; the payload to save, the metrics and the optimizer."""
    set_seed(opts.seed)
    exs = _examples(ml, judged.contexts, judged.inputs, judged.outputs)
    y, logps = judged.errors.astype(np.float32), judged.logps.astype(np.float32)
    held_mask = np.array([g % held_every == 0 for g in judged.groups])
    if held_mask.all() or not held_mask.any():
        held_mask = np.ones(len(exs), dtype=bool)  # too few contexts to hold any out
        train_idx = np.arange(len(exs))
    else:
        train_idx = np.flatnonzero(~held_mask)
    held_idx = np.flatnonzero(held_mask)
    # ML's layout: its questions as one position where ML reads them so
    cfg = ModelConfig(vocab_size=len(ml.vocab), width=opts.width, layers=opts.layers, bag=ml.net.cfg.bag)
    # beside the ML it judges (model/device.py), before the optimizer makes its moments
    dev = device.of(ml.net)
    net = AdvNet(cfg, confidence_prior=True).to(dev)
    dist = current()
    model = dist.wrap(net)  # under torchrun: data parallel, the same steps as one process
    optimizer = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=0.01)
    if init is not None:  # the online engine: the adversary keeps learning on ML as it now is
        net.load_state_dict(init["model"])
        optimizer.load_state_dict(init["optimizer"])
    rng = np.random.default_rng(opts.seed)
    train_exs, held_exs = [exs[i] for i in train_idx], [exs[i] for i in held_idx]
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    best, stale, step = float("inf"), 0, 0
    deadline = time.perf_counter() + opts.minutes * 60
    stopped = "time"
    try:
        while not dist.any(time.perf_counter() >= deadline) and not (
            opts.max_steps and step >= opts.max_steps
        ):
            for t, idx in _batches(train_exs, opts.batch, rng, net.cfg.bag, dist, dev):
                sel = train_idx[idx]
                lp = torch.from_numpy(logps[sel]).to(dev)
                z = model(t["slots"], t["seq"], t["pos"], t["seg"], t["last"], lp, t.get("bag"))
                target = torch.from_numpy(y[sel]).to(dev)
                loss = ((torch.sigmoid(z) - target) ** 2).mean()  # (S + ℓ)², S = −σ(z)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
                step += 1
                if step % opts.eval_every == 0:
                    score = brier(raw_scores(net, held_exs, logps[held_idx]), y[held_idx].astype(bool))
                    if score < best:
                        best, stale = score, 0
                        best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    else:
                        stale += 1
                    if on_progress:
                        on_progress({"step": step, "loss": loss.item(), "held_brier": score})
                if (
                    stale >= opts.patience
                    or dist.any(time.perf_counter() >= deadline)
                    or (opts.max_steps and step >= opts.max_steps)
                ):
                    break
            if stale >= opts.patience:
                stopped = "early"
                break
        else:
            stopped = "steps" if opts.max_steps and step >= opts.max_steps else "time"
    except KeyboardInterrupt:
        stopped = "interrupted"
    if best == float("inf") or (stopped in ("time", "steps") and step % opts.eval_every):
        # the steps after the last evaluation are judged too (as in ML's training loop)
        score = brier(raw_scores(net, held_exs, logps[held_idx]), y[held_idx].astype(bool))
        if score <= best:
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    # calibrate on one half of the held-out contexts and report on the other, so that the
    # calibration error is measured out of sample
    raw = raw_scores(net, held_exs, logps[held_idx])
    errors = y[held_idx].astype(bool)
    half = np.array([judged.groups[i] % (2 * held_every) == 0 for i in held_idx])
    if half.all() or not half.any():
        half = np.arange(len(held_idx)) % 2 == 0
    held_lp, kinds = logps[held_idx], np.asarray(judged.modes)[held_idx]
    probes, oof = _state_probes(ml, judged, held_idx, held_lp, errors, kinds)
    calibrator = Calibrator.fit(raw[half], errors[half], held_lp[half], kinds[half].tolist(), oof[half])
    p = calibrator(raw[~half], held_lp[~half], kinds[~half].tolist(), oof[~half])
    rep = errors[~half]
    metrics = {
        "steps": step,
        "processes": dist.world,
        "replicas_agree": stopped == "interrupted" or dist.agree(net.state_dict()),
        "stopped": stopped,
        "held_nodes": int((~half).sum()),
        "held_error_rate": float(rep.mean()),
        "auroc": auroc(-p, rep),
        "auroc_uncertainty": auroc(held_lp[~half], rep),
        "calibration_error": calibration_error(p, rep),
        "brier": brier(p, rep),
        "calibration_nodes": int(half.sum()),
    }
    answers = kinds[~half] == "answer"  # the nodes a round scores (the eval's AUROC is on answers)
    if answers.any():
        metrics["auroc_answers"] = auroc(-p[answers], rep[answers])
        metrics["auroc_uncertainty_answers"] = auroc(held_lp[~half][answers], rep[answers])
    # the stored map uses every held-out node
    calibrator = Calibrator.fit(raw, errors, held_lp, kinds.tolist(), oof)
    metrics["probe_kinds"] = sorted(calibrator.probe_kinds)
    payload = {
        "config": cfg.to_dict(),
        "confidence_prior": net.confidence_prior,
        "model": best_state,
        "vocab": list(ml.vocab.tokens),  # the ids it was trained on (translation() for another ML's)
        **calibrator.to_payload(),
        "probes": {k: probe.to_payload() for k, probe in probes.items()},
        "step": step,
        "metric": metrics["brier"],
    }
    # every held-out node (contexts the adversary's network did not train on), scored by the
    # stored map, for a threshold chosen on them (ida_cli/experiment/priming.py)
    held = {
        "p": calibrator(raw, held_lp, kinds.tolist(), oof),
        "logp": held_lp,
        "kind": kinds,
        "wrong": errors,
    }
    return {"payload": payload, "metrics": metrics, "optimizer": optimizer.state_dict(), "held": held}
