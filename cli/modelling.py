"""`tierline generate`, `train`, `score` and `evaluate`: demo data, models and their use on files."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

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
from tierline.cli.console import default_models as _default_models
from tierline.cli.console import emit_json as _emit_json
from tierline.cli.console import parse_date as _parse_date
from tierline.cli.console import steps as _steps
from tierline.engine.registry import Registry


class PromoteMode(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


def _out_option(what: str) -> Any:
    """The --out of a command that writes one table (generate, score): ``what`` it holds,
    in a format ``training.writing`` writes."""
    return typer.Option("--out", help=f"{what} (.csv, .csv.gz, .parquet).")


def _check_outputs(*paths: Path | None) -> None:
    """Refuse an output path that could not be written now, before minutes of work."""
    from tierline.training import writing

    for path in paths:
        if path is not None:
            writing.check_output_path(path)


# -- generate ---------------------------------------------------------------------------
def generate(
    customers: Annotated[int, typer.Option("--customers", "-n", min=1, help="How many customers.")],
    out_path: Annotated[Path, _out_option("Customer table to write")],
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
    from tierline.training import writing
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
    _check_outputs(out_path, transactions)
    if btyd:
        _generate_btyd(customers, out_path=out_path, seed=seed, quiet=quiet)
        return
    with _steps(quiet) as say:
        say(f"generating {customers:,} customers")
        frame = (generate_experiment if experiment else generate_customers)(customers, seed=seed)
        say(f"writing {out_path}")
        writing.write_table(frame, out_path)
        if transactions is not None:
            say("generating the transaction log")
            log = generate_transactions(frame, seed=seed)
            say(f"writing {len(log):,} transactions to {transactions}")
            writing.write_table(log, transactions)
    if not quiet:
        err.print(f"wrote {len(frame):,} customers to {out_path}")


def _generate_btyd(customers: int, *, out_path: Path, seed: int, quiet: bool) -> None:
    from tierline.training import writing
    from tierline.training.demo_btyd import generate_btyd_log

    with _steps(quiet) as say:
        say(f"drawing the purchases of {customers:,} customers from BG/NBD and Gamma-Gamma")
        log = generate_btyd_log(customers, seed=seed)
        say(f"writing {out_path}")
        writing.write_table(log, out_path)
    if not quiet:
        err.print(f"wrote {len(log):,} transactions of {customers:,} customers to {out_path}")


# -- train ------------------------------------------------------------------------------
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
def score(
    data: Annotated[
        Path, typer.Option("--data", help="Customers (or a transaction log) to score.")
    ],
    out_path: Annotated[Path, _out_option("Scored output")],
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

    With --dask, --data may be a folder of tables (or of transaction log files) and an
    --out without an extension is written as a folder of Parquet parts.
    Example: tierline score --data customers.csv --out scored.csv
    """
    dialect = _csv_dialect(sep, decimal)
    cutoff = _parse_date(as_of, "--as-of") if as_of else None
    if dask is not None:
        from tierline.cli.cluster import score_on_dask

        return score_on_dask(
            dask, data, out_path, models, version, reasons, cutoff, dialect, as_json, quiet
        )
    from tierline.training.batch import score_file

    models = models or _default_models()
    _check_outputs(out_path)
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
