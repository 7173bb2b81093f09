"""`tierline models`: list, inspect, promote and roll back model versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tierline.cli.console import JsonOpt, ModelsOpt, err, out
from tierline.cli.console import default_models as _default_models
from tierline.cli.console import emit_json as _emit_json
from tierline.engine.errors import TierlineError
from tierline.engine.registry import Registry

models_app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    help="List, inspect, promote and roll back model versions.",
    no_args_is_help=True,
)


# -- models -----------------------------------------------------------------------------
def _say_models(root: Path) -> None:
    """Which registry a models command works on (stderr: stdout stays the answer)."""
    err.print(f"models: {root.resolve()}", markup=False)


@models_app.command("list")
def models_list(models: ModelsOpt = None, as_json: JsonOpt = False) -> None:
    """List model versions, oldest first; the champion is marked."""
    from tierline.training.evaluate import PRIMARY

    registry = Registry(models or _default_models())
    _say_models(registry.root)
    infos = [registry.info(v) for v in registry.versions()]
    if as_json:
        _emit_json(
            [
                {
                    "version": i.version,
                    "created": i.created,
                    "kind": i.target_kind,
                    "champion": i.champion,
                    "metrics": {k: v for k, v in i.metrics.items() if isinstance(v, int | float)},
                }
                for i in infos
            ]
        )
        return
    if not infos:
        err.print(f"no model versions in {registry.root}")
        return
    table = Table("version", "created", "target", "metric", "champion")
    for i in infos:
        metric = PRIMARY.get(i.target_kind, "")
        value = i.metrics.get(metric)
        table.add_row(
            i.version,
            i.created,
            i.target_kind,
            f"{metric} {value:.3f}" if value is not None else "",
            "★" if i.champion else "",
        )
    out.print(table)


@models_app.command("show")
def models_show(
    version: Annotated[str | None, typer.Argument(help="Version (default: the champion).")] = None,
    models: ModelsOpt = None,
) -> None:
    """Print a version's metadata (spec, data fingerprint, metrics, baselines) as JSON."""
    registry = Registry(models or _default_models())
    _say_models(registry.root)
    name = version or registry.champion()
    if name is None:
        raise TierlineError(f"No champion in {registry.root}; name a version")
    registry.verify(name)
    out.print_json(json.dumps(registry.metadata(name), default=str))


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="The version to make champion.")],
    models: ModelsOpt = None,
) -> None:
    """Make a version the champion (it is verified first)."""
    registry = Registry(models or _default_models())
    _say_models(registry.root)
    previous = registry.promote(version)
    out.print(f"champion: {version} (was {previous or 'none'})")


@models_app.command("rollback")
def models_rollback(models: ModelsOpt = None) -> None:
    """Return the champion to the version it replaced."""
    registry = Registry(models or _default_models())
    _say_models(registry.root)
    current = registry.champion()
    now = registry.rollback()
    out.print(f"champion: {now} (was {current})")
