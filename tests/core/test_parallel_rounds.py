"""`ida round --workers N` / `--ray ADDRESS` (issue 8): the same trees as the serial round, only the
parent writes, crashes keep what finished, bad option sets change nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ida_cli.errors import Interrupted, NotFound
from ida_cli.rounds import dispatch
from ida_cli.rounds.dispatch import WorkerCrashed, chunk_size
from ida_cli.rounds.run import RoundOptions, run_round
from ida_cli.store import Store, treestore
from tests.helpers import Run, ida_subprocess

# columns that differ between two runs of the same round by nature: times and the session's uuid
VOLATILE = {
    "created_at",
    "started_at",
    "ended_at",
    "finished_at",
    "applied_at",
    "seconds",
    "session_id",
    "pid",
}
TINY = ["--layers", "1", "--width", "32", "--batch", "8", "--eval-every", "5", "--max-steps", "10"]


def contents(db: Path, skip: set[str] = VOLATILE) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the database but the sessions, without the volatile columns, sorted."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        for table in sorted(set(tables) - {"sessions"}):
            cols = [
                c
                for c, kind in con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
                    [table],
                ).fetchall()
                if c not in skip and "TIMESTAMP" not in kind
            ]
            out[table] = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL").fetchall()
    return out


def twin(ida: Run, db: Path, *generate: str) -> Path:
    """Generate questions into db and return a copy of it, for the serial and the parallel run."""
    assert ida("questions", "generate", *generate).code == 0
    other = db.with_name("twin.duckdb")
    shutil.copy(db, other)
    return other


def round_doc(ida: Run, db: Path, *args: str) -> dict[str, Any]:
    os.environ["IDA_DB"] = str(db)  # the ida fixture's monkeypatch restores it
    r = ida("round", *args, "--json")
    assert r.code == 0, r.stderr
    doc: dict[str, Any] = r.json()
    for key in ("seconds", "nodes_per_second", "ml_batches"):  # timing, and how ML calls were batched
        doc.pop(key)
    return doc


@pytest.mark.parametrize("task", ["permutation", "unionfind"])
def test_workers_store_the_serial_rounds_trees(ida: Run, db: Path, task: str) -> None:
    other = twin(ida, db, "--task", task, "--size", "8", "--count", "60", "--seed", "4")
    serial = round_doc(ida, db, "--questions", "40", "--seed", "3")
    parallel = round_doc(ida, other, "--questions", "40", "--seed", "3", "--workers", "2")
    assert parallel == serial and serial["questions"] == 40 and serial["accuracy"] == 1.0
    assert contents(other) == contents(db)
    # a second round continues the ids and takes the remaining questions, as serially
    assert round_doc(ida, other, "--questions", "30", "--workers", "3") == round_doc(
        ida, db, "--questions", "30"
    )
    assert contents(other) == contents(db)


def test_chunks_cover_the_slots() -> None:
    assert [chunk_size(n, 2, False) for n in (1, 7, 8, 9, 500, 10_000)] == [1, 1, 1, 2, 63, 64]
    assert [chunk_size(n, 2, True) for n in (1, 9, 400, 10_000)] == [1, 5, 200, 256]


def test_parallel_option_errors(ida: Run, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "1")
    before = contents(db, skip=set())
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    cases = {
        ("--workers", "0"): "error: --workers must be at least 1\n",
        ("--workers", "-2"): "error: --workers must be at least 1\n",
        (
            "--workers",
            "2",
            "--ray",
            "auto",
        ): "error: --workers and --ray do not go together: use one of them\n",
        ("--ray", "auto"): "error: --ray needs Ray, which is not installed: pip install 'ida[ray]'\n",
        (
            "--ray",
            " ",
        ): "error: --ray needs the address of a Ray cluster, e.g. --ray 127.0.0.1:6379 or --ray auto\n",
    }
    for args, message in cases.items():
        r = ida("round", "--questions", "2", *args)
        assert (r.code, r.stdout, r.stderr) == (2, "", message), args
    assert contents(db, skip=set()) == before


def workers_of(parent: int) -> list[int]:
    """The pool's worker processes: children of the forkserver this process started."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    return [w for server in children.get(parent, []) for w in children.get(server, [])]


