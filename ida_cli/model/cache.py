"""Incremental decoding: the keys and values of every position computed once, then one new token
per segment a step. Recomputing the whole packed sequence for each output token was most of a
round's time (a cProfile of `ida round` on unionfind: 3,826 full forward passes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch

from ida_cli.model.net import Block, MemoryKV, Net


@dataclass
class Cache:
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per applied layer (loop x blocks): (B,H,keys,hd)
    memory: list[MemoryKV] | None  # per block: the memory's keys and values (shared by the loop)
    slot_ok: torch.Tensor  # (B,S) which plain slots are real
    seg: torch.Tensor  # (B,T) each sequence key's segment, -1 for padding
    pos: torch.Tensor  # (B,T) its position within its segment

    def keep(self, rows: torch.Tensor) -> None:
        """Only the sequences `rows` (indices into the batch) go on: finished ones cost nothing more."""
        self.kv = [(k[rows], v[rows]) for k, v in self.kv]
        if self.memory is not None:
            self.memory = [(k[rows], v[rows], ok[rows]) for k, v, ok in self.memory]
        self.slot_ok, self.seg, self.pos = self.slot_ok[rows], self.seg[rows], self.pos[rows]


def prefill(
    net: Net,
    slots: torch.Tensor,
    seq: torch.Tensor,
    pos: torch.Tensor,
    seg: torch.Tensor,
    bag: torch.Tensor | None = None,
) -> tuple[torch.Tensor, Cache]:
    """The full forward pass of `Net.forward(..., hidden=True)` (same arguments), keeping every
    layer's keys and values: returns the final states (B,T,width) and the cache."""
    x, mask, memory = net.inputs(slots, seq, pos, seg, bag)
    blocks = cast(list[Block], list(net.blocks))
    mem = None if memory is None else [block.read_memory(memory) for block in blocks]
    kv = []
    for _ in range(net.cfg.loop):
        for i, block in enumerate(blocks):
            x, pair = block.step(x, mask, None if mem is None else mem[i])
            kv.append(pair)
    s = x.shape[1] - seq.shape[1]
    slot_ok = mask[:, 0, s, :s]  # what the first sequence position sees of the slots: the real ones
    return net.ln(x[:, s:]), Cache(kv, mem, slot_ok, seg.clone(), pos.clone())


def extend(net: Net, cache: Cache, tok: torch.Tensor, pos: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    """One new token per (sequence, column) of `tok` (B,N), at position `pos` of segment `seg` (-1:
    no token, e.g. a finished segment): its final state (B,N,width). The cache grows by N keys.
    A new token sees the real slots and its own segment's earlier tokens, as in `build_mask`."""
    b, n = tok.shape
    x = net.tok(tok) + net.pos(pos.clamp(min=0)) + net.kind.weight[1]
    key_seg, key_pos = torch.cat([cache.seg, seg], dim=1), torch.cat([cache.pos, pos], dim=1)
    same = (
        (key_seg[:, None, :] == seg[:, :, None])
        & (key_pos[:, None, :] <= pos[:, :, None])
        & (seg >= 0)[..., None]
    )
    own = torch.zeros_like(same)
    own[:, :, -n:] = torch.eye(n, dtype=torch.bool)  # a query without a segment still sees itself
    mask = torch.cat([cache.slot_ok[:, None, :].expand(b, n, -1), same | own], dim=2)[:, None]
    blocks = cast(list[Block], list(net.blocks))
    for j, past in enumerate(cache.kv):
        i = j % len(blocks)  # the loop applies the blocks again with the same weights
        x, cache.kv[j] = blocks[i].step(x, mask, None if cache.memory is None else cache.memory[i], past)
    cache.seg, cache.pos = key_seg, key_pos
    return net.ln(x)
