"""The model report: one self-contained HTML page about a model version, for people.

Built from the version's metadata (metrics and baselines, the promotion gate, the figures
training keeps under ``metadata["report"]``, the fairness check when recorded) and, when
the caller has them, drift rows. Charts are inline SVG, the styles inline, and the page's
Content-Security-Policy forbids every fetch: it reads the same offline, attached to an
e-mail, or long after the models folder has moved on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tierline.engine.errors import DataError, NotFound
from tierline.engine.registry import Registry
from tierline.training.report.checks import Drift, drift_section, fairness_section
from tierline.training.report.markup import RETRAIN, esc, page, para
from tierline.training.report.sections import ModelSections

__all__ = ["Drift", "build_report", "render_report", "write_report"]


def render_report(
    *,
    version: str,
    metadata: Mapping[str, Any],
    champion: bool,
    drift: Drift = None,
    generated: dt.datetime | None = None,
) -> str:
    """The report of one version as a complete HTML document."""
    model = ModelSections(version, metadata, champion)
    sections = [
        model.metrics_table(),
        model.gate(),
        model.selection(),
        model.tier_mix(),
        model.gains(),
        model.fit(),
        model.calibration(),
        model.importance(),
        fairness_section(metadata.get("fairness")),
        drift_section(drift),
    ]
    body = [model.header()]
    if model.missing:  # filled while the sections above were built
        body.append(
            para(
                f"Needs a retrain to show: {', '.join(model.missing)} (this version was "
                f"trained before tierline kept them; {RETRAIN}).",
                "note",
            )
        )
    when = (generated or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    footer = f"<footer>Made by tierline report at {esc(when)}; one file, nothing fetched.</footer>"
    return page(title=f"tierline model report: {version}", body=[*body, *sections, footer])


def build_report(
    *, models: str | Path, version: str | None = None, drift: Drift = None
) -> tuple[str, str]:
    """The verified version (the champion when ``version`` is None) and its report.

    Raises ``NotFound`` for an unknown version or no champion, ``ArtifactError`` when the
    version's files do not match its manifest.
    """
    registry = Registry(models)
    champion = registry.champion()
    name = version or champion
    if name is None:
        raise NotFound(f"No champion model in {registry.root}; name a version or promote one")
    registry.verify(name)  # every digest, as a load would; the booster itself is not needed
    html = render_report(
        version=name, metadata=registry.metadata(name), champion=name == champion, drift=drift
    )
    return name, html


def write_report(html: str, path: str | Path) -> None:
    """Write the report to ``path`` atomically: a temporary file beside it is renamed into
    place, so a failure never leaves half a page nor destroys an earlier report."""
    target = Path(path)
    if target.is_dir():
        raise DataError(f"'{target}' is a folder; give --out a file name such as report.html")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise DataError(f"Cannot write '{target}': {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file 0600; give it the mode a plain open() would have had.
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise DataError(f"Cannot write '{target}': {exc.strerror or exc}") from exc
        raise
