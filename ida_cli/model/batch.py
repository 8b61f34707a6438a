"""Examples and their tensors. A sequence holds one context's slots and several question segments;
each segment is `input <bos> output` and is trained to predict `output <eos>`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ida_cli.model.vocab import BOS, EOS, SPECIALS, SQ

BOS_ID, EOS_ID, SQ_ID = SPECIALS.index(BOS), SPECIALS.index(EOS), SPECIALS.index(SQ)
IGNORE = -100


@dataclass(slots=True)  # millions in an online replay: no dict per example (0.15 GB a million)
class Example:
    group: int  # examples with the same group share a context (and its slots)
    slots: list[list[int]]
    inp: list[int]
    out: list[int]
    kind: str = ""  # what the example is, for per-kind metrics (e.g. "answer:dist")
    # the plain slot the question is about (vocab.question_slot), or -1: that slot's final state is
    # also trained to give the answer (a one-token one), so that a slot computes its own value and
    # a slot that depends on it can read it (bench/probes/assign.py)
    slot: int = -1
    # (bag, segment_length) once measured: the online engine measures every stored example each
    # cycle (21 CPU s at 3.4 M) and the same examples come back every cycle. An example's tokens
    # are not changed once it is measured (decoding sets `out` on examples it has just made)
    measured: tuple[int, int] | None = field(default=None, compare=False, repr=False)


def pack(
    examples: Sequence[Example], per_seq: int, rng: np.random.Generator | None = None
) -> list[list[Example]]:
    """Group examples by context into sequences of at most `per_seq` segments."""
    by_group: dict[int, list[Example]] = {}
    for ex in examples:
        by_group.setdefault(ex.group, []).append(ex)
    seqs: list[list[Example]] = []
    for exs in by_group.values():
        if rng is not None:
            exs = [exs[i] for i in rng.permutation(len(exs))]
        seqs += [exs[i : i + per_seq] for i in range(0, len(exs), per_seq)]
    if rng is not None:
        seqs = [seqs[i] for i in rng.permutation(len(seqs))]
    return seqs


BUCKET_POOL = 16  # batches sorted together by length: enough to group lengths, few enough to mix


def batches(
    seqs: list[list[Example]], batch: int, rng: np.random.Generator, by_length: bool = True
) -> tuple[list[list[list[Example]]], list[list[Example]]]:
    """`seqs` cut into batches of `batch` sequences, and the ones left over (fewer than `batch`),
    which the caller puts before the next epoch's. With `by_length` each batch holds sequences of
    similar lengths and the batches come in random order: a batch is padded to its longest
    sequence, and amplified data mixes short answers with fan-ins that carry their transcripts
    (unionfind's first amplified round: packed sequences of 59 tokens median, 182 at most; its
    batches of 64 were 1.4–3.1x padding)."""
    if not by_length:
        cut = len(seqs) - len(seqs) % batch
        return [seqs[i : i + batch] for i in range(0, cut, batch)], seqs[cut:]
    length = [sum(len(ex.inp) + len(ex.out) for ex in seq) for seq in seqs]
    runs: list[list[int]] = []
    for c in range(0, len(seqs), batch * BUCKET_POOL):
        pool = sorted(range(c, min(c + batch * BUCKET_POOL, len(seqs))), key=length.__getitem__)
        runs += [pool[i : i + batch] for i in range(0, len(pool), batch)]
    left = runs.pop() if runs and len(runs[-1]) < batch else []
    return [[seqs[i] for i in runs[r]] for r in rng.permutation(len(runs))], [seqs[i] for i in left]


def seq_length(seq: Sequence[Example], bag: int) -> int:
    """Positions a sequence takes in `collate`: its slots and its segments."""
    n = len(seq[0].slots)
    for ex in seq:  # the measured length inline: a call per example was most of a replay's 13 s
        known = ex.measured
        n += known[1] if known is not None and known[0] == bag else segment_length(ex, bag)
    return n


def segment_length(ex: Example, bag: int) -> int:
    """len(segment(ex, bag)[0]) without building the segment: the online engine measures every
    packed sequence of its replay each cycle (7.7 CPU s at 2.8 M rows, building them)."""
    if ex.measured is not None and ex.measured[0] == bag:
        return ex.measured[1]
    if not bag:
        n = len(ex.inp) + 1 + len(ex.out)
    else:
        rest = len(ex.inp) - ex.inp.index(SQ_ID) + 1 if SQ_ID in ex.inp else 0
        n = 1 + rest + len(ex.out)
    ex.measured = _MEASURES.setdefault((bag, n), (bag, n))  # one tuple per length, not per example
    return n


_MEASURES: dict[tuple[int, int], tuple[int, int]] = {}


def shortest_first(seqs: list[list[Example]], bag: int) -> list[list[Example]]:
    """Sequences in order of length, so that the chunks a caller cuts for inference are padded
    little (any order gives the same outputs)."""
    return sorted(seqs, key=lambda seq: seq_length(seq, bag))


def length_groups(lengths: Sequence[int], overhead: int) -> list[list[int]]:
    """Indices of sequences grouped into sub-batches, each of similar lengths, so that the positions
    computed (each group padded to its longest) plus `overhead` a group is least. A batch drawn
    uniformly from a replay of mixed lengths is otherwise mostly padding (unionfind's: 70%)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    best, cut = [0] + [0] * len(order), [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        longest = lengths[order[j - 1]]
        best[j], cut[j] = min((best[i] + (j - i) * longest + overhead, i) for i in range(j))
    groups, j = [], len(order)
    while j > 0:
        groups.append(order[cut[j] : j])
        j = cut[j]
    return groups[::-1]


def segment(ex: Example, bag: int) -> tuple[list[int], list[int], int]:
    """A segment's sequence tokens, the question bag of its first position, and how many of the
    tokens are input (the last input position predicts out[0]).

    Plain: `input <bos> out`. With a bag (docs/model.md item 1: one position per question): the mode and
    question become one position whose embedding also sums the question's tokens, each through its
    own learned map, so that the position itself can look facts up from the first layer on; a
    transcript, if any, follows as tokens, then `<bos>`."""
    if not bag:
        return [*ex.inp, BOS_ID, *ex.out], [], len(ex.inp) + 1
    cut = ex.inp.index(SQ_ID) if SQ_ID in ex.inp else len(ex.inp)
    rest = [*ex.inp[cut:], BOS_ID] if cut < len(ex.inp) else []
    return [ex.inp[0], *rest, *ex.out], ex.inp[1:cut][:bag], 1 + len(rest)


def collate(
    seqs: Sequence[Sequence[Example]],
    decode: bool = False,
    bag: int = 0,
    device: torch.device | None = None,
) -> dict[str, torch.Tensor]:
    """Tensors for a batch of sequences. With decode=True the segments end at the input (plus what
    is decoded so far in `out`) with no target, and `last` gives each segment's final position.
    `bag` > 0 lays each question out as one position (see `segment`); "bag" holds its tokens.
    `device`: where the net that reads them lives (model/device.py; None: the CPU)."""
    b = len(seqs)
    s = max(len(seq[0].slots) for seq in seqs)
    k = max(len(slot) for seq in seqs for slot in seq[0].slots)
    segs = [[segment(ex, bag) for ex in seq] for seq in seqs]
    t = max(sum(len(x[0]) for x in sg) for sg in segs)
    slots = np.zeros((b, s, k), dtype=np.int64)
    seq_ids = np.zeros((b, t), dtype=np.int64)
    pos = np.zeros((b, t), dtype=np.int64)
    seg = np.full((b, t), -1, dtype=np.int64)
    tgt = np.full((b, t), IGNORE, dtype=np.int64)
    bags = np.zeros((b, t, max(bag, 1)), dtype=np.int64)
    slot_tgt = np.full((b, s), IGNORE, dtype=np.int64)
    last = []
    for i, (sq, sg) in enumerate(zip(seqs, segs, strict=True)):
        for j, slot in enumerate(sq[0].slots):
            slots[i, j, : len(slot)] = slot
        at = 0
        for g, (ex, (toks, words, n_in)) in enumerate(zip(sq, sg, strict=True)):
            n = len(toks)
            seq_ids[i, at : at + n] = toks
            pos[i, at : at + n] = np.arange(n)
            seg[i, at : at + n] = g
            bags[i, at, : len(words)] = words
            if not decode:
                start = at + n_in - 1  # the last input position predicts out[0]
                tgt[i, start : start + len(ex.out) + 1] = [*ex.out, EOS_ID]
                if ex.slot >= 0 and len(ex.out) == 1:
                    slot_tgt[i, ex.slot] = ex.out[0]
            last.append((i, at + n - 1))
            at += n
    out = {
        "slots": torch.from_numpy(slots),
        "seq": torch.from_numpy(seq_ids),
        "pos": torch.from_numpy(pos),
        "seg": torch.from_numpy(seg),
        "tgt": torch.from_numpy(tgt),
        "slot_tgt": torch.from_numpy(slot_tgt),
    }
    if bag:
        out["bag"] = torch.from_numpy(bags)
    out["last"] = torch.tensor(last, dtype=torch.int64)
    if device is not None and device.type != "cpu":
        out = {k: v.to(device) for k, v in out.items()}
    return out


def exact_match(logits: torch.Tensor, tgt: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    """Per-segment exact match under teacher forcing, flattened in (sequence, segment) order.

    Greedy decoding reproduces a target exactly iff every target token is the argmax given the true
    prefix, so this equals the exact-match accuracy of greedy decoding, in one forward pass."""
    pred = logits.argmax(dim=-1)
    scored = tgt != IGNORE
    n_seg = int(seg.max().item()) + 1
    key = (torch.arange(seg.shape[0], device=seg.device)[:, None] * n_seg + seg.clamp(min=0))[scored]
    size = seg.shape[0] * n_seg
    wrong = torch.zeros(size, dtype=torch.int64, device=seg.device)
    wrong.index_add_(0, key, (pred != tgt)[scored].long())
    count = torch.zeros(size, dtype=torch.int64, device=seg.device).index_add_(0, key, torch.ones_like(key))
    return (wrong == 0)[count > 0].cpu()
