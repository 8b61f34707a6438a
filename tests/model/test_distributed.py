"""`ida train model|adversary` under `torchrun --nproc_per_node 2` on the CPU (gloo): both processes
train, the replicas end with the same weights, and only rank 0 writes a version and a checkpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.helpers import ROOT, Run


def _torchrun(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "IDA_DB": str(db), "OMP_NUM_THREADS": "1"}
    launcher = [
        str(torchrun),
        "--nproc_per_node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]
    return subprocess.run(
        [*launcher, "-m", "ida_cli", *args],
        text=True,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


def _versions(db: Path, kind: str) -> list[tuple[int, str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT version, status, metrics FROM versions WHERE kind = ? ORDER BY version", [kind]
        ).fetchall()
    return [(int(v), str(s), str(m)) for v, s, m in rows]


def _questions(ida: Run) -> None:
    assert (
        ida(
            "questions", "generate", "--task", "wildcard", "--size", "8", "--count", "400", "--seed", "3"
        ).code
        == 0
    )


def test_model_trains_in_two_processes_and_rank_0_alone_writes(ida: Run, db: Path) -> None:
    _questions(ida)
    r = _torchrun(db, "train", "model", "--supervised", "--max-steps", "12", "--eval-every", "6", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)  # one JSON document: rank 1 printed nothing
    assert out["metrics"]["processes"] == 2
    assert out["metrics"]["replicas_agree"] is True
    assert out["metrics"]["steps"] == 12
    (version, status, metrics) = _versions(db, "model")[0]
    assert (version, status) == (1, "ready") and len(_versions(db, "model")) == 1
    assert json.loads(metrics)["replicas_agree"] is True
    checkpoints = sorted(p.name for p in db.with_name(db.name + ".checkpoints").iterdir())
    assert checkpoints == ["model-v1.pt"]


@pytest.mark.slow
def test_adversary_trains_in_two_processes(ida: Run, db: Path) -> None:
    _questions(ida)
    assert ida("train", "model", "--supervised", "--max-steps", "10").code == 0
    r = _torchrun(db, "train", "adversary", "--supervised", "--max-steps", "8", "--eval-every", "4", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["metrics"]["processes"] == 2 and out["metrics"]["replicas_agree"] is True
    assert [v for v, _, _ in _versions(db, "adversary")] == [1]
