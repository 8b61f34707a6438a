"""What the tests share: running the CLI (in-process and as a subprocess), a throwaway PostgreSQL
server, and the fakes of ML and the adversary that the walker and round tests use. Fixtures are in
conftest.py; test modules import everything else from here."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ida_cli.cli import app
from ida_cli.tasks.base import Task
from ida_cli.vocabulary import JSON, UNKNOWN, Answer, Ask, Step, Transcript, Tree, canonical

ROOT = Path(__file__).resolve().parent.parent
PG_PASSWORD = "ida-secret-pw"


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


Run = Callable[..., Result]


def in_process(target: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The CLI run in-process with IDA_DB=target (a file path or a server URL)."""
    monkeypatch.setenv("IDA_DB", target)
    monkeypatch.delenv("IDA_TRACEBACK", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    runner = CliRunner()

    def run(*args: str) -> Result:
        r = runner.invoke(app, list(args), catch_exceptions=False)
        return Result(r.exit_code, r.stdout, r.stderr)

    return run


def ida_subprocess(
    db: Path, *args: str, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "IDA_DB": str(db), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ida_cli", *args], text=True, capture_output=True, env=full_env, cwd=ROOT, **kw
    )


# a child that Ctrl-C reaches as it reaches a terminal's foreground job: the test process may hold
# SIGINT ignored or blocked, and a child inherits both across exec (the suite's two Ctrl-C tests
# failed together in a loaded full run: the round ran to its end, the training past 60 s)
_INTERRUPTIBLE = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); sys.argv[0] = 'ida'; "
    "runpy.run_module('ida_cli', run_name='__main__', alter_sys=True)"
)


def ida_popen(db: Path, *args: str) -> subprocess.Popen[str]:
    """`ida ARGS` in a child process that a SIGINT interrupts, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTIBLE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "IDA_DB": str(db)},
    )


def sigint_state() -> str:
    """How this process holds SIGINT (what a child would inherit), for a failing test's message."""
    import signal

    blocked = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    return f"this process: SIGINT handler {signal.getsignal(signal.SIGINT)!r}, blocked {blocked}"


