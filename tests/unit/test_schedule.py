"""The learning-rate schedule of a time-budgeted run ends with its budget, not at a fixed step."""

from __future__ import annotations

import pytest

from ida_cli.model.train import TrainConfig, lr_at, planned_steps


def test_a_time_budget_is_planned_at_the_pace_so_far() -> None:
    # 250 steps in 50 s, 850 s left: 4,250 more steps at that pace
    assert planned_steps(250, 250, 50.0, 850.0) == 4500
    assert planned_steps(3000, 500, 100.0, 0.0) == 3000  # out of time: ends now
    assert planned_steps(1000, 0, 0.0, 10.0) == 1000  # no pace yet: no guess beyond the present


def test_the_cosine_reaches_its_floor_at_the_planned_end() -> None:
    cfg = TrainConfig(lr=1e-3, warmup=100)
    assert lr_at(0, cfg, 4500) == pytest.approx(1e-5)
    assert lr_at(99, cfg, 4500) == pytest.approx(1e-3)
    assert lr_at(2300, cfg, 4500) == pytest.approx(0.55e-3)  # halfway: 0.1 + 0.9 · 0.5
    assert lr_at(4500, cfg, 4500) == pytest.approx(1e-4)
