"""`tierline generate --btyd`: a transaction log from a known BG/NBD process, trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.command import assert_refused, run
from tests.conftest import EXAMPLES
from tierline.engine.spec import load_spec
from tierline.training.data import load_transactions

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def test_generate_btyd_writes_a_seeded_log_that_trains_against_bg_nbd(tmp_path: Path) -> None:
    """The same seed writes the same log, examples/btyd.toml reads it, and training on it
    reports the bg/nbd baseline and candidate."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for path in (a, b):
        proc = run("generate", "--customers", "3000", "--btyd", "--out", str(path), "-q")
        assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes()
    spec = load_spec(EXAMPLES / "btyd.toml")
    assert load_transactions(a, spec)["customer_id"].nunique() == 3000
    proc = run(
        "train", "--data", str(a), "--spec", str(EXAMPLES / "btyd.toml"),
        "--models", str(tmp_path / "models"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[1]
    assert "bg/nbd" in header and "  bg/nbd  " in proc.stdout


def test_generate_btyd_refuses_a_second_log(tmp_path: Path) -> None:
    """--btyd writes its log to --out, so --transactions beside it is refused with exit 2."""
    proc = run(
        "generate", "--customers", "10", "--btyd", "--out", str(tmp_path / "a.csv"),
        "--transactions", str(tmp_path / "t.csv"),
    )  # fmt: skip
    assert_refused(proc, "drop --transactions")
    assert not (tmp_path / "a.csv").exists()
