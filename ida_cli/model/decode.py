"""ML as the walker sees it (ida_cli.walk.ports.ML): batched greedy decoding with log-probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ida_cli.model import device
from ida_cli.model.batch import EOS_ID, Example, collate, pack, shortest_first
from ida_cli.model.cache import extend, prefill
from ida_cli.model.net import Net
from ida_cli.model.vocab import Vocab, context_slots, input_tokens, parse_answer, parse_step
from ida_cli.tasks import get_task
from ida_cli.vocabulary import JSON, Step, Transcript, canonical

MAX_NEW = {"answer": 24, "fan_out": 40, "fan_in": 40}
CHUNK = 256  # sequences per forward pass
# sequences decoded together: their keys and values are kept for every layer (unionfind, 8 layers,
# up to ~500 keys a sequence: ~4 MB a sequence)
DECODE_CHUNK = 64
# ML's input states kept from its last decodings (rows of `width` floats): the adversary's state
# probe reads the states of the very inputs a round or `ida eval` has just decoded, and recomputing
# them was a second forward pass of ML that more than doubled the adversary's scoring time
# (bench/perf/adversary_cost.py, bench/RESULTS.md)
STATE_CACHE = 1 << 16
# The adversary's step scores read ML's log p of the very steps a round has just decoded; the
# teacher-forced pass that recomputed them was a fifth of a unionfind round at 1,280 questions
# (py-spy, seventeenth session)
LOGPS = 1 << 16

StateKey = tuple[str, tuple[str, ...]]


class TorchML:
    def __init__(
        self,
        net: Net,
        vocab: Vocab,
        task: str,
        version: int = 0,
        per_seq: int = 8,
        max_out: dict[str, int] | None = None,
    ) -> None:
        self.net, self.vocab, self.task, self.version, self.per_seq = (
            net.eval(),
            vocab,
            task,
            version,
            per_seq,
        )
        # no output longer than the longest target seen in training (+ <eos>): a model that has
        # not learned to stop would otherwise decode to MAX_NEW, one full forward pass per token
        self.max_new = {m: min(n, (max_out or {}).get(m, n)) for m, n in MAX_NEW.items()}
        self._task = get_task(task)
        self._strict = task == "user"  # built-in vocabularies cover every size; user text may not
        self.states: dict[StateKey, np.ndarray] = {}  # (context, input tokens) → input state
        # (context, input tokens, output ids) → log p of an output just decoded to <eos>; see LOGPS
        self.logps: dict[tuple[str, tuple[str, ...], tuple[int, ...]], float] = {}

    # -- the ML protocol --------------------------------------------------------------------------
    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        outs = self._generate("answer", [(c, input_tokens(self._task, "answer", q)) for c, q in items])
        return [
            (parse_answer(self._task, q, c, toks), lp) for (c, q), (toks, lp) in zip(items, outs, strict=True)
        ]

    def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Step, float]]:
        outs = self._generate("fan_out", [(c, input_tokens(self._task, "fan_out", q)) for c, q in items])
        return [
            (parse_step(self._task, q, c, toks), lp) for (c, q), (toks, lp) in zip(items, outs, strict=True)
        ]

    def fan_in(self, items: Sequence[tuple[JSON, JSON, Transcript]]) -> list[tuple[Step, float]]:
        outs = self._generate("fan_in", [(c, input_tokens(self._task, "fan_in", q, t)) for c, q, t in items])
        return [
            (parse_step(self._task, q, c, toks), lp)
            for (c, q, _), (toks, lp) in zip(items, outs, strict=True)
        ]

    # -- decoding ---------------------------------------------------------------------------------
    def state_keys(self, items: Sequence[tuple[JSON, list[str]]]) -> list[StateKey]:
        canon: dict[int, str] = {}  # a batch shares few context objects: canonicalise each once
        keys = []
        for context, tokens in items:
            if id(context) not in canon:
                canon[id(context)] = canonical(context)
            keys.append((canon[id(context)], tuple(tokens)))
        return keys

    def examples(self, items: Sequence[tuple[JSON, list[str]]]) -> list[Example]:
        """One example per item; items with the same context share a group (and a sequence)."""
        groups: dict[str, int] = {}  # equal contexts share a group even as distinct objects
        seen: dict[int, tuple[int, list[list[int]]]] = {}
        out = []
        for context, tokens in items:
            if id(context) not in seen:
                group = groups.setdefault(canonical(context), len(groups))
                slots = [self.vocab.ids(s, self._strict) for s in context_slots(self._task, context)]
                seen[id(context)] = (group, slots)
            group, slots = seen[id(context)]
            out.append(Example(group, slots, self.vocab.ids(tokens, self._strict), []))
        return out

    def _generate(self, mode: str, items: Sequence[tuple[JSON, list[str]]]) -> list[tuple[list[str], float]]:
        if not items:
            return []
        exs = self.examples(items)
        logp = np.zeros(len(exs))
        ended = np.zeros(len(exs), dtype=bool)
        # each input's state before its first output token, for the adversary's probe
        states = np.zeros((len(exs), self.net.cfg.width), dtype=np.float32)
        seqs = shortest_first(pack(exs, self.per_seq), self.net.cfg.bag)
        index = {id(ex): i for i, ex in enumerate(exs)}
        with torch.no_grad():
            for c in range(0, len(seqs), DECODE_CHUNK):
                chunk = seqs[c : c + DECODE_CHUNK]
                at = torch.tensor([index[id(ex)] for seq in chunk for ex in seq])
                lp, h, done = self._decode(chunk, self.max_new[mode])
                logp[at.numpy()] = lp.cpu().numpy()
                states[at.numpy()] = h.cpu().numpy()
                ended[at.numpy()] = done.cpu().numpy()
        keys = self.state_keys(items)
        _keep(self.states, list(zip(keys, states, strict=True)), STATE_CACHE)
        # an output cut at max_new has no <eos> term, unlike a teacher-forced one: not kept
        kept = zip(keys, exs, logp.tolist(), ended.tolist(), strict=True)
        _keep(self.logps, [((*k, tuple(ex.out)), v) for k, ex, v, end in kept if end], LOGPS)
        return [([self.vocab.tokens[i] for i in ex.out], float(lp)) for ex, lp in zip(exs, logp, strict=True)]

    def _decode(
        self, chunk: list[list[Example]], max_new: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Greedy decoding of every segment of `chunk` (its outputs appended to each example's
        `out`), with a key-value cache. Returns, in (sequence, segment) order, each output's log
        probability (with the <eos> that ended it), each input's state before its first output,
        and whether the output ended with <eos> (not cut at max_new)."""
        dev = device.of(self.net)
        t = collate(chunk, decode=True, bag=self.net.cfg.bag, device=dev)
        hidden, cache = prefill(self.net, t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"))
        last = t["last"]
        h = hidden[last[:, 0], last[:, 1]]
        first = h.float()
        flat = [ex for seq in chunk for ex in seq]
        seq_of = last[:, 0]  # each segment's sequence (its row in the cache, before compaction)
        col = torch.tensor([g for seq in chunk for g in range(len(seq))], device=dev)
        nxt = t["pos"][last[:, 0], last[:, 1]] + 1  # the position of each segment's next token
        row = torch.arange(len(chunk), device=dev)  # each sequence's row in the cache; -1 once dropped
        live = torch.ones(len(flat), dtype=torch.bool, device=dev)
        logp = torch.zeros(len(flat), dtype=torch.float64, device=dev)  # summed in double, as floats were
        width = max(len(seq) for seq in chunk)
        for step in range(max_new):
            lp = torch.log_softmax(self.net.head(h).float(), dim=-1)
            score, best = lp.max(dim=-1)
            idx = live.nonzero()[:, 0]
            logp[idx] += score[idx].double()
            for k, tok in zip(idx.tolist(), best[idx].tolist(), strict=True):
                if tok != EOS_ID:
                    flat[k].out.append(tok)
            live[idx] = best[idx] != EOS_ID
            if step == max_new - 1 or not live.any():
                break
            rows_live = torch.zeros(len(chunk), dtype=torch.bool, device=dev)
            rows_live[seq_of[live]] = True
            if not rows_live[row >= 0].all():  # a sequence whose segments all ended leaves the batch
                kept = rows_live & (row >= 0)
                cache.keep(row[kept])
                row = torch.where(kept, torch.cumsum(kept, 0) - 1, torch.full_like(row, -1))
            idx = live.nonzero()[:, 0]
            r, g = row[seq_of[idx]], col[idx]
            n_rows = int((row >= 0).sum())
            tok = torch.zeros(n_rows, width, dtype=torch.long, device=dev)
            pos = torch.zeros(n_rows, width, dtype=torch.long, device=dev)
            seg = torch.full((n_rows, width), -1, dtype=torch.long, device=dev)
            tok[r, g], pos[r, g], seg[r, g] = best[idx], nxt[idx], g
            nxt[idx] += 1
            out = extend(self.net, cache, tok, pos, seg)
            h = torch.zeros(len(flat), out.shape[2], dtype=out.dtype, device=dev)
            h[idx] = out[r, g]
        return logp, first, ~live


def _keep(cache: dict[Any, Any], pairs: list[tuple[Any, Any]], limit: int) -> None:
    """Add pairs to a cache of at most `limit` entries, emptying it when they would not fit."""
    if len(cache) + len(pairs) > limit:
        cache.clear()
    if len(pairs) <= limit:
        cache.update(pairs)


def load_ml(payload: dict[str, Any], version: int) -> TorchML:
    from ida_cli.model.train import build

    net = build(payload["config"])
    net.load_state_dict(payload["model"])
    return TorchML(
        net, Vocab(list(payload["vocab"])), payload["task"], version, max_out=payload.get("max_out")
    )


def output_logp(ml: TorchML, items: Sequence[tuple[JSON, list[str], list[str]]]) -> list[float]:
    """log p_ML(output | input) for given (context, input tokens, output tokens), by teacher forcing:
    what ML thinks of an answer it did not necessarily give (the uncertainty baseline and Adv's input).
    An output ML has just decoded is read from its cache (equal but for float rounding)."""
    from ida_cli.model.batch import IGNORE

    out_ids = [tuple(ml.vocab.ids(out)) for _, _, out in items]
    known = [
        ml.logps.get((*key, ids))
        for key, ids in zip(ml.state_keys([(c, inp) for c, inp, _ in items]), out_ids, strict=True)
    ]
    todo = [i for i, lp in enumerate(known) if lp is None]
    if not todo:
        return [float(lp) for lp in known if lp is not None]
    exs = ml.examples([(items[i][0], items[i][1]) for i in todo])
    for ex, i in zip(exs, todo, strict=True):
        ex.out = list(out_ids[i])
    seqs = shortest_first(pack(exs, ml.per_seq), ml.net.cfg.bag)
    result: dict[int, float] = {}
    with torch.no_grad():
        for c in range(0, len(seqs), CHUNK):
            chunk = seqs[c : c + CHUNK]
            t = collate(chunk, bag=ml.net.cfg.bag, device=device.of(ml.net))
            logits = ml.net(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"))
            lp = torch.log_softmax(logits.float(), dim=-1)
            tgt = t["tgt"]
            picked = (lp.gather(2, tgt.clamp(min=0)[..., None])[..., 0] * (tgt != IGNORE)).cpu()
            seg = t["seg"].cpu()
            flat = [ex for seq in chunk for ex in seq]
            for ex, (i, g) in zip(flat, _segments(chunk), strict=True):
                result[id(ex)] = float(picked[i][seg[i] == g].sum())
    for ex, i in zip(exs, todo, strict=True):
        known[i] = result[id(ex)]
    return [float(lp) for lp in known if lp is not None]


def input_states(ml: TorchML, items: Sequence[tuple[JSON, list[str]]]) -> np.ndarray:
    """ML's final state where it predicts the first output token, for (context, input tokens):
    what ML made of the question before it answered (rows in the order of `items`). Inputs ML has
    just decoded are read from its cache; only the others cost a forward pass."""
    out = np.zeros((len(items), ml.net.cfg.width), dtype=np.float32)
    keys = ml.state_keys(items)
    todo = []
    for i, key in enumerate(keys):
        if (row := ml.states.get(key)) is not None:
            out[i] = row
        else:
            todo.append(i)
    if not todo:
        return out
    exs = ml.examples([items[i] for i in todo])
    index = {id(ex): todo[j] for j, ex in enumerate(exs)}
    seqs = shortest_first(pack(exs, ml.per_seq), ml.net.cfg.bag)
    with torch.no_grad():
        for c in range(0, len(seqs), CHUNK):
            chunk = seqs[c : c + CHUNK]
            t = collate(chunk, decode=True, bag=ml.net.cfg.bag, device=device.of(ml.net))
            h = ml.net(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"), hidden=True)
            rows = h[t["last"][:, 0], t["last"][:, 1]].float().cpu().numpy()
            for ex, row in zip([ex for seq in chunk for ex in seq], rows, strict=True):
                out[index[id(ex)]] = row
    return out


def _segments(chunk: Sequence[Sequence[Example]]) -> list[tuple[int, int]]:
    return [(i, g) for i, seq in enumerate(chunk) for g in range(len(seq))]
