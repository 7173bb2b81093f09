"""Scoring a customer table chunk by chunk: memory bounded by the chunk, not the file.

``score_chunks`` reads the file a chunk at a time (``data.read_customer_chunks``), scores
chunks on joblib threads (``TierModel.score_frame``: the compiled forest and the feature
code release the GIL for much of their work) while the next chunk is read and the last
one written, and appends the scored chunks, in file order, to a temporary file that
becomes the output only once every chunk has scored (``writing.table_writer``). A bad value
in any chunk stops the run with the file's line numbers and leaves no output. Scoring a
row depends on that row alone, so the output is the whole file's, byte for byte.

Ids must be unique over the whole file: each chunk's ids are kept as 64-bit hashes (8
bytes a row) and, if two hashes agree, the id column alone is read to name the repeats
exactly as the whole-file check does (``data.check_unique_ids``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from tierline.engine.model import TierModel
from tierline.training import data as data_io
from tierline.training import writing
from tierline.training.dialect import CsvDialect

__all__ = ["CHUNK_ROWS", "ScoredFile", "score_chunks"]

# Rows per chunk: enough to keep the per-chunk costs small next to the rows' own, few
# enough that a chunk in each stage of the pipeline stays far below the memory target.
CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class ScoredFile:
    """What a scored file holds: its rows and how many got each tier (most first)."""

    rows: int
    tier_mix: dict[str, int]


@dataclass(frozen=True)
class _Chunk:
    scored: pd.DataFrame
    id_hashes: np.ndarray
    tiers: Counter[str]


def score_chunks(
    model: TierModel,
    path: str | Path,
    out: str | Path,
    *,
    explain: bool = False,
    dialect: CsvDialect | None = None,
    chunk_rows: int = CHUNK_ROWS,
    threads: int | None = None,
) -> ScoredFile:
    """Score the customer table at ``path`` into ``out`` (see the module's docstring)."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    spec = model.spec
    workers = threads or os.cpu_count() or 1
    chunks = data_io.read_customer_chunks(
        path, spec, chunk_rows=chunk_rows, dialect=dialect, model=model.version
    )
    hashes: list[np.ndarray] = []
    tiers: Counter[str] = Counter()
    rows = 0
    with writing.table_writer(out) as write:
        for chunk in _scored(model, chunks, explain=explain, workers=workers):
            write(chunk.scored)
            hashes.append(chunk.id_hashes)
            tiers.update(chunk.tiers)
            rows += len(chunk.scored)
        if _repeats(hashes):
            data_io.check_unique_ids(path, spec, dialect=dialect, model=model.version)
    return ScoredFile(rows=rows, tier_mix=dict(tiers.most_common()))


def _scored(
    model: TierModel, chunks: Iterator[pd.DataFrame], *, explain: bool, workers: int
) -> Iterator[_Chunk]:
    """The chunks scored, in order, ``workers`` at a time; reading stays at most
    ``2 * workers`` chunks ahead of the caller (plus the one read to know the last), so
    a core that finishes a chunk starts the next at once instead of waiting while it
    is read."""

    def one(frame: pd.DataFrame, last: bool) -> _Chunk:
        # Chunks run side by side, one thread each; the file's last chunk splits its rows
        # over every core, or the cores the others have finished with would stand idle.
        scored = model.score_frame(frame, explain=explain, threads=workers if last else 1)
        ids = frame[model.spec.id] if model.spec.id in frame.columns else pd.Series([], dtype=str)
        hashed = pd.util.hash_pandas_object(ids, index=False).to_numpy()
        return _Chunk(scored, hashed, Counter(scored["tier"].tolist()))

    if workers <= 1:
        yield from (one(frame, last) for frame, last in _marking_last(chunks))
        return
    yield from Parallel(
        n_jobs=workers, prefer="threads", return_as="generator", pre_dispatch="2 * n_jobs"
    )(delayed(one)(frame, last) for frame, last in _marking_last(chunks))


def _marking_last(chunks: Iterator[pd.DataFrame]) -> Iterator[tuple[pd.DataFrame, bool]]:
    """Each chunk, and whether it is the last (known by reading one chunk ahead)."""
    held = next(chunks, None)
    for following in chunks:
        assert held is not None
        yield held, False
        held = following
    if held is not None:
        yield held, True


def _repeats(hashes: list[np.ndarray]) -> bool:
    """Whether two ids may be the same (two equal hashes; a collision is checked after)."""
    every = np.sort(np.concatenate(hashes)) if hashes else np.empty(0, np.uint64)
    return bool(len(every) > 1 and (every[1:] == every[:-1]).any())
