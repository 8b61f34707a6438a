"""The PostgreSQL backend against a real server (the session's `pg_server`): migrations, the basic
commands, connection errors, and what the postgres extension passes through."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ida_cli.cli import app
from ida_cli.store import Store, postgres
from ida_cli.store.migrations import MIGRATIONS, SCHEMA_VERSION, TABLES
from tests.helpers import ROOT, PgServer, Result, Run, ida_subprocess

FIXTURE = Path(__file__).parents[1] / "fixtures" / "schema.txt"


def pg_schema_text(url: str) -> str:
    """The schema as DuckDB sees it through the extension, in the form of tests/fixtures/schema.txt."""
    with Store(url).read() as con:
        rows = con.execute(
            """SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
               WHERE table_catalog = current_database() AND table_schema = current_schema()
               ORDER BY table_name, ordinal_position"""
        ).fetchall()
    return "".join(f"{t}.{c} {d}{'' if n == 'YES' else ' NOT NULL'}\n" for t, c, d, n in rows)


def run(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return ida_subprocess(Path(url), *args, env={"IDA_DB": url, **(env or {})})


def test_migrations_on_a_blank_database_give_the_expected_tables(pg_server: PgServer, pg_url: str) -> None:
    store = Store(pg_url)
    assert not store.exists()
    with store.write():
        pass
    assert store.exists()
    # the same columns and types as a DuckDB file (tests/fixtures/schema.txt)
    assert pg_schema_text(pg_url) == FIXTURE.read_text()
    name = pg_url.rsplit("/", 1)[1]
    assert pg_server.psql("SELECT version FROM schema_version ORDER BY 1", db=name).split() == [
        str(v) for v in range(1, SCHEMA_VERSION + 1)
    ]
    # PostgreSQL's own view: real tables, primary keys and indexes, float8 for DOUBLE
    tables = set(
        pg_server.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", db=name).split()
    )
    assert tables == set(TABLES)
    indexes = set(
        pg_server.psql("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'", db=name).split()
    )
    assert {"nodes_tree", "questions_task", "contexts_digest", "label_claims_pkey", "actions_pkey"} <= indexes
    assert (
        pg_server.psql(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'actions' "
            "AND column_name = 'seconds'",
            db=name,
        ).strip()
        == "double precision"
    )
    # a second process (fresh catalog) sees the migrated schema and does nothing
    r = run(pg_url, "init", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["created"] is False


def test_an_older_database_is_upgraded_in_place_on_the_server(pg_url: str) -> None:
    """Migration 1 only (as an older ida left it): a command upgrades it under the writer lock."""
    store = Store(pg_url)
    con = postgres.database(store.pg).cursor("test")  # type: ignore[arg-type]
    try:
        con.execute(MIGRATIONS[0])
        con.execute("INSERT INTO schema_version VALUES (1, now())")
        con.execute("INSERT INTO settings VALUES ('task', 'wildcard')")
    finally:
        con.close()
    postgres.close_all()
    r = run(pg_url, "status", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["settings"] == {"task": "wildcard"}
    assert pg_schema_text(pg_url) == FIXTURE.read_text()


def test_basic_commands_against_the_server(pg_ida: Run, pg_url: str, tmp_path: Path) -> None:
    r = pg_ida("init", "--task", "wildcard", "--size", "8", "--json")
    assert r.code == 0, r.stderr
    assert r.json()["created"] is True and r.json()["db"] == pg_url.replace(":ida-secret-pw", "")
    assert "ida-secret-pw" not in r.stdout
    assert pg_ida("init", "--json").json()["created"] is False
    r = pg_ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "30", "--seed", "2")
    assert r.code == 0, r.stderr
    r = pg_ida("round", "--strategy", "full", "--questions", "6", "--seed", "1", "--json")
    assert r.code == 0, r.stderr
    done = r.json()
    assert done["questions"] == 6 and done["accuracy"] == 1.0
    status = pg_ida("status", "--json").json()
    assert status["db"].startswith("postgresql://ida@127.0.0.1:") and "secret" not in json.dumps(status)
    assert status["counts"]["trees"] == 6 and status["counts"]["questions"] == 30
    assert status["overseer_calls"] == done["overseer_calls"] > 0
    assert status["bytes"] > 0 and status["schema_version"] == SCHEMA_VERSION
    panel = pg_ida("status")
    assert panel.code == 0 and "postgresql://ida@127.0.0.1" in panel.stdout
    # every table exports; the numbers match what the server holds
    for table in TABLES:
        out = tmp_path / f"{table}.jsonl"
        r = pg_ida("export", "--table", table, "--format", "jsonl", "-o", str(out), "--json")
        assert r.code == 0, (table, r.stderr)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == r.json()["rows"] == status["counts"].get(table, len(rows))
    nodes = [json.loads(line) for line in (tmp_path / "nodes.jsonl").read_text().splitlines()]
    assert len(nodes) == status["counts"]["nodes"] and all(n["tree_id"] for n in nodes)
    r = pg_ida("questions", "export", "--format", "parquet", "-o", str(tmp_path / "q.parquet"))
    assert r.code == 0, r.stderr
    r = pg_ida("trees", "show", "1", "--json")
    assert r.code == 0 and r.json()["id"] == 1
    r = pg_ida("trees", "export", "1", "-o", str(tmp_path / "t.json"))
    assert r.code == 0, r.stderr


def cli(*args: str) -> Result:
    """The CLI in-process (as the `ida` fixture runs it), with explicit global options."""
    r = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"IDA_TRACEBACK": ""})
    return Result(r.exit_code, r.stdout, r.stderr)


def test_the_same_numbers_as_a_duckdb_file(pg_url: str, tmp_path: Path) -> None:
    """The same commands on both backends store the same trees."""
    outs = []
    for db in (str(tmp_path / "same.duckdb"), pg_url):
        for args in (
            ("questions", "generate", "--task", "permutation", "--size", "8", "--count", "12", "--seed", "4"),
            ("round", "--strategy", "full", "--questions", "5", "--seed", "3"),
        ):
            r = cli("--db", db, *args)
            assert r.code == 0, r.stderr
        export = tmp_path / f"nodes-{len(outs)}.jsonl"
        r = cli("--db", db, "export", "--table", "nodes", "--format", "jsonl", "-o", str(export))
        assert r.code == 0, r.stderr
        outs.append([json.loads(line) for line in export.read_text().splitlines()])
    assert outs[0] == outs[1] and len(outs[0]) > 5


def test_wrong_password_and_wrong_database_exit_2_with_one_line(pg_server: PgServer, pg_url: str) -> None:
    base = f"127.0.0.1:{pg_server.port}"
    name = pg_url.rsplit("/", 1)[1]
    r = cli("--db", pg_server.url(name, password="not-the-pw"), "status")
    assert r.code == 2
    assert r.stderr == (
        f"error: cannot connect to postgresql://ida@{base}/{name}: "
        'password authentication failed for user "ida"; check the URL in --db or IDA_DB\n'
    )
    assert "not-the-pw" not in r.stderr + r.stdout
    r = cli("--db", pg_server.url("no_such_db"), "init")
    assert r.code == 2
    assert r.stderr == (
        f'error: cannot connect to postgresql://ida@{base}/no_such_db: database "no_such_db" does not exist; '
        "check the URL in --db or IDA_DB\n"
    )
    assert pg_server.password not in r.stderr
    r = cli("--db", pg_server.url(name, user="nobody"), "status", "--json")
    assert (r.code, r.stdout) == (2, "")
    assert (
        'password authentication failed for user "nobody"' in r.stderr and pg_server.password not in r.stderr
    )
    # --db wins over IDA_DB (a real process, reading IDA_DB), and the refused commands created nothing
    r = ida_subprocess(Path("x"), "--db", pg_url, "status", env={"IDA_DB": pg_server.url("no_such_db")})
    assert r.returncode == 2
    safe = pg_url.replace(":" + pg_server.password, "")
    assert r.stderr == f"error: no ida database at {safe}: run `ida init` (or pass --db)\n"
    assert (
        pg_server.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", db=name).strip() == "0"
    )


def test_a_server_that_is_not_there_exits_1(pg_server: PgServer) -> None:
    from tests.helpers import free_port

    url = f"postgresql://ida:{pg_server.password}@127.0.0.1:{free_port()}/x"
    r = cli("--db", url, "status")
    assert r.code == 1
    assert (
        r.stderr.startswith("error: cannot reach postgresql://ida@127.0.0.1:")
        and "Connection refused" in r.stderr
    )
    assert r.stderr.endswith("start the server (or wait for it), or check the URL in --db or IDA_DB\n")
    assert r.stderr.count("\n") == 1 and pg_server.password not in r.stderr


def test_a_url_that_is_not_one() -> None:
    from ida_cli.errors import BadConnection

    with pytest.raises(BadConnection, match="names no database"):
        Store("postgresql://u:secret@host:5432/")
    with pytest.raises(BadConnection, match="is not a usable PostgreSQL URL") as e:
        Store("postgresql://u:secret@host:notaport/db")
    assert "secret" not in str(e.value)
    # a URL that went through pathlib (as typer's Path option makes it) still works
    store = Store(Path("postgresql://u:pw@h:5433/db"))
    assert store.pg is not None and (store.pg.host, store.pg.port, store.pg.dbname) == ("h", 5433, "db")
    assert store.display == "postgresql://u@h:5433/db"


def test_what_the_extension_passes_through(pg_url: str) -> None:
    """The SQL ida relies on works on attached tables; what ida avoids is refused (so a change that
    starts to use it fails here first)."""
    store = Store(pg_url)
    with store.write() as con:
        con.execute("INSERT OR REPLACE INTO settings VALUES ('a', '1')")
        con.execute("INSERT OR REPLACE INTO settings VALUES ('a', '2')")
        con.execute("INSERT INTO settings VALUES ('b', '1') ON CONFLICT (key) DO UPDATE SET value = '3'")
        con.execute("INSERT INTO settings VALUES ('b', '1') ON CONFLICT (key) DO UPDATE SET value = '3'")
        import pyarrow as pa

        con.register("_t", pa.table({"key": ["c", "d"], "value": ["4", "5"]}))
        con.execute("INSERT INTO settings SELECT * FROM _t")
        con.unregister("_t")
    with store.read() as con:
        assert con.execute("SELECT * FROM settings ORDER BY 1").fetchall() == [
            ("a", "2"),
            ("b", "3"),
            ("c", "4"),
            ("d", "5"),
        ]
        frame = con.execute(
            "SELECT * FROM settings WHERE key IN (SELECT unnest(?::VARCHAR[]))", [["a", "d"]]
        ).pl()
        assert frame.height == 2
    for sql, words in (
        ("INSERT INTO settings VALUES ('r', '1') RETURNING key", "RETURNING"),
        ("CREATE SEQUENCE s1", "sequence"),
        ("CREATE TABLE l (x BIGINT[], s STRUCT(a INTEGER))", "composite"),
    ):
        with pytest.raises(Exception, match=words), store.write() as con:
            con.execute(sql)
    with store.read() as con:  # the refused writes changed nothing
        assert con.execute("SELECT count(*) FROM settings").fetchone() == (4,)


def test_writers_serialize_on_the_advisory_lock(pg_url: str) -> None:
    """A second writer waits for the first (ids as max+1 cannot race), then gives up with the
    holder's name after IDA_LOCK_TIMEOUT."""
    hold = """
import sys, time
from ida_cli.store import Store
with Store(sys.argv[1], command="ida hold").write() as con:
    con.execute("INSERT INTO settings VALUES ('held', 'yes')")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""
    assert run(pg_url, "init").returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, pg_url, "30"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = run(pg_url, "init", "--task", "wildcard", env={"IDA_LOCK_TIMEOUT": "0.5"})
        assert r.returncode == 2
        assert r.stderr == (
            "error: database is in use by ida hold: wait for it to finish, or use another --db\n"
        ), r.stderr
        # readers take no lock, and see only what was committed
        r = run(pg_url, "status", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["settings"] == {}
    finally:
        holder.kill()
        holder.wait()
    # the lock died with its holder's connection; its transaction was rolled back
    r = run(pg_url, "status", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["settings"] == {}


def test_concurrent_writers_get_distinct_ids(pg_url: str) -> None:
    """Four writers generating questions at once, each on its own server connection: every id is
    allocated once (ids are max+1 under the advisory lock)."""
    from ida_cli.project.questions import generate

    assert cli("--db", pg_url, "init").code == 0
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for part in range(3):
                generate(Store(pg_url, command=f"ida writer {seed}"), "wildcard", 8, 10, seed * 10 + part)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with Store(pg_url).read() as con:
        n, distinct, top = con.execute(
            "SELECT count(*), count(DISTINCT id), max(id) FROM questions"
        ).fetchone()
        contexts = con.execute("SELECT count(*), count(DISTINCT id), max(id) FROM contexts").fetchone()
    assert (n, distinct, top) == (120, 120, 120)
    assert contexts[0] == contexts[1] == contexts[2]


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_migration_4_carries_over_open_and_done_label_items(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A database from before shared stores: its open and done items become claims, skipped ones
    do not, and every label action gets its item id from its note."""
    db = str(tmp_path / "v3.duckdb") if backend == "duckdb" else str(request.getfixturevalue("pg_url"))
    if backend == "duckdb":
        import duckdb

        con: Any = duckdb.connect(db)
    else:
        con = postgres.database(Store(db).pg).cursor("test")  # type: ignore[arg-type]
    try:
        for number in (1, 2, 3):
            con.execute(MIGRATIONS[number - 1])
            con.execute("INSERT INTO schema_version VALUES (?, now())", [number])
        for iid, qid, who, status in (
            (1, 10, "ann", "done"),
            (2, 11, "ann", "skipped"),
            (3, 11, "bo", "open"),
        ):
            con.execute(
                "INSERT INTO label_items (id, round_id, position, question_id, annotator, status, "
                "started_at) VALUES (?, 1, ?, ?, ?, ?, now())",
                [iid, iid, qid, who, status],
            )
        for aid, note in ((1, '{"item": 1, "round": 1}'), (2, '{"item": 3}'), (3, None), (4, '{"x": 1}')):
            con.execute(
                "INSERT INTO actions (id, actor, kind, step, primitive, result, created_at, seconds, note) "
                "VALUES (?, 'human:ann', 'fan_out', 0, false, '{}', now(), 1.0, ?)",
                [aid, note],
            )
    finally:
        con.close()
    postgres.close_all()
    with Store(db).read() as con:
        claims = con.execute(
            "SELECT question_id, slot, item_id, annotator FROM label_claims ORDER BY 1"
        ).fetchall()
        items = con.execute("SELECT id, item_id FROM actions ORDER BY id").fetchall()
        version = con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    assert version == SCHEMA_VERSION
    assert [tuple(c) for c in claims] == [(10, 0, 1, "ann"), (11, 0, 3, "bo")]
    assert [tuple(i) for i in items] == [(1, 1), (2, 3), (3, None), (4, None)]


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_a_step_with_awkward_text_is_stored_as_given(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A person's step is inserted by the server itself on PostgreSQL (a literal, not a parameter):
    quotes, backslashes, dollar signs and non-ASCII text come back unchanged."""
    from datetime import datetime

    from ida_cli.store import label_actions as acts

    db = str(tmp_path / "w.duckdb") if backend == "duckdb" else str(request.getfixturevalue("pg_url"))
    text = 'it\'s a \\\\ "quoted" $ida$ ünïcode; DROP TABLE actions; --'
    at = datetime(2026, 1, 2, 3, 4, 5, 678901)
    with Store(db).write() as con:
        first = acts.add_action(
            con, session_id="s'1", actor="human:o'neil ünï", kind="fan_out", step=0, primitive=True,
            result={"answer": text}, at=at, seconds=1.25, note={"item": 7, "why": text},
        )  # fmt: skip
        second = acts.add_action(
            con, session_id=None, actor="human:x", kind="undo", step=2, primitive=False,
            result={"undo": first}, at=at, seconds=0.0, note={"item": 7}, supersedes=first,
        )  # fmt: skip
    with Store(db).read() as con:
        got = con.execute(
            "SELECT id, session_id, actor, primitive, result, created_at, seconds, supersedes, note, item_id "
            "FROM actions ORDER BY id"
        ).fetchall()
    from ida_cli.store.records import dumps

    assert [tuple(r) for r in got] == [
        (first, "s'1", "human:o'neil ünï", True, dumps({"answer": text}), at, 1.25, None,
         dumps({"item": 7, "why": text}), 7),
        (second, None, "human:x", False, '{"undo":1}', at, 0.0, first, '{"item":7}', 7),
    ]  # fmt: skip


def test_a_model_trained_on_one_machine_is_loaded_on_another(
    pg_ida: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoints of a server store live in the database too: a machine without the files (here:
    another working folder) fetches them, checked against their SHA-256."""
    trainer, other = tmp_path / "trainer", tmp_path / "other"
    trainer.mkdir(), other.mkdir()
    monkeypatch.chdir(trainer)
    gen = ("questions", "generate", "--task", "wildcard", "--size", "8", "--seed", "3")
    assert pg_ida(*gen, "--count", "24", "--split", "eval").code == 0
    assert pg_ida(*gen, "--count", "60").code == 0
    assert pg_ida("round", "--strategy", "full", "--questions", "12", "--seed", "1").code == 0
    tiny = ("--layers", "1", "--width", "32", "--max-steps", "6", "--eval-every", "3")
    assert pg_ida("train", "model", *tiny).code == 0
    assert pg_ida("train", "adversary", *tiny).code == 0
    here = pg_ida("eval", "--json")
    assert here.code == 0, here.stderr
    assert pg_ida("status", "--json").json()["counts"]["checkpoints"] == 2

    [trained] = list(trainer.iterdir())
    shutil.rmtree(trained)  # the other machine has none of the trainer's files
    monkeypatch.chdir(other)
    there = pg_ida("eval", "--json")
    assert there.code == 0, there.stderr
    assert there.json()["accuracy"] == here.json()["accuracy"]
    assert there.json()["adversary_auroc"] == here.json()["adversary_auroc"]
    [folder] = list(other.iterdir())
    assert sorted(p.name for p in folder.iterdir()) == ["adversary-v1.pt", "model-v1.pt"]
    (folder / "model-v1.pt").write_bytes(b"not a checkpoint")  # damaged on this machine
    bad = pg_ida("eval")
    assert bad.code == 2 and "does not match its recorded SHA-256" in bad.stderr
