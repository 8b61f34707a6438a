"""`--device`: names checked before anything is written, auto resolving to what torch sees, the
headline grid's cells keeping their keys, and (only where torch sees a GPU) training and decoding
on CUDA giving what the CPU gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ida_cli.errors import UsageError
from ida_cli.model import device
from tests.helpers import Run

ROOT = Path(__file__).resolve().parents[2]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tpu", "unknown device 'tpu': use --device auto, cpu or cuda"),
        ("cpu:0", "unknown device 'cpu:0': use --device auto, cpu or cuda"),
        ("cuda:x", "unknown device 'cuda:x': use --device auto, cpu or cuda"),
        ("", "unknown device '': use --device auto, cpu or cuda"),
    ],
)
def test_unknown_device_names(name: str, message: str) -> None:
    with pytest.raises(UsageError) as e:
        device.check(name)
    assert str(e.value) == message


def test_auto_is_what_torch_sees_and_cpu_under_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    assert device.resolve("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert device.resolve("cpu") == torch.device("cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert device.resolve("auto") == torch.device("cpu")  # gloo's collectives take CPU tensors
    with pytest.raises(UsageError, match=r"^--device cuda under torchrun: the processes train on the CPU"):
        device.check("cuda")
    assert device.of(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert device.of(torch.nn.ReLU()) == torch.device("cpu")  # no parameters


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line_and_writes_nothing(ida: Run, db: Path) -> None:
    ida("questions", "generate", "--task", "wildcard", "--size", "8", "--count", "8", "--seed", "1")
    r = ida("experiment", "--task", "wildcard", "--strategy", "full", "--budget", "500", "--device", "cuda")
    assert (r.code, r.stdout) == (2, "")
    assert r.stderr == "error: --device cuda: this machine has no GPU that torch can use; use --device auto\n"
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM experiments").fetchone() == (0,)


def test_the_device_is_not_part_of_a_grid_cell() -> None:
    """A finished cell's curve file is found by its key: an option that only says where the run
    computes must not change the keys of the committed results."""
    from ida_cli.grid.spec import build

    committed = {p.stem for p in (ROOT / "bench/results/grid").glob("wildcard-*.json")}
    cells = build(ROOT / "bench/grids/headline.toml", ["wildcard"], None, None, []).cells()
    assert committed and committed <= {c.key for c in cells}
    assert all("--device" not in c.argv() for c in cells)


@cuda
def test_an_online_experiment_runs_on_cuda_and_moves_to_the_cpu_on_resume(ida: Run, db: Path) -> None:
    """The same code on a GPU: student, teacher, AdamW's moments and the adversary on CUDA, the
    live state saved from there and resumed on the CPU, the published teacher loaded by `ida eval`
    on the CPU."""
    from tests.core.test_online import TINY

    first = ida("experiment", *TINY[:-2], "--max-cycles", "2", "--device", "cuda", "--json")
    assert first.code == 0, first.stderr
    assert [p["steps"] for p in first.json()] == [6, 12]
    more = ida("experiment", *TINY[:-2], "--max-cycles", "3", "--extend", "--device", "cpu", "--json")
    assert more.code == 0, more.stderr
    assert [p["steps"] for p in more.json()] == [6, 12, 18]
    assert ida("eval", "--task", "wildcard", "--json").code == 0
