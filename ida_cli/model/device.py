"""Where torch trains and decodes: `--device auto` (a CUDA GPU when torch sees one, else the CPU),
`cpu`, `cuda` or `cuda:N`.

A model's tensors follow its parameters: `of(net)` is the device a batch is collated onto
(`batch.collate(..., device=)`) and the one every tensor made while decoding lives on; numbers go
back to the CPU only where numpy reads them. Checkpoints load onto the CPU (`map_location`) and
move, so a model trained on a GPU runs anywhere. The one code path is the CPU's: this project's
machines have no GPU, and `tests/model/test_device.py` runs the CUDA comparison only where one
exists."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ida_cli.errors import UsageError

if TYPE_CHECKING:
    import torch


def _distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def check(name: str) -> None:
    """Refuse a device name that is not auto, cpu, cuda or cuda:N, or a CUDA device torch cannot
    use. Under torchrun the processes share the CPU: their collectives (model/dist.py) run on gloo
    with CPU tensors, so a CUDA device is refused there and auto means the CPU."""
    base, _, index = name.partition(":")
    if base not in ("auto", "cpu", "cuda") or (index and (base != "cuda" or not index.isdigit())):
        raise UsageError(f"unknown device '{name}': use --device auto, cpu or cuda")
    if base == "cuda" and _distributed():
        raise UsageError(f"--device {name} under torchrun: the processes train on the CPU; use --device cpu")
    if base == "cuda":
        import torch  # only a CUDA name asks torch (checking a grid's cells stays light)

        if not torch.cuda.is_available():
            raise UsageError(
                f"--device {name}: this machine has no GPU that torch can use; use --device auto"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise UsageError(
                f"--device {name}: torch sees {torch.cuda.device_count()} GPU(s), numbered from 0; "
                "use --device cuda"
            )


def resolve(name: str) -> torch.device:
    """The device for `name`, checked as `check` does."""
    import torch

    check(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() and not _distributed() else "cpu")
    return torch.device(name)


def of(module: torch.nn.Module) -> torch.device:
    """The device of a module's parameters (the CPU for one without any)."""
    import torch

    for p in module.parameters():
        return p.device
    return torch.device("cpu")
