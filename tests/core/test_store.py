from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from ida_cli.errors import DatabaseBusy
from ida_cli.store import Store
from ida_cli.store.migrations import SCHEMA_VERSION
from tests.helpers import ROOT, Run, ida_popen, ida_subprocess, sigint_state

FIXTURE = Path(__file__).parents[1] / "fixtures" / "schema.txt"


def schema_text(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            """SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
               ORDER BY table_name, ordinal_position"""
        ).fetchall()
    return "".join(f"{t}.{c} {d}{'' if n == 'YES' else ' NOT NULL'}\n" for t, c, d, n in rows)


def test_blank_database_migrates_to_exactly_the_expected_schema(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store(db).write():
        pass
    assert schema_text(db) == FIXTURE.read_text()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_newer_schema_is_refused_and_left_alone(ida: Run, db: Path) -> None:
    ida("init")
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO schema_version VALUES (99, now())")
    r = ida("status")
    assert r.code == 2
    assert r.stderr == (
        f"error: {db} has schema version 99, newer than this ida knows ({SCHEMA_VERSION}): upgrade ida\n"
    )
    assert (
        ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "2", "--seed", "1").code
        == 2
    )
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM questions").fetchone() == (0,)


def test_a_file_that_is_not_a_duckdb_database(ida: Run, db: Path) -> None:
    db.write_text("hello, I am a text file\n")
    for args in (("status",), ("init",)):
        r = ida(*args)
        assert r.code == 2
        assert (
            r.stderr
            == f"error: {db} is not an ida database (not a DuckDB file): pass --db with another path\n"
        )
    assert db.read_text() == "hello, I am a text file\n"


def test_a_duckdb_file_of_another_program(ida: Run, db: Path) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE mine (x INTEGER)")
    r = ida("init")
    assert r.code == 2
    assert "not an ida database (it has other tables)" in r.stderr


def test_missing_database_for_a_reader(ida: Run, db: Path) -> None:
    r = ida("status")
    assert r.code == 2
    assert r.stderr == f"error: no database at {db}: run `ida init` (or pass --db)\n"
    assert not db.exists()


HOLD = """
import sys, time
from pathlib import Path
from ida_cli.store import Store
with Store(Path(sys.argv[1]), command="ida hold").write():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_database_in_use_waits_then_exits_2(ida: Run, db: Path) -> None:
    ida("init")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), "30"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        r = ida_subprocess(db, "status", env={"IDA_LOCK_TIMEOUT": "0.5"})
        assert r.returncode == 2
        assert (
            r.stderr == f"error: database is in use by ida hold (pid {holder.pid}): wait for it to finish, "
            "or use another --db\n"
        )
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its holder: the next command goes straight through
    assert ida("status", "--json").code == 0


def test_a_second_writer_waits_for_a_short_holder(ida: Run, db: Path) -> None:
    ida("init")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), "1"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    r = ida_subprocess(
        db,
        "questions",
        "generate",
        "--task",
        "wildcard",
        "--size",
        "8",
        "--count",
        "3",
        "--seed",
        "1",
        env={"IDA_LOCK_TIMEOUT": "20"},
    )
    holder.wait()
    assert r.returncode == 0, r.stderr


def test_ctrl_c_in_a_round_keeps_finished_trees(ida: Run, db: Path) -> None:
    # enough questions that the round cannot finish before the signal: with 3,000 it did on a
    # loaded machine, while the polling `ida status` waited for the lock, and exited 0
    ida("questions", "generate", "--task", "assignments", "--size", "64", "--count", "10000", "--seed", "1")
    proc = ida_popen(db, "round", "--questions", "10000", "--json")
    # polled in this process under the readers' lock, not by `ida status` subprocesses: those took
    # seconds each on a loaded machine, and the round (37 s idle) once ended before the signal. The
    # signal goes while the lock is held, so no batch commits between the count and the signal.
    deadline = time.monotonic() + 60
    trees = 0
    while time.monotonic() < deadline and trees == 0 and proc.poll() is None:
        time.sleep(0.05)
        try:
            with Store(db).read() as con:
                trees = con.execute("SELECT count(*) FROM trees").fetchone()[0]
                if trees:
                    proc.send_signal(signal.SIGINT)
        except DatabaseBusy:
            continue
    assert trees > 0, "the round wrote nothing within a minute"
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, f"{err}; {sigint_state()}"
    assert "kept its" in err and "the unfinished one was discarded" in err
    assert out == ""
    with duckdb.connect(str(db), read_only=True) as con:
        kept = con.execute("SELECT count(*) FROM trees").fetchone()[0]
        assert 0 < kept < 3000
        # every stored tree is whole: its node count matches its nodes, and no orphan nodes exist
        bad = con.execute("""SELECT count(*) FROM trees t WHERE t.nodes <>
                             (SELECT count(*) FROM nodes n WHERE n.tree_id = t.id)""").fetchone()[0]
        orphans = con.execute(
            "SELECT count(*) FROM nodes WHERE tree_id NOT IN (SELECT id FROM trees)"
        ).fetchone()[0]
        status = con.execute("SELECT status FROM rounds").fetchall()
    assert (bad, orphans) == (0, 0)
    assert status == [("interrupted",)]
    assert ida("status", "--json").json()["counts"]["trees"] == kept


def test_an_older_database_is_upgraded_in_place(ida: Run, db: Path) -> None:
    from ida_cli.store.migrations import MIGRATIONS

    with duckdb.connect(str(db)) as con:
        con.execute(MIGRATIONS[0])
        con.execute("INSERT INTO schema_version VALUES (1, now())")
        con.execute("INSERT INTO settings VALUES ('task', 'wildcard')")
    r = ida("status", "--json")
    assert r.code == 0, r.stderr
    assert r.json()["settings"] == {"task": "wildcard"}
    assert schema_text(db) == FIXTURE.read_text()
    with duckdb.connect(str(db), read_only=True) as con:
        assert [
            v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
        ] == list(range(1, SCHEMA_VERSION + 1))


READ_HOLD = """
import sys, time
from pathlib import Path
from ida_cli.store import Store
with Store(Path(sys.argv[1])).read():
    print("held", flush=True)
    time.sleep(30)
"""


def test_the_lock_message_never_names_a_writer_that_is_gone(ida: Run, db: Path) -> None:
    """A writer's name leaves the lock file with its lock, and a dead pid left there by a killed
    writer is not named either: a reader holding the lock is 'another ida process' (issue 21 item 8)."""
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "4", "--seed", "1")
    lock = db.with_name(db.name + ".lock")
    assert lock.read_text() == ""  # the last writer took its name with it
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(f"ida round (pid {dead.pid})")  # as a writer killed with the lock would leave it
    reader = subprocess.Popen(
        [sys.executable, "-c", READ_HOLD, str(db)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "held"
        r = ida_subprocess(db, "init", env={"IDA_LOCK_TIMEOUT": "0.3"})
        assert (r.returncode, r.stderr) == (
            2,
            "error: database is in use by another ida process: wait for it to finish, or use another --db\n",
        )
    finally:
        reader.kill()
        reader.wait()