def test_a_killed_worker_fails_the_round_and_keeps_finished_trees(ida: Run, db: Path) -> None:
    other = twin(ida, db, "--task", "permutation", "--size", "8", "--count", "240", "--seed", "2")
    round_doc(ida, db, "--questions", "240", "--seed", "5")
    killed: list[int] = []

    def kill_one(done: int, total: int) -> None:
        if not killed:
            killed.append(workers_of(os.getpid())[0])
            os.kill(killed[0], signal.SIGKILL)

    opts = RoundOptions(questions=240, seed=5, workers=2)
    with pytest.raises(WorkerCrashed) as caught:
        run_round(Store(other), opts, progress=kill_one)
    with duckdb.connect(str(other), read_only=True) as con:
        (status,) = con.execute("SELECT status FROM rounds").fetchone()
        kept = con.execute("SELECT question_id, nodes, answer, overseer_calls FROM trees").fetchall()
    with duckdb.connect(str(db), read_only=True) as con:
        serial = set(con.execute("SELECT question_id, nodes, answer, overseer_calls FROM trees").fetchall())
    assert status == "failed" and 0 < len(kept) < 240 and set(kept) <= serial
    assert str(caught.value) == (
        f"a worker process died (killed by signal 9): round 1 kept its {len(kept)} finished trees "
        f"and lost {240 - len(kept)}; run `ida round` again for more"
    )
    assert caught.value.exit_code == 1 and not workers_of(os.getpid())


def test_ctrl_c_keeps_finished_trees_and_stops_the_workers(db: Path, ida: Run) -> None:
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "200", "--seed", "2")

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted) as caught:
        run_round(Store(db), RoundOptions(questions=200, workers=2), progress=interrupt)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM rounds").fetchone() == ("interrupted",)
        (kept,) = con.execute("SELECT count(*) FROM trees").fetchone()
    assert kept >= chunk_size(200, 2, False)
    assert str(caught.value).startswith(f"interrupted: round 1 kept its {kept} finished trees; the ")
    assert not workers_of(os.getpid())


@pytest.mark.parametrize("workers", [None, 2])
def test_ctrl_c_during_a_write_stores_the_batch_once(
    db: Path, ida: Run, monkeypatch: pytest.MonkeyPatch, workers: int | None
) -> None:
    """The store raises a Ctrl-C that came during a transaction after its COMMIT: the round must
    count that batch as stored, not write it again while stopping (a duplicate key, before)."""
    ida("questions", "generate", "--task", "permutation", "--size", "8", "--count", "40", "--seed", "2")
    module, name = (treestore, "write_trees") if workers is None else (dispatch, "insert_chunks")
    write = getattr(module, name)

    def interrupted_write(con: Any, *args: Any) -> Any:
        monkeypatch.setattr(module, name, write)  # once
        os.kill(os.getpid(), signal.SIGINT)  # held back by the store until after COMMIT
        return write(con, *args)

    monkeypatch.setattr(module, name, interrupted_write)
    with pytest.raises(Interrupted) as caught:
        run_round(Store(db), RoundOptions(questions=40, workers=workers))
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM rounds").fetchone() == ("interrupted",)
        kept, distinct = con.execute("SELECT count(*), count(DISTINCT question_id) FROM trees").fetchone()
    assert kept == distinct > 0
    assert str(caught.value).startswith(f"interrupted: round 1 kept its {kept} finished trees; ")


def test_a_workers_error_reaches_the_caller(db: Path, ida: Run) -> None:
    """A worker loads the parent's model version itself; a version it cannot find is its error."""
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "8", "--seed", "2")

    class Absent:
        task, version = "wildcard", 7

    with pytest.raises(NotFound, match="no trained model version 7"):
        run_round(Store(db), RoundOptions(strategy="none", questions=4, workers=2), ml=Absent())  # type: ignore[arg-type]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM rounds").fetchall() == [("failed",)]


