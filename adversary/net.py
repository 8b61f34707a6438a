"""Adv(Q, A) -> S: the predicted negative loss of ML's output (SPEC 1), for answers and for ML's
imitations of the overseer's fan-out and fan-in.

The input is ML's own input with ML's output appended, in ML's token layout, plus ML's
log-probability of that output as a feature: the adversary sees what ML saw, what ML said and how
sure ML was. The head predicts p = P(ML is wrong); S = −p, so L_Adv = (S + ℓ)² with ℓ ∈ {0, 1}."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ida_cli.model.net import Block, ModelConfig, build_mask, embed_bags, init_weights, orthogonal


class AdvNet(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.width, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_pos, cfg.width)
        self.kind = nn.Embedding(2, cfg.width)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width + 2, 1)
        if cfg.bag:  # ML's layout: a question is one position (ida_cli.model.batch.segment)
            self.bag_maps = nn.Parameter(orthogonal(cfg.bag, cfg.width))
        init_weights(self)

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
        conf = torch.stack([logp, logp.exp()], dim=1).to(h.dtype)
        return self.head(torch.cat([h, conf], dim=1)).squeeze(1)


class Calibrator:
    """Isotonic map from raw P(wrong) to calibrated P(wrong), stored as plain arrays so that a
    checkpoint loads with weights_only=True."""

    def __init__(self, x: list[float] | None = None, y: list[float] | None = None) -> None:
        self.x, self.y = list(x or []), list(y or [])

    @classmethod
    def fit(cls, raw: np.ndarray, errors: np.ndarray) -> Calibrator:
        from sklearn.isotonic import IsotonicRegression

        if len(raw) < 10 or errors.all() or not errors.any():
            return cls()
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, errors.astype(float))
        return cls([float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_])

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if not self.x:
            return raw
        return np.interp(raw, self.x, self.y)
