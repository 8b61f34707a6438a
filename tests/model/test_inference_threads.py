"""IDA_THREADS bounds the torch threads of every command that loads a model, not only training's."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize(("env", "want"), [("1", 1), ("", None)])
def test_ida_threads_bounds_inference_threads_too(
    env: str, want: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ida_cli.learn.versions import _inference_threads

    before = torch.get_num_threads()
    monkeypatch.setenv("IDA_THREADS", env)
    try:
        torch.set_num_threads(2)
        _inference_threads()
        assert torch.get_num_threads() == (want or 2)
    finally:
        torch.set_num_threads(before)
