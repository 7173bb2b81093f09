"""Bad options, specs and data files given to `tierline train`, `score`, `evaluate` and
`generate`: one message naming the problem, exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.command import assert_refused, run
from tests.conftest import EXAMPLES, Trained

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("train", "--data", "{tmp}/nope.csv", "--spec", "{examples}/demo.toml"), "does not exist"),
        (("train", "--data", "{data}", "--spec", "{tmp}/nope.toml"), "does not exist"),
        (("train", "--data", "{tmp}/data.xlsx", "--spec", "{examples}/demo.toml"), ".xlsx"),
        (("train", "--data", "{data}", "--spec", "{tmp}/bad_syntax.toml"), "not valid TOML"),
        (("train", "--data", "{data}", "--spec", "{tmp}/unknown_key.toml"), "unknown key 'colour'"),
        (("train", "--data", "{data}", "--spec", "{tmp}/protected.toml"), "protected"),
        (("train", "--data", "{data}", "--spec", "{tmp}/missing_col.toml"), "'loyalty_points'"),
        (
            (
                "train",
                "--data",
                "{data}",
                "--spec",
                "{examples}/demo.toml",
                "--promote",
                "sometimes",
            ),
            "sometimes",
        ),
        (("score", "--data", "{data}", "--out", "{tmp}/out.xlsx", "--models", "{models}"), ".xlsx"),
        (
            (
                "score",
                "--data",
                "{data}",
                "--out",
                "{tmp}/o.csv",
                "--models",
                "{models}",
                "--as-of",
                "2026-01-01",
            ),
            "--as-of",
        ),
        (
            (
                "score",
                "--data",
                "{data}",
                "--out",
                "{tmp}/o.csv",
                "--models",
                "{models}",
                "--version",
                "v0077",
            ),
            "'v0077'",
        ),
        (
            ("score", "--data", "{data}", "--out", "{tmp}/o.csv", "--models", "{tmp}/empty"),
            "No champion",
        ),
        (("generate", "--customers", "0", "--out", "{tmp}/g.csv"), "customers"),
        (
            (
                "score",
                "--data",
                "{data}",
                "--out",
                "{tmp}/o.csv",
                "--models",
                "{models}",
                "--sep",
                ":",
            ),
            "--sep",
        ),
        (("evaluate", "--data", "{data}", "--models", "{models}", "--decimal", ";"), "--decimal"),
    ],
)
def test_bad_input_is_refused_with_exit_2(
    trained: Trained, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    """Every refusal is one message naming the problem, exit code 2, nothing written."""
    spec = (EXAMPLES / "demo.toml").read_text()
    (tmp_path / "bad_syntax.toml").write_text(spec.replace("[target]", "[target"))
    (tmp_path / "unknown_key.toml").write_text(spec.replace("[target]", "[target]\ncolour = 'red'"))
    (tmp_path / "protected.toml").write_text(spec.replace('"region",', '"region", "gender",'))
    (tmp_path / "missing_col.toml").write_text(
        spec.replace('"party_size",', '"party_size", "loyalty_points",')
    )
    (tmp_path / "data.xlsx").write_text("x")
    fill = {
        "tmp": str(tmp_path),
        "examples": str(EXAMPLES),
        "data": str(trained.data),
        "models": str(trained.models),
    }
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = run(
        *(a.format(**fill) for a in args),
        cwd=tmp_path,
        env={"TIERLINE_MODELS": str(tmp_path / "models")},
    )
    assert_refused(proc, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


BAD_DATA = {
    "empty.csv": "",
    "header_only.csv": "{header}\n",
    "dup_ids.csv": "{header}\n{row_a}\n{row_a_vip}\n",
    "text_in_number.csv": "{header}\n{row_text}\n",
    "unknown_tier.csv": "{header}\n{row_gold}\n",
}


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("empty.csv", "empty"),
        ("header_only.csv", "no rows"),
        ("dup_ids.csv", "duplicate"),
        ("text_in_number.csv", "'twelve'"),
        ("unknown_tier.csv", "'gold'"),
    ],
)
def test_bad_data_files_are_refused_with_exit_2(
    trained: Trained, tmp_path: Path, name: str, needle: str
) -> None:
    """Empty files, duplicate ids, text in numbers and unknown tiers: exit 2, named, nothing written."""
    source = pd.read_csv(trained.data, dtype=str, nrows=2, keep_default_na=False)
    header = ",".join(source.columns)
    row = source.iloc[0].to_dict()
    as_line = lambda r: ",".join(str(r[c]) for c in source.columns)  # noqa: E731
    text = BAD_DATA[name].format(
        header=header,
        row_a=as_line(row),
        row_text=as_line({**row, "visits_90d": "twelve"}),
        row_gold=as_line({**row, "tier": "gold"}),
        row_a_vip=as_line({**row, "tier": "vip" if row["tier"] != "vip" else "standard"}),
    )
    data = tmp_path / name
    data.write_text(text)
    models = tmp_path / "models"
    proc = run(
        "train", "--data", str(data), "--spec", str(EXAMPLES / "demo.toml"), "--models", str(models)
    )
    assert_refused(proc, needle)
    assert not models.exists() or not any(models.glob("v*"))


def test_every_data_problem_is_listed_at_once(trained: Trained, tmp_path: Path) -> None:
    """Bad cells in several columns are all named with their lines in one run: exit 2,
    no model written."""
    frame = pd.read_csv(trained.data, dtype=str, keep_default_na=False).head(50)
    frame.loc[3, "visits_90d"] = "twelve"
    frame.loc[9, "visits_90d"] = "€12,50"
    frame.loc[5, "loyalty_member"] = "maybe"
    frame.loc[7, "tier"] = "gold"
    data = tmp_path / "bad.csv"
    frame.to_csv(data, index=False)
    models = tmp_path / "models"
    proc = run(
        "train", "--data", str(data), "--spec", str(EXAMPLES / "demo.toml"), "--models", str(models)
    )
    assert_refused(proc, "has 4 problems; fix them all, then run again")
    for needle in (
        "'twelve' (line 5)",
        "'€12,50' (line 11)",
        "'maybe' (line 7)",
        "'gold' (line 9)",
    ):
        assert needle in proc.stderr, proc.stderr
    assert "--decimal ," in proc.stderr  # the amount gets money advice
    assert not models.exists() or not any(models.glob("v*"))


def test_single_class_target_is_refused(trained: Trained, tmp_path: Path) -> None:
    """A target column holding one tier only cannot train a model: exit 2, named."""
    frame = pd.read_csv(trained.data, dtype=str, keep_default_na=False).head(200)
    frame["tier"] = "standard"
    data = tmp_path / "one_class.csv"
    frame.to_csv(data, index=False)
    proc = run(
        "train",
        "--data",
        str(data),
        "--spec",
        str(EXAMPLES / "demo.toml"),
        "--models",
        str(tmp_path / "m"),
    )
    assert_refused(proc, "single class")
