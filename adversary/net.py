"""Adv(Q, A) -> S: the predicted negative loss of ML's output (docs/spec.md §1), for answers and for ML's
imitations of the overseer's fan-out and fan-in.

The input is ML's own input with ML's output appended, in ML's token layout, plus ML's
log-probability of that output as a feature: the adversary sees what ML saw, what ML said and how
sure ML was. The head predicts p = P(ML is wrong); S = −p, so L_Adv = (S + ℓ)² with ℓ ∈ {0, 1}."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ida_cli.model.net import Block, ModelConfig, build_mask, embed_bags, init_weights, orthogonal


class AdvNet(nn.Module):
    """With `confidence_prior` the head also reads log(−log p) and starts as that feature alone, so
    that an untrained adversary ranks exactly as ML's own confidence does and training learns the
    correction. Without it (adversaries saved before the prior) the head started at random: on
    wildcard's noisy amplified targets, 80 steps left it at 0.759 on held-out training nodes
    against ML's confidence at 0.922 (bench/RESULTS.md)."""

    def __init__(self, cfg: ModelConfig, confidence_prior: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.confidence_prior = confidence_prior
        self.tok = nn.Embedding(cfg.vocab_size, cfg.width, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_pos, cfg.width)
        self.kind = nn.Embedding(2, cfg.width)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width + (3 if confidence_prior else 2), 1)
        if cfg.bag:  # ML's layout: a question is one position (ida_cli.model.batch.segment)
            self.bag_maps = nn.Parameter(orthogonal(cfg.bag, cfg.width))
        init_weights(self)
        if confidence_prior:
            with torch.no_grad():  # logit = log(−log p): P(wrong) = −log p / (1 − log p)
                self.head.weight.zero_()
                self.head.weight[0, -1] = 1.0
                self.head.bias.zero_()

    def forward(
        self,
        slots: torch.Tensor,
        seq: torch.Tensor,
        pos: torch.Tensor,
        seg: torch.Tensor,
        last: torch.Tensor,
        logp: torch.Tensor,
        bag: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logit of P(wrong) for each segment (rows of `last`: (sequence, position)); `logp` is ML's
        log-probability of its output, one per segment; `bag` as for ML's network."""
        s = slots.shape[1]
        xt = self.tok(seq) + self.pos(pos) + self.kind.weight[1]
        if self.cfg.bag:
            if bag is None:
                raise ValueError("this adversary reads questions as bags: collate(..., bag=cfg.bag)")
            xt = xt + embed_bags(self.tok, self.bag_maps, bag)
        x = torch.cat([self.tok(slots).sum(dim=2) + self.kind.weight[0], xt], dim=1)
        mask = build_mask(slots, pos, seg)
        for _ in range(self.cfg.loop):
            for block in self.blocks:
                x = block(x, mask)
        h = self.ln(x[:, s:])[last[:, 0], last[:, 1]]
        feats = [logp, logp.exp()]
        if self.confidence_prior:
            feats.append(torch.log(-logp.clamp(max=0.0) + 1e-6))
        conf = torch.stack(feats, dim=1).to(h.dtype)
        return self.head(torch.cat([h, conf], dim=1)).squeeze(1)


def build(payload: dict[str, Any]) -> AdvNet:
    """An adversary from its checkpoint payload, with its weights."""
    net = AdvNet(ModelConfig(**payload["config"]), bool(payload.get("confidence_prior", False)))
    net.load_state_dict(payload["model"])
    return net


class Calibrator:
    """Raw P(wrong) and ML's log p → calibrated P(wrong) by a logistic stack of the two (Platt
    scaling with ML's confidence as a second input), one stack per kind of output (answer,
    fan_out, fan_in) where the held-out nodes have enough of that kind, else the stack of all of
    them; stored as plain lists so that a checkpoint loads with weights_only=True. Adversaries
    saved before the stack keep their isotonic map, those saved before the kinds their one stack.

    The network trains on contexts ML trained on, where ML's confidence says little (it remembers
    them); the stack is fit on the held-out contexts, which ML never saw, as the questions a round
    asks are. Without it the adversary fell below ML's own confidence on fresh contexts (shortpath,
    0.953 against 0.966). An isotonic map on top cost ranking: its steps tie most scores where
    errors are rare (wildcard, 2.6% wrong: 0.87 against 0.99 on held-out nodes). ML's log p says
    more of its answers than of its imitated steps, so one stack for all weighed it as for the
    steps, which are most of the rows (bench/RESULTS.md)."""

    MIN_KIND = 200  # held-out nodes of one kind (with both outcomes) for a stack of its own

    def __init__(
        self,
        x: list[float] | None = None,
        y: list[float] | None = None,
        stack: list[float] | None = None,
        kinds: dict[str, list[float]] | None = None,
        probe_kinds: dict[str, list[float]] | None = None,
    ) -> None:
        self.x, self.y, self.stack = list(x or []), list(y or []), list(stack or [])
        self.kinds = {k: list(v) for k, v in (kinds or {}).items()}
        # kinds whose stack also reads the probe of ML's state (adversary.probe)
        self.probe_kinds = {k: list(v) for k, v in (probe_kinds or {}).items()}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Calibrator:
        return cls(
            payload["calib_x"],
            payload["calib_y"],
            payload.get("calib_stack"),
            payload.get("calib_kinds"),
            payload.get("calib_probe_kinds"),
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "calib_x": self.x,
            "calib_y": self.y,
            "calib_stack": self.stack,
            "calib_kinds": self.kinds,
            "calib_probe_kinds": self.probe_kinds,
        }

    @classmethod
    def fit(
        cls,
        raw: np.ndarray,
        errors: np.ndarray,
        logps: np.ndarray,
        kinds: Sequence[str] | None = None,
        probe: np.ndarray | None = None,
    ) -> Calibrator:
        """`probe`: the out-of-fold logit of the state probe per row, NaN where its kind has none."""
        stack = _stack(raw, errors, logps)
        if stack is None:
            return cls()
        per_kind: dict[str, list[float]] = {}
        with_probe: dict[str, list[float]] = {}
        if kinds is not None:
            kind_of = np.asarray(kinds)
            for kind in sorted(set(kind_of.tolist())):
                at = kind_of == kind
                if at.sum() >= cls.MIN_KIND and (own := _stack(raw[at], errors[at], logps[at])) is not None:
                    per_kind[str(kind)] = own
                if probe is not None:
                    at = at & np.isfinite(probe)
                    if at.sum() >= cls.MIN_KIND:
                        own = _stack(raw[at], errors[at], logps[at], probe[at])
                        if own is not None:
                            with_probe[str(kind)] = own
        return cls(stack=stack, kinds=per_kind, probe_kinds=with_probe)

    def __call__(
        self,
        raw: np.ndarray,
        logps: np.ndarray,
        kind: str | Sequence[str] | None = None,
        probe: np.ndarray | None = None,
    ) -> np.ndarray:
        """Calibrated P(wrong); `kind` names the kind of output of all rows, or of each; `probe`,
        the state probe's logit per row (NaN where none), is read where its kind has a stack for it."""
        if self.stack:
            raw, logps = np.asarray(raw, dtype=float), np.asarray(logps, dtype=float)
            weights = np.tile(np.asarray(self.stack), (len(raw), 1))
            kinds = None if kind is None else np.asarray([kind] * len(raw) if isinstance(kind, str) else kind)
            if self.kinds and kinds is not None:
                for k, stack in self.kinds.items():
                    weights[kinds == k] = stack
            z = (_features(raw, logps) * weights[:, :2]).sum(axis=1) + weights[:, 2]
            if probe is not None and self.probe_kinds and kinds is not None:
                probe = np.asarray(probe, dtype=float)
                for k, w in self.probe_kinds.items():
                    at = (kinds == k) & np.isfinite(probe)
                    z[at] = _features(raw[at], logps[at], probe[at]) @ np.asarray(w[:3]) + w[3]
            return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=float)
        if self.x:  # an adversary saved before the stack: its isotonic map of the raw score
            return np.interp(raw, self.x, self.y)
        return np.asarray(raw, dtype=float)


def _stack(
    raw: np.ndarray, errors: np.ndarray, logps: np.ndarray, probe: np.ndarray | None = None
) -> list[float] | None:
    from sklearn.linear_model import LogisticRegression

    if len(raw) < 10 or errors.all() or not errors.any():
        return None
    lr = LogisticRegression(C=1.0).fit(_features(raw, logps, probe), errors)
    return [*(float(w) for w in lr.coef_[0]), float(lr.intercept_[0])]


def _features(raw: np.ndarray, logps: np.ndarray, probe: np.ndarray | None = None) -> np.ndarray:
    p = np.clip(np.asarray(raw, dtype=float), 1e-6, 1 - 1e-6)
    cols = [np.log(p / (1 - p)), np.asarray(logps, dtype=float)]
    if probe is not None:
        cols.append(np.asarray(probe, dtype=float))
    return np.stack(cols, axis=1)
