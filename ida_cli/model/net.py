"""The network: a small pre-LN transformer over [context slots ; question segments].

Slots see each other; a segment sees every slot and, causally, its own tokens. Several segments
(questions) share one context in a sequence, so a context is encoded once for all of them
(docs/model.md item 1). `loop` repeats the layer stack with shared weights (docs/model.md item 3)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelConfig:
    vocab_size: int
    width: int = 128
    heads: int = 4
    layers: int = 6
    loop: int = 1
    mlp: int = 4
    max_pos: int = 512
    # slot tokens "role=value" as W_role · E[value], sharing E[value] with question and answer
    # tokens (roles listed here; empty: every token has its own embedding, as in older versions)
    roles: tuple[str, ...] = ()
    role_of: tuple[int, ...] = ()  # per vocabulary id: index into roles + 1 (0: a plain token)
    value_of: tuple[int, ...] = ()  # per vocabulary id: the id of its value token
    # > 0: a question is one position, its first `bag` tokens summed through per-place maps
    # (batch.segment); 0: a question is a run of tokens, as in older versions
    bag: int = 0
    # a role whose slots are read-only memory (docs/model.md item 4): every layer cross-attends to them,
    # and they are not positions of the transformer; "" (default): every slot is a position
    memory: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# per-task defaults for a 2-core CPU (docs/model.md: depth at least the number of hops). A built-in
# task's question is one position (bag): permutation, 240 s of training, held-out 46% with the
# question as a run of tokens, 76% as one position, at half the cost per step
# (bench/probes/perm_variants.py); a user task's question is free text, so it stays a run of characters.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "permutation": {"layers": 6, "bag": 8},
    "wildcard": {"layers": 3, "bag": 8},
    # the table as memory (docs/model.md item 4): 3x the examples/s of the table as 64 slots. Its values
    # chain through the variables' slots only with slot targets (batch.Example.slot): without them,
    # looped or not, it stopped at 36% held-out, depth-1 questions only (bench/RESULTS.md)
    "assignments": {"layers": 1, "loop": 8, "bag": 8, "memory": "ta"},
    "unionfind": {"layers": 8, "bag": 8},
    "shortpath": {"layers": 8, "bag": 8},
    "user": {"layers": 2},
}


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


MemoryKV = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # keys, values, which entries are real


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.ln1 = nn.LayerNorm(cfg.width)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)
        self.ln2 = nn.LayerNorm(cfg.width)
        self.fc = nn.Linear(cfg.width, cfg.mlp * cfg.width)
        self.out = nn.Linear(cfg.mlp * cfg.width, cfg.width)
        if cfg.memory:
            self.ln_m = nn.LayerNorm(cfg.width)
            self.q_m = nn.Linear(cfg.width, cfg.width)
            self.kv_m = nn.Linear(cfg.width, 2 * cfg.width)
            self.proj_m = nn.Linear(cfg.width, cfg.width)

    def _heads(self, z: torch.Tensor) -> torch.Tensor:
        b, t, d = z.shape
        return z.view(b, t, self.heads, d // self.heads).transpose(1, 2)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> torch.Tensor:
        return self.step(x, mask, None if memory is None else self.read_memory(memory))[0]

    def read_memory(self, memory: tuple[torch.Tensor, torch.Tensor]) -> MemoryKV:
        """The memory's keys and values: (B,M,D) read-only entries, (B,1,1,M) which are real."""
        mem, ok = memory
        k, v = (self._heads(z) for z in self.kv_m(mem).split(mem.shape[2], dim=2))
        return k, v, ok

    def step(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        memory: MemoryKV | None = None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The block on x, whose keys follow `past`'s (the keys and values of earlier positions, a
        decoder's cache; `mask` covers past and x). Returns x and the keys and values of all."""
        b, t, d = x.shape
        q, k, v = (self._heads(z) for z in self.qkv(self.ln1(x)).split(d, dim=2))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        if memory is not None:
            km, vm, ok = memory
            y = F.scaled_dot_product_attention(self._heads(self.q_m(self.ln_m(x))), km, vm, attn_mask=ok)
            x = x + self.proj_m(y.transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x)))), (k, v)


