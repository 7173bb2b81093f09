"""`tierline retrain`: train on fresh data (a file, or the store's own outcomes), gate, promote; one at a time per models folder.

A retrain that finds another retrain running exits 3, so cron can tell "busy" from "broken".
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from tierline.cli.console import BudgetOpt, DaskOpt, DecimalOpt, ModelsOpt, SepOpt
from tierline.cli.console import csv_dialect as _csv_dialect
from tierline.cli.console import database_url as _database_url
from tierline.cli.console import default_models as _default_models
from tierline.cli.console import emit_json as _emit_json
from tierline.engine.errors import Conflict, TierlineError


# -- retrain ----------------------------------------------------------------------------
@contextlib.contextmanager
def _lock(models: Path) -> Iterator[None]:
    models.mkdir(parents=True, exist_ok=True)
    with (models / ".retrain.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"Another retrain is running on {models}; try again when it finishes"
            ) from None
        yield


def retrain(
    spec: Annotated[Path, typer.Option("--spec", help="The spec file.")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Labelled customers or a transaction log.")
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Train on the store's logged decisions and outcomes (TIERLINE_DATABASE_URL).",
        ),
    ] = False,
    since: Annotated[
        str | None, typer.Option(help="With --from-store: first day of decisions; default all.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="With --from-store: last day of decisions (included).")
    ] = None,
    horizon_days: Annotated[
        int | None,
        typer.Option(
            "--horizon-days",
            min=1,
            help="With --from-store: the horizon (default: from a *_next_<N>d target, else 90).",
        ),
    ] = None,
    models: ModelsOpt = None,
    playbook: Annotated[
        Path | None, typer.Option(help="Playbook TOML (default: the shipped one).")
    ] = None,
    tolerance: Annotated[
        float, typer.Option(min=0.0, help="How much worse than the champion still promotes.")
    ] = 0.01,
    budget: BudgetOpt = None,
    sep: SepOpt = None,
    decimal: DecimalOpt = None,
    dask: DaskOpt = None,
) -> None:
    """Train, gate and promote in one cron-safe run; prints a one-line JSON summary.

    With --from-store the data is the store's own decision log (tierline export), the
    champion's logged decisions are backtested, and a running server picks up a promoted
    version by itself. Exit 0 when a version was written (promoted or not), 2 on bad
    input, 3 when another retrain holds the lock.
    Example (crontab): 0 3 * * * tierline retrain --from-store --spec store.toml
    """
    from tierline.cli.export import parse_moment
    from tierline.engine.spec import load_spec
    from tierline.training.retrain import unchanged_version
    from tierline.training.train import train as run_train

    if (data is None) == (not from_store):
        _emit_json({"ok": False, "error": "give either --data FILE or --from-store"})
        raise typer.Exit(2)
    models = models or _default_models()
    window: dict[str, Any] | None = None
    try:
        start = parse_moment(since, "--since")
        end = parse_moment(until, "--until", end_of_day=True)
        dialect = _csv_dialect(sep, decimal)
        with _lock(models):
            if data is not None:
                parsed = load_spec(spec)
                same = unchanged_version(
                    models=models, data_path=data, spec=parsed, playbook_path=playbook
                )
                if same is not None:
                    _emit_json(
                        {
                            "ok": True,
                            "skipped": True,
                            "version": same,
                            "why": f"{data.name}, the spec and the playbook are those {same} "
                            f"was trained on; no new version written",
                        }
                    )
                    return
                result = run_train(
                    data_path=data,
                    spec=parsed,
                    models=models,
                    playbook_path=playbook,
                    promote="auto",
                    tolerance=tolerance,
                    budget=budget,
                    dialect=dialect,
                    dask=dask,
                )
            else:
                result, window = _retrain_from_store(
                    spec=load_spec(spec),
                    models=models,
                    since=start,
                    until=end,
                    horizon_days=horizon_days,
                    playbook=playbook,
                    tolerance=tolerance,
                    budget=budget,
                    dask=dask,
                )
    except (TierlineError, typer.BadParameter) as exc:
        message = exc.format_message() if isinstance(exc, typer.BadParameter) else str(exc)
        _emit_json({"ok": False, "error": message})
        raise typer.Exit(3 if isinstance(exc, Conflict) else 2) from None
    _emit_json({"ok": True, **result.summary(), **({"store": window} if window else {})})


def _retrain_from_store(**options: Any) -> tuple[Any, dict[str, Any]]:
    from tierline.engine.store import Store
    from tierline.training.retrain import retrain_from_store

    with Store.open(_database_url()) as store:
        return retrain_from_store(
            store=store,
            spec=options["spec"],
            models=options["models"],
            since=options["since"],
            until=options["until"],
            horizon_days=options["horizon_days"],
            playbook_path=options["playbook"],
            tolerance=options["tolerance"],
            budget=options["budget"],
            dask=options["dask"],
        )
