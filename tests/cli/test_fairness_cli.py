"""The fairness gate as a person and cron see it: `tierline train` and `tierline retrain` on
a data set whose neighbourhood stands in for age, and on a fair one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.command import assert_refused, run
from tierline.engine.registry import Registry
from tierline.training.fairness import NO_REASON

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def train(data: Path, spec: Path, models: Path, *options: str) -> tuple[int, str, str]:
    """Run `tierline train -q` and return its exit code, stdout and stderr."""
    proc = run(
        "train", "--data", str(data), "--spec", str(spec), "--models", str(models), "-q", *options
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def test_train_refuses_to_promote_a_proxy_for_age(
    fairness_data: dict[str, Path], tmp_path: Path
) -> None:
    """A model whose neighbourhood stands in for age is written, not promoted (exit 0, as
    for any unpromoted version); the report shows the table and the last line says why."""
    models = tmp_path / "models"
    code, out, err = train(fairness_data["proxy"], fairness_data["spec"], models)
    assert code == 0, err
    assert any(
        line.split()[:4] == ["age_band", "rows", "vip", "standard"] for line in out.splitlines()
    )
    last = out.strip().splitlines()[-1]
    assert "v0001" in last and "not promoted" in last
    assert "the fairness gate refused" in last and "age_band" in last
    assert "--promote always --reason" in last
    registry = Registry(models)
    assert registry.champion() is None and registry.versions() == ["v0001"]
    assert registry.metadata("v0001")["fairness"]["passed"] is False


def test_promote_always_with_a_reason_records_the_override(
    fairness_data: dict[str, Path], tmp_path: Path
) -> None:
    """--promote always --reason promotes the refused model; the metadata keeps the reason
    and the time, and the last line says the gate was overridden."""
    models = tmp_path / "models"
    reason = "neighbourhood pricing approved by the owner"
    code, out, err = train(
        fairness_data["proxy"],
        fairness_data["spec"],
        models,
        "--promote",
        "always",
        "--reason",
        reason,
    )
    assert code == 0, err
    last = out.strip().splitlines()[-1]
    assert "promoted to champion" in last and f"overridden ({reason})" in last
    registry = Registry(models)
    assert registry.champion() == "v0001"
    fairness = registry.metadata("v0001")["fairness"]
    assert fairness["passed"] is False and fairness["override"]["reason"] == reason
    assert registry.history()[-1]["action"].endswith(reason)


def test_promote_always_without_a_reason_keeps_a_default(
    fairness_data: dict[str, Path], tmp_path: Path
) -> None:
    """Overriding without --reason still records the override, saying no reason was given."""
    models = tmp_path / "models"
    code, _, err = train(
        fairness_data["proxy"], fairness_data["spec"], models, "--promote", "always", "--json"
    )
    assert code == 0, err
    assert Registry(models).metadata("v0001")["fairness"]["override"]["reason"] == NO_REASON


def test_a_reason_needs_promote_always(fairness_data: dict[str, Path], tmp_path: Path) -> None:
    """--reason without --promote always, or a blank one, is bad input: exit 2, nothing written."""
    models = tmp_path / "models"
    data, spec = str(fairness_data["fair"]), str(fairness_data["spec"])
    for options in (("--reason", "why not"), ("--promote", "always", "--reason", " ")):
        proc = run("train", "--data", data, "--spec", spec, "--models", str(models), *options)
        assert_refused(proc, "--reason")
    assert not models.exists() or Registry(models).versions() == []


def test_retrain_promotes_the_fair_model_and_not_the_proxy(
    fairness_data: dict[str, Path], tmp_path: Path
) -> None:
    """retrain promotes the fair data set's model; the proxy's is written but not promoted,
    with the fairness verdict in its one-line summary."""
    models = tmp_path / "models"
    summaries = []
    for name in ("fair", "proxy"):
        proc = run(
            "retrain",
            "--data",
            str(fairness_data[name]),
            "--spec",
            str(fairness_data["spec"]),
            "--models",
            str(models),
        )
        assert proc.returncode == 0, proc.stderr
        summaries.append(json.loads(proc.stdout))
    fair, proxy = summaries
    assert fair["promoted"] is True and fair["fairness"]["passed"] is True
    assert proxy["promoted"] is False and proxy["fairness"]["passed"] is False
    assert "age_band" in proxy["fairness"]["why"]
    assert Registry(models).champion() == fair["version"] == "v0001"