class Net(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.width, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_pos, cfg.width)
        self.kind = nn.Embedding(2, cfg.width)  # 0 slot, 1 sequence token
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.width)
        # untied: with the output head tied to the input embeddings, a one-hop slot lookup σ(x)
        # stayed at chance for 1,000+ steps (bench/probes/lookup.py); untied it learns in ~300
        self.head = nn.Linear(cfg.width, cfg.vocab_size, bias=False)
        if cfg.roles:
            # one linear map per role keeps "which value is in which role" bound within a slot's sum;
            # random (not identity) so that x=3,y=5 and x=5,y=3 differ from the first step
            self.role_maps = nn.Parameter(orthogonal(len(cfg.roles), cfg.width))
            self.register_buffer("role_of", torch.tensor(cfg.role_of, dtype=torch.long), persistent=False)
            self.register_buffer("value_of", torch.tensor(cfg.value_of, dtype=torch.long), persistent=False)
        if cfg.bag:
            # one map per place in the question: "pow 3 5" and "pow 5 3" must differ
            self.bag_maps = nn.Parameter(orthogonal(cfg.bag, cfg.width))
        if cfg.memory:
            if cfg.memory not in cfg.roles:
                raise ValueError(f"memory role {cfg.memory!r} is not one of the vocabulary's roles")
            self.memory_role = cfg.roles.index(cfg.memory) + 1
            self.ln_mem = nn.LayerNorm(cfg.width)
        init_weights(self)

    def embed_slots(self, slots: torch.Tensor) -> torch.Tensor:
        if not self.cfg.roles:
            return self.tok(slots).sum(dim=2)
        value_of: torch.Tensor = self.value_of  # type: ignore[assignment]
        role_of: torch.Tensor = self.role_of  # type: ignore[assignment]
        e = self.tok(value_of[slots])  # (B,S,K,D)
        roles = role_of[slots]  # (B,S,K), 0 = plain
        out = (e * (roles == 0)[..., None]).sum(dim=2)
        for r in range(len(self.cfg.roles)):
            m = roles == r + 1
            if m.any():
                out = out + torch.einsum("bskd,de->bse", e * m[..., None], self.role_maps[r])
        return out

    def n_params(self, embeddings: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        if not embeddings:  # the FLOP count (6·N·tokens) leaves out the lookup tables
            n -= self.tok.weight.numel() + self.pos.weight.numel() + self.kind.weight.numel()
            if self.cfg.bag:  # applied once per question, not per token
                n -= self.bag_maps.numel()
        return n * self.cfg.loop if not embeddings else n

    def inputs(
        self,
        slots: torch.Tensor,
        seq: torch.Tensor,
        pos: torch.Tensor,
        seg: torch.Tensor,
        bag: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """The first layer's input (B,S+T,D) for the plain slots then the sequence, the attention
        mask, and the memory entries with which are real (or None)."""
        memory = None
        if self.cfg.memory:
            role_of: torch.Tensor = self.role_of  # type: ignore[assignment]
            slots, table = split_memory(slots, role_of[slots[:, :, 0]] == self.memory_role)
            memory = (self.ln_mem(self.embed_slots(table)), (table[:, :, 0] != 0)[:, None, None, :])
        xs = self.embed_slots(slots) + self.kind.weight[0]
        xt = self.tok(seq) + self.pos(pos) + self.kind.weight[1]
        if self.cfg.bag:
            if bag is None:
                raise ValueError("this network reads questions as bags: collate(..., bag=cfg.bag)")
            xt = xt + embed_bags(self.tok, self.bag_maps, bag)
        return torch.cat([xs, xt], dim=1), build_mask(slots, pos, seg), memory

    def forward(
        self,
        slots: torch.Tensor,
        seq: torch.Tensor,
        pos: torch.Tensor,
        seg: torch.Tensor,
        bag: torch.Tensor | None = None,
        with_slots: bool = False,
        hidden: bool = False,
    ) -> Any:
        """slots (B,S,K) token ids (0 = none); seq, pos, seg (B,T); seg −1 marks padding; bag
        (B,T,cfg.bag) the questions' tokens (collate(..., bag=cfg.bag)).
        Returns logits (B,T,V) for the sequence positions; with `with_slots`, also (B,S',V) for the
        plain (not memory) slots, in their order, for the slot targets (batch.collate); with
        `hidden`, the final states (B,T,width) that the head reads instead of the logits."""
        x, mask, memory = self.inputs(slots, seq, pos, seg, bag)
        s = x.shape[1] - seq.shape[1]
        for _ in range(self.cfg.loop):
            for block in self.blocks:
                x = block(x, mask, memory)
        if with_slots:
            h = self.ln(x)
            return self.head(h[:, s:]), self.head(h[:, :s])
        if hidden:
            return self.ln(x[:, s:])
        return self.head(self.ln(x[:, s:]))


def split_memory(slots: torch.Tensor, is_mem: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,S,K) slots and (B,S) which are memory → (plain slots, memory slots), each packed to the
    front of its row with zero (absent) slots after; the order within each kind is kept."""

    def front(which: torch.Tensor) -> torch.Tensor:
        order = torch.argsort((~which).to(torch.int8), dim=1, stable=True)
        n = int(which.sum(dim=1).max())
        picked = torch.gather(slots, 1, order[:, :n, None].expand(-1, -1, slots.shape[2]))
        return picked * torch.gather(which, 1, order[:, :n])[:, :, None]

    return front(~is_mem), front(is_mem)


def embed_bags(tok: nn.Embedding, maps: torch.Tensor, bag: torch.Tensor) -> torch.Tensor:
    """(B,T,K) question tokens at the questions' positions (0 elsewhere) → (B,T,D): the sum of
    each place's token embedding through that place's map."""
    out = torch.zeros(*bag.shape[:2], tok.embedding_dim, dtype=tok.weight.dtype, device=bag.device)
    at = bag[:, :, 0] != 0
    if at.any():
        out[at] = torch.einsum("nkd,kde->ne", tok(bag[at]), maps)
    return out


def orthogonal(n: int, width: int) -> torch.Tensor:
    return torch.stack([torch.linalg.qr(torch.randn(width, width))[0] for _ in range(n)])


def init_weights(module: nn.Module) -> None:
    """PyTorch's default (fan-in) init for linear layers, Xavier for the attention projections,
    small embeddings. GPT-2's N(0, 0.02) everywhere kept the sharp question→slot lookups of the
    pointer tasks on their plateau (bench/probes/lookup.py)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
            if m.padding_idx is not None:  # a slot's unused places must add nothing
                nn.init.zeros_(m.weight[m.padding_idx])
    for m in module.modules():
        if isinstance(m, Block):
            nn.init.xavier_uniform_(m.qkv.weight)


def build_mask(slots: torch.Tensor, pos: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    """(B,1,S+T,S+T) bool: True where a query may attend to a key."""
    b, s, _ = slots.shape
    slot_ok = slots[:, :, 0] != 0  # (B,S)
    same = (
        (seg[:, :, None] == seg[:, None, :]) & (pos[:, None, :] <= pos[:, :, None]) & (seg[:, :, None] >= 0)
    )
    top = slot_ok[:, None, :].expand(b, s, s)
    top = torch.cat([top, torch.zeros(b, s, seg.shape[1], dtype=torch.bool, device=seg.device)], dim=2)
    bottom = torch.cat([slot_ok[:, None, :].expand(b, seg.shape[1], s), same], dim=2)
    mask = torch.cat([top, bottom], dim=1)
    # every query keeps itself, so padded rows never softmax over nothing
    eye = torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
    return (mask | eye)[:, None]