def trained(ida: Run, db: Path, adversary: bool) -> Path:
    """A tiny model (and adversary) for wildcard; returns a copy of the database to run in parallel."""
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "120", "--seed", "1")
    ida("round", "--questions", "10")
    assert ida("train", "model", *TINY).code == 0
    if adversary:
        assert ida("train", "adversary", "--layers", "1", "--width", "32", "--max-steps", "5").code == 0
    other = db.with_name("twin.duckdb")
    shutil.copy(db, other)
    # a copied project reads its own checkpoints, never the original's (issue 21, item 2)
    shutil.copytree(db.with_name(db.name + ".checkpoints"), other.with_name(other.name + ".checkpoints"))
    return other


def assert_same_up_to_float_noise(serial: Path, parallel: Path) -> None:
    """ML's batches hold other trees in the workers, so its floats (log p, S) may differ in the last
    bits; everything else is equal."""
    a, b = contents(serial), contents(parallel)
    assert {k: v for k, v in a.items() if k != "nodes"} == {k: v for k, v in b.items() if k != "nodes"}
    assert len(a["nodes"]) == len(b["nodes"])
    for x, y in zip(a["nodes"], b["nodes"], strict=True):
        assert [v for v in x if not isinstance(v, float)] == [v for v in y if not isinstance(v, float)]
        assert [v for v in x if isinstance(v, float)] == pytest.approx([v for v in y if isinstance(v, float)])


def test_model_strategies_in_workers_match_the_serial_round(ida: Run, db: Path) -> None:
    other = trained(ida, db, adversary=False)
    # α annealed over the trees: each worker must give a tree the α of its position in the round
    args = ["--strategy", "uncertainty", "--alpha", "-3", "--alpha-end", "-0.1", "--questions", "16"]
    assert round_doc(ida, other, *args, "--workers", "2") == round_doc(ida, db, *args)
    assert_same_up_to_float_noise(db, other)


@pytest.mark.slow
def test_adversary_strategies_in_workers_match_the_serial_round(ida: Run, db: Path) -> None:
    other = trained(ida, db, adversary=True)
    for args in (
        ["--strategy", "adversary", "--questions", "12", "--seed", "1"],
        ["--strategy", "bernoulli", "--questions", "12", "--confidence", "-0.5", "--pick", "adversary"],
    ):
        assert round_doc(ida, other, *args, "--workers", "2") == round_doc(ida, db, *args)
    assert_same_up_to_float_noise(db, other)


def test_ray_round_matches_the_serial_round(ida: Run, db: Path) -> None:
    """A local Ray cluster started here; a separate `ida round --ray ADDRESS` connects to it."""
    ray = pytest.importorskip("ray")
    other = twin(ida, db, "--task", "permutation", "--size", "8", "--count", "40", "--seed", "4")
    info = ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )
    try:
        r = ida_subprocess(
            other,
            "round",
            "--questions",
            "30",
            "--seed",
            "3",
            "--ray",
            info.address_info["address"],
            "--json",
            timeout=120,
        )
    finally:
        ray.shutdown()
    assert r.returncode == 0, r.stderr
    parallel = json.loads(r.stdout)
    serial = round_doc(ida, db, "--questions", "30", "--seed", "3")
    assert {k: v for k, v in parallel.items() if k in serial} == serial
    assert contents(other) == contents(db)


def test_an_unreachable_ray_cluster_changes_nothing(ida: Run, db: Path) -> None:
    pytest.importorskip("ray")
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "1")
    before = contents(db, skip=set())
    r = ida("round", "--questions", "2", "--ray", "127.0.0.1:1")
    assert (r.code, r.stderr) == (
        2,
        "error: cannot reach the Ray cluster at 127.0.0.1:1: Connection refused; check the address, or "
        "start one with `ray start --head`\n",
    )
    assert contents(db, skip=set()) == before


def test_workers_are_capped_at_the_cores() -> None:
    import os

    from ida_cli.rounds.parallel import PoolDispatcher

    dispatcher = PoolDispatcher(1000)
    try:
        assert dispatcher.slots == (os.cpu_count() or 1)
    finally:
        dispatcher.close(kill=True)
