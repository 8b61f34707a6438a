"""The online engine's replay cache: a cycle parses and tokenizes only what is new, and gets exactly
the rows, in exactly the order, and the examples that a read from scratch gets. (That a run with
a warm cache and a resumed run with an empty one draw the same batches is test_online.py's kill
test.)"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ida_cli.learn.data import ReplayCache, Rows, gather
from ida_cli.learn.runner import to_examples
from ida_cli.model.batch import SQ_ID, Example, segment, segment_length, seq_length
from tests.helpers import Run, generate


def full_round(ida: Run, questions: int) -> None:
    walked = ida("round", "--task", "permutation", "--strategy", "full", "--questions", str(questions))
    assert walked.code == 0, walked.stderr


def read_rows(db: Path, supervised: bool, cache: ReplayCache | None) -> Rows:
    with duckdb.connect(str(db), read_only=True) as con:
        return gather(con, "permutation", supervised, cache.rows if cache is not None else None)


def test_a_cached_read_of_grown_data_equals_a_fresh_one(ida: Run, db: Path) -> None:
    generate(ida, 24, 1)
    full_round(ida, 8)
    cache = ReplayCache()
    first = read_rows(db, False, cache)
    _, vocab = to_examples("permutation", first, None)
    memo = cache.memo(vocab.tokens)
    made, _ = to_examples("permutation", first, vocab, memo)
    parsed = len(cache.rows.texts)
    assert parsed > 0 and len(memo) == len(set(first.keys))

    full_round(ida, 8)
    cached, fresh = read_rows(db, False, cache), read_rows(db, False, None)
    assert cached == fresh  # items, roots and keys
    assert len(cache.rows.texts) > parsed  # the second round's texts parsed, the first's kept
    keys = fresh.keys
    assert len(keys) == len(fresh.items) and len(set(keys)) < len(keys)  # the memo repeats rows
    one: dict[object, object] = {}
    assert all(one.setdefault(k, row) is row for k, row in zip(keys, cached.items, strict=True))
    old = dict(memo)  # the first round's examples, as the memo held them
    again, _ = to_examples("permutation", cached, vocab, memo)
    assert again == to_examples("permutation", fresh, vocab)[0]
    kept = [ex is old[key] for ex, key in zip(again, keys, strict=True) if key in old]
    assert len(kept) >= len(made) and all(kept)  # taken from the memo, not tokenized again
    # another vocabulary: the memo starts over rather than hand out ids of the old one
    assert cache.memo([*vocab.tokens, "new"]) == {}


def test_a_read_in_small_chunks_is_the_same_read(ida: Run, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ida_cli.store import training_rows

    generate(ida, 8, 1)
    full_round(ida, 4)
    whole = (read_rows(db, False, None), read_rows(db, True, None))
    monkeypatch.setattr(training_rows, "CHUNK", 3)
    assert (read_rows(db, False, None), read_rows(db, True, None)) == whole


def test_supervised_rows_read_from_the_cache_are_the_same(ida: Run, db: Path) -> None:
    generate(ida, 16, 1)
    cache = ReplayCache()
    before = read_rows(db, True, cache)
    generate(ida, 16, 2)
    cached, fresh = read_rows(db, True, cache), read_rows(db, True, None)
    assert cached == fresh and len(fresh.items) == 2 * len(before.items) == 32
    assert {key[0] for key in fresh.keys if isinstance(key, tuple)} == {"truth"} and len(fresh.keys) == 32


def test_weighted_and_extra_rows_keep_their_keys(ida: Run, db: Path) -> None:
    generate(ida, 8, 1)
    full_round(ida, 4)
    rows = read_rows(db, False, None)
    heavy = rows.weighted(3).plus([rows.items[0]])
    n, roots = len(rows.items), len(rows.roots)
    assert len(heavy.items) == len(heavy.keys) == n + 2 * roots + 1
    # a root's copies are the root's row under its key; a row no table holds has none
    assert heavy.keys[n : n + 2 * roots] == [rows.keys[i] for i in rows.roots for _ in range(2)]
    assert heavy.keys[-1] is None


def test_a_memo_needs_a_fixed_vocabulary() -> None:
    with pytest.raises(ValueError, match="fixed vocabulary"):
        to_examples("permutation", Rows(), None, {})


ids = st.lists(st.integers(min_value=0, max_value=40), max_size=12)


@given(
    inp=ids,
    out=ids,
    sq=st.one_of(st.none(), st.integers(min_value=0, max_value=12)),
    bag=st.sampled_from([0, 4]),
)
def test_segment_length_is_the_length_of_the_segment(
    inp: list[int], out: list[int], sq: int | None, bag: int
) -> None:
    inp = [t for t in inp if t != SQ_ID]
    if sq is not None:
        inp.insert(min(sq, len(inp)), SQ_ID)
    if bag and not inp:
        inp = [7]  # a bagged segment starts with its mode token
    ex = Example(0, [[1, 2], [3]], inp, out)
    assert segment_length(ex, bag) == len(segment(ex, bag)[0])
    assert seq_length([ex, ex], bag) == 2 + 2 * len(segment(ex, bag)[0])