# -- a real PostgreSQL server for the tests of the PostgreSQL backend --------------------------------------
def postgres_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian puts it under /usr/lib/postgresql)."""
    import glob
    import shutil

    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1 in a temporary folder (initdb refuses to run as
    root: as root the server runs as the `postgres` user). Password authentication (scram) for TCP."""

    def __init__(self, bindir: Path, port: int | None = None, fast: bool = True) -> None:
        import tempfile

        self.bindir, self.port, self.user, self.password = bindir, port or free_port(), "ida", PG_PASSWORD
        self.root = Path(tempfile.mkdtemp(prefix="ida-pg-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.fast = fast
        self._n = 0
        self._as = self._runas()
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            subprocess.run(["chown", "-R", self._as[2], str(self.root)], check=True)
        self._run(
            "initdb", "-D", str(self.data), "-U", self.user, f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        self.start()

    @staticmethod
    def _runas() -> list[str]:
        if os.geteuid() != 0:
            return []
        import shutil

        user = "postgres"
        try:
            import pwd

            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
        runuser = shutil.which("runuser")
        return [runuser, "-u", user, "--"] if runuser else ["su", user, "-s", "/bin/sh", "-c", "--"]

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*self._as, str(self.bindir / tool), *args]
        r = subprocess.run(cmd, text=True, capture_output=True, cwd=self.root)
        if check and r.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stdout}{r.stderr}\n{log}")
        return r

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=400"
        if self.fast:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def psql(self, sql: str, db: str = "postgres") -> str:
        return self._run(
            "psql", "-h", str(self.root), "-p", str(self.port), "-U", self.user, "-d", db,
            "-v", "ON_ERROR_STOP=1", "-Atqc", sql,
        ).stdout  # fmt: skip

    def url(self, db: str, user: str | None = None, password: str | None = None) -> str:
        return (
            f"postgresql://{user or self.user}:{self.password if password is None else password}"
            f"@127.0.0.1:{self.port}/{db}"
        )

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        self._n += 1
        name = f"t{os.getpid()}_{self._n}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        import shutil

        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# -- fakes of ML and the adversary -----------------------------------------------------------------
Item = tuple[JSON, JSON, int | None]


def _u(*parts: JSON) -> float:
    """A uniform in [0, 1) fixed by its arguments: the fakes answer the same item the same way in
    any batch."""
    return zlib.crc32(canonical(list(parts)).encode()) / 2**32


class FakeML:
    """Right with probability `p_right` per (context, question), else a wrong well-formed value;
    log p high when right and low when wrong. Imitates the expert's steps, or (perfect=False for
    steps) garbles a fifth of them into "?"."""

    version = 1

    def __init__(self, task: Task, p_right: float = 0.7, garble: float = 0.0) -> None:
        self.t, self.task, self.p_right, self.garble = task, task.name, p_right, garble
        self.calls: list[tuple[str, int]] = []

    def _wrong(self, context: JSON, truth: JSON) -> JSON:
        if isinstance(truth, int) and not isinstance(truth, bool):
            return (truth + 1) % (len(context["perm"]) if "perm" in context else 8)
        return UNKNOWN

    def answer(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[JSON, float]]:
        self.calls.append(("answer", len(items)))
        out = []
        for context, question in items:
            truth, u, v = self.t.truth(context, question), _u(context, question), _u(question, 1)
            if u < self.p_right:
                out.append((truth, math.log(0.6 + 0.4 * v)))
            else:
                out.append((self._wrong(context, truth), math.log(0.05 + 0.5 * v)))
        return out

    def _step(self, y: Step, *key: JSON) -> tuple[Step, float]:
        return (Answer(UNKNOWN), -5.0) if _u(*key, "step") < self.garble else (y, -0.01)

    def fan_out(self, items: Sequence[tuple[JSON, JSON]]) -> list[tuple[Step, float]]:
        self.calls.append(("fan_out", len(items)))
        return [self._step(self.t.expert_fan_out(c, q), c, q) for c, q in items]

    def fan_in(self, items: Sequence[tuple[JSON, JSON, Transcript]]) -> list[tuple[Step, float]]:
        self.calls.append(("fan_in", len(items)))
        return [self._step(self.t.expert_fan_in(c, q, tr), c, q, list(tr)) for c, q, tr in items]


class FakeScorer:
    """S near 0 for a right answer, near −1 for a wrong one, with a little noise."""

    def __init__(self, task: Task) -> None:
        self.t = task
        self.calls = 0

    def score(self, items: Sequence[tuple[JSON, JSON, JSON]], logps: object = None) -> list[float]:
        self.calls += 1
        return [(-0.2 if a == self.t.truth(c, q) else -1.0) + 0.3 * _u(c, q, a, "s") for c, q, a in items]


def items_for(task: Task, count: int, size: int = 16, seed: int = 0, ids: bool = True) -> list[Item]:
    import numpy as np  # conftest imports this module before it limits each worker's threads

    rng = np.random.default_rng(seed)
    out: list[Item] = []
    while len(out) < count:
        ctx = task.generate_context(size, rng)
        out += [(ctx, q, None) for q in task.generate_questions(ctx, 8, rng)]
    return [(c, q, 1000 + i if ids else None) for i, (c, q, _) in enumerate(out[:count])]


def signature(tree: Tree) -> list[Any]:
    """Everything a tree records: its JSON, counts, and every node's draws and ML fields."""
    fields = ("ml_answer", "ml_logp", "gumbel", "gumbel_threshold", "recursed", "primitive", "truth")
    nodes = [[getattr(n, f) for f in fields] for n in tree.nodes()]
    acts = [(a.node.id, a.actor, a.kind, a.step, a.result) for a in tree.actions]
    return [tree.to_json(), nodes, acts, tree.overseer_calls, tree.primitive_calls, tree.model_calls]


class GarbageML(FakeML):
    """An untrained model: asks the question itself, invalid questions, or answers out of form."""

    def _step(self, y: Step, *key: JSON) -> tuple[Step, float]:
        u, question = _u(*key, "g"), key[1]
        if u < 0.2:
            return Ask((question,)), -3.0
        if u < 0.4:
            return Ask(({"x": 999, "k": 1},)), -3.0
        if u < 0.5:
            return Answer("seven"), -3.0
        return y, -0.5


# -- a tiny model ------------------------------------------------------------------------------------
TINY = ["--layers", "1", "--width", "32", "--batch", "8", "--eval-every", "5", "--max-steps", "10"]


def generate(ida: Run, count: int, seed: int = 1, task: str = "permutation") -> None:
    """`count` training questions of `task` at size 8, refused loudly if the command fails."""
    r = ida(
        "questions", "generate", "--task", task, "--size", "8", "--count", str(count), "--seed", str(seed)
    )
    assert r.code == 0, r.stderr


def setup(ida: Run, task: str = "wildcard", count: int = 200) -> None:
    ida(
        "questions",
        "generate",
        "--task",
        task,
        "--size",
        "8",
        "--count",
        "40",
        "--seed",
        "1",
        "--split",
        "eval",
    )
    ida("questions", "generate", "--task", task, "--size", "8", "--count", str(count), "--seed", "1")
