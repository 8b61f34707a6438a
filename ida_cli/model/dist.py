"""Data-parallel training under `torchrun --nproc_per_node N` (DistributedDataParallel).

torchrun sets WORLD_SIZE/RANK; each process then trains one share of every batch and DDP
averages the gradients, so N processes take the same optimizer steps as one process on the whole
batch (up to the order of float additions). Decisions that depend on the clock or on an evaluation
are made together (`any`, `sum`), so that no rank leaves the loop while another waits for its
gradients. Only rank 0 writes versions and checkpoints. Without torchrun every call here is a no-op."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn

T = TypeVar("T")


@dataclass
class Dist:
    world: int = 1
    rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def on(self) -> bool:
        return self.world > 1

    def wrap(self, net: nn.Module) -> nn.Module:
        if not self.on:
            return net
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(net)

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's share of a batch (every rank gets one when the batch has ≥ world items)."""
        return list(items[self.rank :: self.world]) if self.on else list(items)

    def any(self, flag: bool) -> bool:
        if not self.on:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item() > 0)

    def sum(self, values: Sequence[float]) -> list[float]:
        if not self.on:
            return list(values)
        t = torch.tensor(list(values), dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return [float(v) for v in t.tolist()]

    def broadcast(self, obj: Any) -> Any:
        """rank 0's value on every rank."""
        if not self.on:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def agree(self, state: dict[str, torch.Tensor]) -> bool:
        """Whether every rank holds the same weights (a checksum per tensor, compared exactly)."""
        if not self.on:
            return True
        mine = torch.tensor([float(v.double().sum()) for v in state.values()], dtype=torch.float64)
        gathered = [torch.zeros_like(mine) for _ in range(self.world)]
        torch.distributed.all_gather(gathered, mine)
        return all(torch.equal(g, gathered[0]) for g in gathered)


_CURRENT: Dist | None = None


def setup() -> Dist:
    """Join the process group that torchrun describes (once per process); threads split the cores."""
    global _CURRENT
    if _CURRENT is not None:
        return _CURRENT
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        _CURRENT = Dist()
        return _CURRENT
    if not torch.distributed.is_initialized():
        # gloo: the collectives here (`any`, `sum`, `agree`) take CPU tensors, and the processes
        # train on the CPU (model/device.py refuses a CUDA device under torchrun)
        torch.distributed.init_process_group(backend="gloo")
    _CURRENT = Dist(world=torch.distributed.get_world_size(), rank=torch.distributed.get_rank())
    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    return _CURRENT


def current() -> Dist:
    return _CURRENT or Dist()
