"""`tierline serve`: the HTTP API and the staff display under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from tierline.cli.console import err


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
