"""Scoring a customer table in chunks: the whole-file answer, byte for byte, in bounded memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import Trained
from tierline.engine import forest as forest_module
from tierline.engine.errors import DataError
from tierline.engine.forest import Forest
from tierline.engine.model import TierModel
from tierline.engine.registry import Registry
from tierline.training.data import load_customers
from tierline.training.streaming import score_chunks
from tierline.training.writing import write_table


def _model(trained: Trained) -> TierModel:
    """A freshly loaded champion (its compiled forest not built yet)."""
    registry = Registry(trained.models)
    return registry.load(registry.champion() or "")


def _whole_file(model: TierModel, data: Path, out: Path, *, explain: bool = False) -> None:
    """The path the chunks must match: the whole table read, scored and written at once."""
    frame = load_customers(data, model.spec, with_target=False, model=model.version)
    write_table(model.score_frame(frame, explain=explain), out)


def _rows(trained: Trained, tmp_path: Path, n: int) -> Path:
    """The first ``n`` demo customers as their own CSV file."""
    path = tmp_path / f"first_{n}.csv"
    pd.read_csv(trained.data, dtype=str, keep_default_na=False).head(n).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("rows", "chunk_rows"), [(6000, 7), (6000, 1000), (6000, 10_000)])
def test_chunks_give_the_whole_file_output_byte_for_byte(
    trained: Trained, tmp_path: Path, rows: int, chunk_rows: int
) -> None:
    """Scored in chunks (uneven, several, or one larger than the file) the output file is
    the whole-file path's, byte for byte, and the summary counts every row."""
    model = _model(trained)
    _whole_file(model, trained.data, tmp_path / "whole.csv")
    summary = score_chunks(model, trained.data, tmp_path / "chunks.csv", chunk_rows=chunk_rows)
    assert (tmp_path / "chunks.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    scored = pd.read_csv(tmp_path / "whole.csv", dtype=str)
    assert summary.rows == rows == len(scored)
    assert summary.tier_mix == scored["tier"].value_counts().to_dict()


def test_chunks_of_one_row_with_reasons(trained: Trained, tmp_path: Path) -> None:
    """A chunk of one row (reasons included) still writes the whole-file output exactly."""
    model = _model(trained)
    data = _rows(trained, tmp_path, 40)
    _whole_file(model, data, tmp_path / "whole.csv", explain=True)
    score_chunks(model, data, tmp_path / "chunks.csv", chunk_rows=1, explain=True)
    assert (tmp_path / "chunks.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


@pytest.mark.parametrize("fmt", [".parquet", ".csv.gz"])
def test_chunks_to_parquet_and_gzip_read_as_the_whole_file(
    trained: Trained, tmp_path: Path, fmt: str
) -> None:
    """Parquet and gzip outputs written in chunks hold the whole-file path's table."""
    model = _model(trained)
    data = tmp_path / f"customers{fmt}"
    source = pd.read_csv(trained.data, dtype=str, keep_default_na=False)
    source.to_parquet(data) if fmt == ".parquet" else source.to_csv(data, index=False)
    _whole_file(model, data, tmp_path / f"whole{fmt}")
    score_chunks(model, data, tmp_path / f"chunks{fmt}", chunk_rows=999)
    read = pd.read_parquet if fmt == ".parquet" else pd.read_csv
    pd.testing.assert_frame_equal(read(tmp_path / f"chunks{fmt}"), read(tmp_path / f"whole{fmt}"))


def test_a_bad_value_in_a_later_chunk_leaves_no_output(trained: Trained, tmp_path: Path) -> None:
    """A value that is not a number in the eighth chunk is a DataError naming its line in
    the file, and neither a new nor a half-written output is left; an old one stays."""
    source = pd.read_csv(trained.data, dtype=str, keep_default_na=False)
    source.loc[750, "visits_90d"] = "twelve"
    data = tmp_path / "bad.csv"
    source.to_csv(data, index=False)
    out = tmp_path / "scored.csv"
    out.write_text("the old output", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        score_chunks(_model(trained), data, out, chunk_rows=100)
    assert "'twelve' (line 752)" in str(raised.value)
    with pytest.raises(DataError) as whole:
        load_customers(data, trained.spec, with_target=False)
    assert str(raised.value) == str(whole.value)  # the message the whole file gives
    assert out.read_text(encoding="utf-8") == "the old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "scored.csv"]


def test_an_id_repeated_across_chunks_is_refused_as_for_the_whole_file(
    trained: Trained, tmp_path: Path
) -> None:
    """An id in chunk one and again in chunk five gives the whole-file check's DataError
    (first line, count) and no output."""
    source = pd.read_csv(trained.data, dtype=str, keep_default_na=False)
    source.loc[4321, "customer_id"] = source.loc[12, "customer_id"]
    data = tmp_path / "repeated.csv"
    source.to_csv(data, index=False)
    with pytest.raises(DataError) as raised:
        score_chunks(_model(trained), data, tmp_path / "scored.csv", chunk_rows=1000)
    with pytest.raises(DataError) as whole:
        load_customers(data, trained.spec, with_target=False)
    assert str(raised.value) == str(whole.value)
    assert "first on line 14" in str(raised.value)
    assert not (tmp_path / "scored.csv").exists()


def test_the_chunks_compiled_forest_answers_as_lightgbm_bit_for_bit(
    trained: Trained, tmp_path: Path
) -> None:
    """With its compiled forest built, a model scores the chunks through it, to the bit of
    LightGBM's ``Booster.predict`` and to the byte of LightGBM's output file."""
    compiled = _model(trained)
    compiled.warm()
    assert isinstance(compiled.single_row_predictor(), Forest)
    X = compiled.features.transform(load_customers(trained.data, trained.spec, with_target=False))
    ours = compiled.predict_matrix(X, threads=2)
    assert compiled.booster is not None
    theirs = compiled.booster.predict(X, num_threads=1)
    assert np.array_equal(ours.view(np.int64), np.asarray(theirs).view(np.int64))
    score_chunks(compiled, trained.data, tmp_path / "compiled.csv", chunk_rows=500)
    _whole_file(_model(trained), trained.data, tmp_path / "lightgbm.csv")  # not warmed
    assert (tmp_path / "compiled.csv").read_bytes() == (tmp_path / "lightgbm.csv").read_bytes()


def test_a_forest_that_fails_its_check_leaves_the_chunks_to_lightgbm(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled forest one split off fails the load-time check; the chunks are then
    scored by LightGBM and the output is still the whole-file one."""
    flatten = forest_module._flatten

    def corrupted(trees: list[dict[str, str]]) -> tuple[np.ndarray, ...]:
        arrays = flatten(trees)
        num_leaves, node_base, node, threshold = arrays[0], arrays[1], arrays[4], arrays[5]
        roots = node_base[(num_leaves > 1) & (node[node_base] & 1 == 0)]
        threshold[roots[0]] = np.nextafter(threshold[roots[0]], np.inf)
        return arrays

    monkeypatch.setattr(forest_module, "_flatten", corrupted)
    model = _model(trained)
    model.warm()
    assert not isinstance(model.single_row_predictor(), Forest)
    score_chunks(model, trained.data, tmp_path / "chunks.csv", chunk_rows=2500)
    monkeypatch.undo()
    _whole_file(_model(trained), trained.data, tmp_path / "whole.csv")
    assert (tmp_path / "chunks.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
