"""The `tierline` command: generate demo data, train, score, evaluate, retrain, manage models.

Every refusal of bad input is a message on stderr (one line, or one line per problem of a
data file) and exit code 2; an unexpected failure
is one line too (set TIERLINE_DEBUG=1 for the traceback) and exit code 1. A retrain that
finds another retrain running exits 3, so cron can tell "busy" from "broken".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import json
import os
import sys
import time
from collections.abc import Iterator
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tierline.cli.console import (
    BudgetOpt,
    DaskOpt,
    DecimalOpt,
    JsonOpt,
    ModelsOpt,
    QuietOpt,
    SepOpt,
    err,
    out,
)
from tierline.cli.console import csv_dialect as _csv_dialect
from tierline.cli.console import database_url as _database_url
from tierline.cli.console import default_models as _default_models
from tierline.cli.console import emit_json as _emit_json
from tierline.cli.console import parse_date as _parse_date
from tierline.cli.console import steps as _steps
from tierline.cli.customers import customers_app
from tierline.cli.drift import drift
from tierline.cli.export import export
from tierline.cli.report import report
from tierline.cli.uplift import uplift_report
from tierline.engine.errors import Conflict, TierlineError
from tierline.engine.registry import Registry

if TYPE_CHECKING:
    from tierline.engine.spec import Spec

__all__ = ["app", "main"]

app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    name="tierline",
    help="Segment customers into service tiers and tell staff what to do.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    help="List, inspect, promote and roll back model versions.",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


def _version(shown: bool) -> None:
    if shown:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"tierline {version('tierline')}", markup=False)
        except PackageNotFoundError:
            out.print("tierline (not installed: run from a checkout)", markup=False)
        raise typer.Exit()


@app.callback()
def _main(
    shown: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Segment customers into service tiers and tell staff what to do."""


app.add_typer(customers_app, name="customers")
app.command("drift")(drift)
app.command("export")(export)
app.command("report")(report)
app.command("uplift-report")(uplift_report)

# The example specs ship inside the package, so `tierline demo` runs from any folder.
EXAMPLES = resources.files("tierline") / "examples"


