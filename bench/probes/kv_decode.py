"""Greedy decoding with the key-value cache (`TorchML._generate`) against the decoder it replaced,
which ran a full forward pass over every packed sequence for each output token: the same outputs,
and the seconds, side by side on the same questions.

    python -m bench.probes.kv_decode DB [--questions N] [--repeats R] [--threads T]

DB is an experiment database with a trained model (its latest version is used); the questions are
a seeded sample of its training split, decoded as answers and as decompositions (fan_out), the two
calls a round makes of every node. Prints one JSON line per mode: median seconds before and after
(interleaved, so load hits both), their ratio, and the share of outputs that agree exactly."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

RECOMPUTE_CHUNK = 256  # the old decoder's sequences per forward pass


def recompute(ml: Any, mode: str, items: Sequence[tuple[Any, list[str]]]) -> list[tuple[list[str], float]]:
    """The decoder before the cache (ida 088ea93 `TorchML._generate`, less the state keeping)."""
    from ida_cli.model.batch import EOS_ID, collate, pack, shortest_first

    exs = ml.examples(items)
    logp, done = [0.0] * len(exs), [False] * len(exs)
    index = {id(ex): i for i, ex in enumerate(exs)}
    with torch.no_grad():
        for _ in range(ml.max_new[mode]):
            live = [ex for ex, d in zip(exs, done, strict=True) if not d]
            if not live:
                break
            seqs = shortest_first(pack(live, ml.per_seq), ml.net.cfg.bag)
            for c in range(0, len(seqs), RECOMPUTE_CHUNK):
                chunk = seqs[c : c + RECOMPUTE_CHUNK]
                t = collate(chunk, decode=True, bag=ml.net.cfg.bag)
                h = ml.net(t["slots"], t["seq"], t["pos"], t["seg"], t.get("bag"), hidden=True)
                lp = torch.log_softmax(ml.net.head(h[t["last"][:, 0], t["last"][:, 1]]).float(), dim=-1)
                flat = [ex for seq in chunk for ex in seq]
                for ex, tok, score in zip(
                    flat, lp.argmax(-1).tolist(), lp.max(-1).values.tolist(), strict=True
                ):
                    logp[index[id(ex)]] += score
                    if tok == EOS_ID:
                        done[index[id(ex)]] = True
                    else:
                        ex.out.append(tok)
    return [([ml.vocab.tokens[i] for i in ex.out], lp) for ex, lp in zip(exs, logp, strict=True)]


def main() -> None:
    from ida_cli.learn.versions import load_model
    from ida_cli.model.vocab import input_tokens
    from ida_cli.store import Store, questions

    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--questions", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    store = Store(args.db)
    with store.read() as con:
        task = con.execute("SELECT task FROM questions LIMIT 1").fetchone()[0]
        sample = questions.sample_train(con, task, 1, args.questions)
    ml = load_model(store, task)
    assert ml is not None
    for mode in ("answer", "fan_out"):
        items = [(q.context, input_tokens(ml._task, mode, q.question)) for q in sample]
        times: dict[str, list[float]] = {"recompute": [], "cached": []}
        outs: dict[str, list[tuple[list[str], float]]] = {}
        for _ in range(args.repeats):
            for name in ("recompute", "cached"):
                started = time.perf_counter()
                outs[name] = recompute(ml, mode, items) if name == "recompute" else ml._generate(mode, items)
                times[name].append(time.perf_counter() - started)
        before, after = statistics.median(times["recompute"]), statistics.median(times["cached"])
        same = np.mean([a[0] == b[0] for a, b in zip(outs["recompute"], outs["cached"], strict=True)])
        gap = max(abs(a[1] - b[1]) for a, b in zip(outs["recompute"], outs["cached"], strict=True))
        tokens = sum(len(toks) + 1 for toks, _ in outs["cached"])
        print(
            json.dumps(
                {
                    "task": task,
                    "mode": mode,
                    "questions": len(items),
                    "output_tokens": tokens,
                    "threads": args.threads,
                    "repeats": args.repeats,
                    "recompute_s": round(before, 3),
                    "cached_s": round(after, 3),
                    "speedup": round(before / after, 2),
                    "same_outputs": round(float(same), 4),
                    "max_logp_gap": float(f"{gap:.2e}"),
                    "machine": platform.machine(),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
