"""The commands that run or manage the service: `tierline keys` starts without the model
libraries, `serve` refuses bad settings, `perks set` restocks a perk in the store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.command import assert_refused, run

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser


def test_keys_commands_do_not_load_the_model_libraries(tmp_path: Path) -> None:
    """`tierline keys ...` starts without LightGBM, pandas or scikit-learn (they took about
    1.3 s of a 1.8 s `keys list` before; a model load brings them)."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from tierline.cli.main import app\n"
        "runner = CliRunner()\n"
        "for args in (['keys', 'create', '--role', 'pos', '--site', 's1'], ['keys', 'list']):\n"
        "    result = runner.invoke(app, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "print(sorted(m for m in ('lightgbm', 'pandas', 'sklearn') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("TIERLINE_TIMEZONE", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
        ("TIERLINE_SITE_TIMEZONES", "lyon=Europe/Paris,nyc=Americas/NYC", "for site 'nyc'"),
        ("TIERLINE_SITE_TIMEZONES", "lyon", "'site=Zone'"),
        ("TIERLINE_LOCALE", "de_CH.UTF-8", "'de_CH.UTF-8' is not a locale"),
        ("TIERLINE_SITE_LOCALES", "zurich=de-CH,nyc=en US", "'en US' for site 'nyc'"),
        ("TIERLINE_SITE_LOCALES", "zurich", "'site=locale'"),
    ],
)
def test_serve_refuses_an_unknown_time_zone_or_locale(
    tmp_path: Path, variable: str, value: str, needle: str
) -> None:
    """`tierline serve` with a time zone zoneinfo does not know, or a locale that is no
    BCP 47 tag, stops before serving, names the variable and the value, and exits 2."""
    with socket.socket() as taken:  # a server that got past its settings stops here too
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = run(
            "serve",
            "--port",
            str(taken.getsockname()[1]),
            cwd=tmp_path,
            env={variable: value, "TIERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"},
        )
    assert_refused(proc, needle)
    assert variable in proc.stderr
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_perks_set_restocks_and_refuses_with_exit_2(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`perks set` restocks a perk (audited as the CLI's user) and `perks list` shows it; an
    unknown perk or a bad number exits 2 with a message and changes nothing."""
    from tierline.engine.playbook import Perk
    from tierline.engine.store import Store

    url = (
        f"sqlite:///{tmp_path / 'p.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    with Store.open(url) as store:
        store.sync_perks({"coffee": Perk(name="coffee", cost=2.5, stock=100, daily_budget=None)})
    env = {"TIERLINE_DATABASE_URL": url}
    done = run("perks", "set", "coffee", "--stock", "40", "--budget", "12.5", env=env)
    assert done.returncode == 0, done.stderr
    assert "stock 40" in done.stdout
    assert_refused(run("perks", "set", "caviar", "--stock", "1", env=env), "No perk named 'caviar'")
    assert_refused(run("perks", "set", "coffee", "--stock", "-3", env=env), "--stock")
    assert_refused(run("perks", "set", "coffee", "--stock", "x", env=env), "--stock")
    assert_refused(
        run("perks", "set", "coffee", "--stock", "5", "--budget", "nan", env=env), "budget"
    )
    listed = run("perks", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [coffee] = json.loads(listed.stdout)
    assert (coffee["stock"], coffee["daily_budget"], coffee["declared_stock"]) == (40, 12.5, 100)
    with Store.open(url) as store:
        [entry] = store.audit_log()
    assert entry["action"] == "perk_set" and entry["actor"].startswith("cli")
