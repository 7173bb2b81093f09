"""`tierline demo`: train on seeded demo customers, score them, and serve the API and the staff display."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tierline.cli.console import ModelsOpt, QuietOpt, out
from tierline.cli.console import database_url as _database_url
from tierline.cli.console import default_models as _default_models
from tierline.cli.console import steps as _steps
from tierline.engine.registry import Registry

if TYPE_CHECKING:
    from tierline.engine.spec import Spec


# The example specs ship inside the package, so `tierline demo` runs from any folder.
EXAMPLES = resources.files("tierline") / "examples"


# -- demo ------------------------------------------------------------------------------
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
    from tierline.training import writing
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
        writing.write_table(generate_customers(customers, seed=7), data_path)
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
        writing.write_table(scored, scored_path)
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