class PromoteMode(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


# -- generate ---------------------------------------------------------------------------
@app.command()
def generate(
    customers: Annotated[int, typer.Option("--customers", "-n", min=1, help="How many customers.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="Customer table to write (.csv, .csv.gz, .parquet).")
    ],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 7,
    transactions: Annotated[
        Path | None,
        typer.Option("--transactions", help="Also write a matching transaction log here."),
    ] = None,
    experiment: Annotated[
        bool,
        typer.Option(
            "--experiment",
            help="Write a randomized perk experiment instead (examples/uplift.toml describes it).",
        ),
    ] = False,
    btyd: Annotated[
        bool,
        typer.Option(
            "--btyd",
            help="Write instead a transaction log drawn from a known BG/NBD and Gamma-Gamma "
            "process (examples/btyd.toml describes it).",
        ),
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Write seeded demo customers that examples/demo.toml describes.

    Example: tierline generate --customers 50000 --out data/customers.csv --transactions data/tx.parquet
    """
    from tierline.training import data as data_io
    from tierline.training.demo_data import generate_customers
    from tierline.training.demo_transactions import generate_transactions
    from tierline.training.demo_uplift import generate_experiment

    if experiment and transactions is not None:
        err.print("error: --experiment writes a customer table only; leave out --transactions")
        raise typer.Exit(2)
    if btyd and (transactions is not None or experiment):
        raise typer.BadParameter(
            "--btyd writes a transaction log to --out; drop --transactions and --experiment",
            param_hint="--btyd",
        )
    for path in (out_path, transactions):
        if path is not None:
            data_io.check_output_path(path)
    if btyd:
        _generate_btyd(customers, out_path=out_path, seed=seed, quiet=quiet)
        return
    with _steps(quiet) as say:
        say(f"generating {customers:,} customers")
        frame = (generate_experiment if experiment else generate_customers)(customers, seed=seed)
        say(f"writing {out_path}")
        data_io.write_table(frame, out_path)
        if transactions is not None:
            say("generating the transaction log")
            log = generate_transactions(frame, seed=seed)
            say(f"writing {len(log):,} transactions to {transactions}")
            data_io.write_table(log, transactions)
    if not quiet:
        err.print(f"wrote {len(frame):,} customers to {out_path}")


def _generate_btyd(customers: int, *, out_path: Path, seed: int, quiet: bool) -> None:
    from tierline.training import data as data_io
    from tierline.training.demo_btyd import generate_btyd_log

    with _steps(quiet) as say:
        say(f"drawing the purchases of {customers:,} customers from BG/NBD and Gamma-Gamma")
        log = generate_btyd_log(customers, seed=seed)
        say(f"writing {out_path}")
        data_io.write_table(log, out_path)
    if not quiet:
        err.print(f"wrote {len(log):,} transactions of {customers:,} customers to {out_path}")


# -- train ------------------------------------------------------------------------------
@app.command()
def train(
    data: Annotated[Path, typer.Option("--data", help="Labelled customers or a transaction log.")],
    spec: Annotated[
        Path, typer.Option("--spec", help="The spec file (TOML) that says what the columns mean.")
    ],
    models: ModelsOpt = None,
    playbook: Annotated[
        Path | None, typer.Option(help="Playbook TOML (default: the shipped one).")
    ] = None,
    promote: Annotated[
        PromoteMode,
        typer.Option(
            help="auto: only if not worse than the champion and the fairness gate passes."
        ),
    ] = PromoteMode.auto,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            help="Why --promote always overrides a refusal; kept in the version's metadata.",
        ),
    ] = None,
    tolerance: Annotated[
        float, typer.Option(min=0.0, help="How much worse than the champion auto still promotes.")
    ] = 0.01,
    budget: BudgetOpt = None,
    sep: SepOpt = None,
    decimal: DecimalOpt = None,
    dask: DaskOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a tier model, measure it against baselines, write a version, gate and promote.

    Example: tierline train --data customers.csv --spec examples/demo.toml
    """
    if reason is not None and promote is not PromoteMode.always:
        raise typer.BadParameter(
            "a reason is kept only with --promote always", param_hint="--reason"
        )
    if reason is not None and not reason.strip():
        raise typer.BadParameter("give the reason in words", param_hint="--reason")
    from tierline.engine.spec import load_spec
    from tierline.training.train import train as run_train

    models = models or _default_models()
    dialect = _csv_dialect(sep, decimal)
    parsed = load_spec(spec)
    with _steps(quiet or as_json) as say:
        result = run_train(
            data_path=data,
            spec=parsed,
            models=models,
            playbook_path=playbook,
            promote=promote.value,
            reason=reason,
            tolerance=tolerance,
            progress=say,
            budget=budget,
            dialect=dialect,
            dask=dask,
        )
    if as_json:
        summary = {**result.summary(), "metrics": result.metrics, "baselines": result.baselines}
        if result.uplift is not None:
            summary["uplift"] = result.uplift
        _emit_json(summary)
        return
    out.print(result.report, markup=False)
    state = "promoted to champion" if result.promoted else "not promoted"
    state += f" ({result.why})"
    out.print(f"\nmodel {result.version} written to {models}: {state}", markup=False)


# -- score ------------------------------------------------------------------------------
@app.command()
def score(
    data: Annotated[
        Path, typer.Option("--data", help="Customers (or a transaction log) to score.")
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="Scored output (.csv, .csv.gz, .parquet).")
    ],
    models: ModelsOpt = None,
    version: Annotated[
        str | None, typer.Option(help="Model version (default: the champion).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Feature cut-off date for a transaction log (YYYY-MM-DD)."),
    ] = None,
    reasons: Annotated[
        bool, typer.Option("--reasons", help="Add the top three reasons per customer (slower).")
    ] = False,
    sep: SepOpt = None,
    decimal: DecimalOpt = None,
    dask: DaskOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Score every customer with a tier, confidence, cues and (optionally) reasons.

    With --dask, --data may be a folder of tables and an --out without an extension is
    written as a folder of Parquet parts.
    Example: tierline score --data customers.csv --out scored.csv
    """
    if dask is not None:
        from tierline.cli.cluster import score_on_dask

        return score_on_dask(
            dask,
            data,
            out_path,
            models,
            version,
            reasons,
            as_of,
            _csv_dialect(sep, decimal),
            as_json,
            quiet,
        )
    from tierline.training import data as data_io
    from tierline.training.batch import score_file

    models = models or _default_models()
    data_io.check_output_path(out_path)
    cutoff = _parse_date(as_of, "--as-of") if as_of else None
    dialect = _csv_dialect(sep, decimal)
    t0 = time.perf_counter()
    with _steps(quiet or as_json) as say:
        say("loading the model")
        model = Registry(models).load(version)
        say(f"scoring {data.name} into {out_path}")
        scored = score_file(model, data, out_path, as_of=cutoff, explain=reasons, dialect=dialect)
    summary: dict[str, Any] = {
        "rows": scored.rows,
        "out": str(out_path),
        "model_version": model.version,
        "tier_mix": scored.tier_mix,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if as_json:
        _emit_json(summary)
    elif not quiet:
        mix = ", ".join(f"{t} {n:,}" for t, n in summary["tier_mix"].items())
        err.print(f"scored {scored.rows:,} customers with {model.version} -> {out_path} ({mix})")


# -- evaluate ---------------------------------------------------------------------------
@app.command()
def evaluate(
    data: Annotated[
        Path, typer.Option("--data", help="Labelled customers (or a transaction log).")
    ],
    models: ModelsOpt = None,
    version: Annotated[
        str | None, typer.Option(help="Model version (default: the champion).")
    ] = None,
    sep: SepOpt = None,
    decimal: DecimalOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Measure a model version on labelled data.

    Example: tierline evaluate --data next_month.csv --version v0003
    """
    from tierline.training.batch import evaluate_model
    from tierline.training.evaluate import format_report

    models = models or _default_models()
    dialect = _csv_dialect(sep, decimal)
    with _steps(quiet or as_json) as say:
        say("loading the model")
        model = Registry(models).load(version)
        say(f"scoring {data.name}")
        metrics = evaluate_model(model, data, dialect=dialect)
    if as_json:
        _emit_json({"model_version": model.version, "metrics": metrics})
        return
    out.print(f"model {model.version} on {data.name} ({metrics['rows']:,} customers)")
    share = metrics.get("training_rows_share")
    if share is not None and share >= 0.01:
        err.print(
            f"warning: about {share:.0%} of these customers were training rows of "
            f"{model.version}; its figures on them are not held-out figures",
            markup=False,
        )
    out.print(format_report(kind=model.spec.target_kind, metrics=metrics, baselines={}))


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


@app.command()
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


# -- models -----------------------------------------------------------------------------
def _say_models(root: Path) -> None:
    """Which registry a models command works on (stderr: stdout stays the answer)."""
    err.print(f"models: {root.resolve()}", markup=False)


def _say_store() -> None:
    """Which store a keys command works on: the running server's only if it reads the same
    TIERLINE_DATABASE_URL."""
    err.print(f"database: {_database_url()}", markup=False)


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


# -- demo ------------------------------------------------------------------------------
@app.command()
def demo(
    customers: Annotated[
        int, typer.Option("--customers", "-n", min=1000, help="Demo customers to generate.")
    ] = 50_000,
    workdir: Annotated[
        Path, typer.Option(help="Where the demo's customers.csv and scored.csv go.")
    ] = Path("var/demo"),
    models: ModelsOpt = None,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Then start the API with demo keys.")
    ] = True,
    port: Annotated[int, typer.Option(min=1, max=65535, help="API port on 127.0.0.1.")] = 8000,
    quiet: QuietOpt = False,
) -> None:
    """Generate demo customers, train, promote, score them, print a sample, then serve the API.

    The model goes where every command looks ($TIERLINE_MODELS or models/) and the API's
    store is $TIERLINE_DATABASE_URL (default var/tierline.db), so `tierline keys create` and
    `tierline models list` work on the demo's state. The API runs on 127.0.0.1 with a staff,
    a pos and an admin key for the site 'demo' (printed once); Ctrl-C stops it.
    """
    from tierline.api.server import check_port_free
    from tierline.training import data as data_io
    from tierline.training.demo_data import generate_customers
    from tierline.training.train import train as run_train

    if serve_api:
        check_port_free("127.0.0.1", port)
    data_path = workdir / "customers.csv"
    models = models or _default_models()
    scored_path = workdir / "scored.csv"
    kept = Registry(models).versions() if models.is_dir() else []
    with _steps(quiet) as say:
        say(f"generating {customers:,} demo customers")
        data_io.write_table(generate_customers(customers, seed=7), data_path)
        result = run_train(
            data_path=data_path,
            spec=_example_spec("demo.toml"),
            models=models,
            promote="always",
            progress=say,
        )
        say("scoring every customer")
        model = Registry(models).load()
        frame = data_io.load_customers(data_path, model.spec, with_target=False)
        scored = model.score_frame(frame)
        data_io.write_table(scored, scored_path)
    out.print(result.report, markup=False)
    out.print(
        f"\nmodel {result.version} is the champion in {models} (made now; kept "
        f"{len(kept)} earlier version(s) there); all {len(scored):,} customers scored -> "
        f"{scored_path}\n",
        markup=False,
    )
    _print_sample(model, frame, scored)
    if serve_api:
        _serve_demo(workdir=workdir, models=models, port=port, model=model, frame=frame)


def _example_spec(name: str) -> Spec:
    """A spec shipped in the package's examples (a real file once extracted, if zipped)."""
    from tierline.engine.spec import load_spec

    with resources.as_file(EXAMPLES / name) as path:
        return load_spec(path)


def _serve_demo(*, workdir: Path, models: Path, port: int, model: Any, frame: Any) -> None:
    """Create demo keys, check a few demo guests in, and serve the API on 127.0.0.1 until
    Ctrl-C."""
    from tierline.api.server import serve
    from tierline.engine.store import Store

    url = _database_url()
    os.environ["TIERLINE_DATABASE_URL"] = url
    os.environ["TIERLINE_MODELS"] = str(models.resolve())
    base = f"http://127.0.0.1:{port}"
    out.print(f"\nAPI: {base}  (docs: {base}/docs, ready: {base}/readyz)")
    out.print(
        f"Staff display: {base}/display  (sign in with the staff key; admin for the manager view)"
    )
    with Store.open(url) as store:
        earlier = sum(1 for k in store.list_keys() if k.get("revoked_at") is None)
        out.print(
            f"Store: {url} (kept {earlier} active key(s); the CLI's keys and customers "
            f"commands use it too)",
            markup=False,
        )
        for role in ("staff", "pos", "admin"):
            key, _ = store.create_key(role=role, site="demo", name=f"demo {role}")
            out.print(f"{role} key: {key}")
        seeded = _seed_demo_visits(store, model, frame)
    if seeded:
        out.print(f"{seeded} demo guests are checked in, so the display has cards to show.")
    out.print("Ctrl-C stops the server.\n")
    serve(host="127.0.0.1", port=port, workers=1, log_level="warning")
    out.print("server stopped")


def _seed_demo_visits(store: Any, model: Any, frame: Any, per_tier: int = 3) -> int:
    """Check in a few demo customers of each tier at site 'demo' (once: not if visits are
    already open there), through the same use case as ``POST /v1/visits``."""
    from tierline.engine.decisions import Fallback, check_in
    from tierline.engine.values import is_missing

    if store.list_open_visits("demo"):
        return 0
    store.sync_perks(model.playbook.perks)
    fallback = Fallback(model.spec.default_tier, model.playbook)
    tiers = model.score_frame(frame.head(2000))["tier"]
    picks = tiers.groupby(tiers, sort=False).head(per_tier).index
    for record in frame.loc[picks].to_dict("records"):
        customer_id = str(record.pop(model.spec.id))
        signals = {k: v for k, v in record.items() if not is_missing(v)}
        check_in(
            store=store,
            model=model,
            fallback=fallback,
            site="demo",
            customer_id=customer_id,
            signals=signals,
            party_size=int(signals.get("party_size", 2)),
        )
    return len(picks)


def _print_sample(model: Any, frame: Any, scored: Any) -> None:
    """Three customers of each tier, with their cues and the strongest reason."""
    picks = scored.groupby("tier", sort=False).head(3).index
    explained = model.score_frame(frame.loc[picks], explain=True)
    table = Table(
        "customer", "tier", "confidence", "cues", "why", title="a sample of the scored customers"
    )
    for d in explained.to_dict("records"):
        rule = d["rule"] if isinstance(d["rule"], str) else None
        why = f"rule: {rule}" if rule else d["reasons"].split("; ")[0]
        table.add_row(
            str(d[model.spec.id]),
            d["tier"],
            f"{d['confidence']:.2f}",
            d["cues"].replace(";", ", "),
            why,
        )
    Console(highlight=False, width=max(out.width, 140)).print(table)


# -- serve and keys ---------------------------------------------------------------------
keys_app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    help="Create, list and revoke API keys (a key is shown once); pair a tablet.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")


class Role(StrEnum):
    staff = "staff"
    pos = "pos"
    admin = "admin"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API (reads TIERLINE_DATABASE_URL and TIERLINE_MODELS).

    Example: TIERLINE_MODELS=models tierline serve --port 8000 --workers 2
    """
    from pydantic import ValidationError

    from tierline.api.server import serve as run_server
    from tierline.api.settings import Settings, settings_problem

    try:  # fail here, with a message, on a bad TIERLINE_* variable
        settings = Settings()
    except ValidationError as exc:
        err.print(f"error: {settings_problem(exc)}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    err.print(
        f"serving on http://{host}:{port} (docs at /docs), models {settings.models}, "
        f"{workers} worker(s)"
    )
    run_server(host=host, port=port, workers=workers, log_level="info")


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option("--role", help="staff, pos or admin.")],
    site: Annotated[str, typer.Option("--site", help="The site (restaurant) the key belongs to.")],
    name: Annotated[str | None, typer.Option("--name", help="A label for people.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once (only its hash is stored).

    Example: tierline keys create --role pos --site lyon-1 --name "till 3"
    """
    from tierline.engine.store import Store

    _say_store()
    with Store.open(_database_url()) as store:
        plaintext, record = store.create_key(role=role.value, site=site, name=name)
    if as_json:
        _emit_json({"key": plaintext, "role": record["role"], "site": site, "name": name})
        return
    out.print(plaintext, markup=False)
    err.print(
        f"key {record['id']} ({record['role']} at {site}) created; it is shown only this once"
    )


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """List keys (id, role, site, name, created, revoked); never the keys themselves."""
    from tierline.engine.store import Store

    _say_store()
    with Store.open(_database_url()) as store:
        keys = store.list_keys()
    if as_json:
        _emit_json(keys)
        return
    table = Table("id", "role", "site", "name", "created", "revoked")
    for k in keys:
        table.add_row(
            k["id"],
            k["role"],
            k["site"],
            k["name"] or "",
            str(k["created_at"]),
            str(k["revoked_at"] or ""),
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (keys list).")]) -> None:
    """Revoke a key from now on."""
    from tierline.engine.store import Store

    _say_store()
    with Store.open(_database_url()) as store:
        record = store.revoke_key(key_id)
    out.print(f"key {record['id']} revoked at {record['revoked_at']}")


@keys_app.command("pair")
def keys_pair(
    site: Annotated[str, typer.Option("--site", help="The site the tablet will serve.")],
    minutes: Annotated[
        int, typer.Option("--minutes", min=1, max=60, help="How long the code works.")
    ] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Issue a short pairing code: typed into a tablet's display, it signs the tablet in as
    staff of SITE, once, until it expires; audited.

    Example: tierline keys pair --site lyon-1 --minutes 5
    """
    from tierline.engine.store import Store

    _say_store()
    with Store.open(_database_url()) as store:
        issued = store.issue_pairing(site=site, issued_by=_actor(), minutes=minutes)
    expires = issued["expires_at"].isoformat(timespec="seconds")
    if as_json:
        _emit_json({"code": issued["code"], "site": site, "expires_at": expires})
        return
    out.print(issued["code"], markup=False)
    err.print(
        f"pairing code for a staff tablet at {site}; type it on the display's sign-in screen "
        f"before {expires} (it works once)",
        markup=False,
    )


# -- perks -------------------------------------------------------------------------------
perks_app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: flags read as flags, not --json <bool>
    help="Perk stock and budgets: list them, restock (audited).",
    no_args_is_help=True,
)
app.add_typer(perks_app, name="perks")


def _actor() -> str:
    """Who a CLI change is audited as: the operating-system user, where there is one."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in the environment or the password file
        return "cli"


@perks_app.command("list")
def perks_list(as_json: JsonOpt = False) -> None:
    """List perks: stock left, daily budget, what the playbook declared, today's use (UTC)."""
    from tierline.engine.store import Store

    with Store.open(_database_url()) as store:
        perks = store.list_perks(day=dt.datetime.now(dt.UTC).date())
    if as_json:
        _emit_json(perks)
        return
    table = Table("perk", "stock", "daily budget", "declared", "issued today", "spent today")
    for p in perks:
        table.add_row(
            p["name"],
            _or_none(p["stock"], "unlimited"),
            _or_none(p["daily_budget"], "none"),
            f"{_or_none(p['declared_stock'], 'unlimited')} / "
            f"{_or_none(p['declared_budget'], 'none')}",
            str(p["issued"]),
            str(p["spent"]),
        )
    out.print(table)


def _or_none(value: object, none: str) -> str:
    return none if value is None else str(value)


@perks_app.command("set")
def perks_set(
    name: Annotated[str, typer.Argument(help="The perk's name (perks list).")],
    stock: Annotated[int, typer.Option("--stock", min=0, help="Units in stock from now.")],
    budget: Annotated[
        float | None,
        typer.Option("--budget", min=0, help="Daily budget (money); left as it is if omitted."),
    ] = None,
) -> None:
    """Restock a perk (and set its daily budget); audited. A later start or model swap keeps
    it until the playbook declares another stock or budget.

    Example: tierline perks set coffee --stock 200 --budget 150
    """
    from tierline.engine.store import Store
    from tierline.engine.store.perks import KEEP

    with Store.open(_database_url()) as store:
        perk = store.set_perk(
            name, stock=stock, daily_budget=KEEP if budget is None else budget, actor=_actor()
        )
    out.print(
        f"perk {perk['name']}: stock {perk['stock']}, daily budget "
        f"{_or_none(perk['daily_budget'], 'none')}",
        markup=False,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning refusals into messages and exit codes.

    Typer's standalone mode already turns usage errors into exit code 2 with a message;
    what reaches us here are the domain's refusals and genuine failures.
    """
    try:
        app(args=argv)
    except TierlineError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(3 if isinstance(exc, Conflict) else 2)
    except Exception as exc:
        if os.environ.get("TIERLINE_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (set TIERLINE_DEBUG=1 for the traceback)",
            markup=False,
        )
        sys.exit(1)
