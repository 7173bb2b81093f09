"""The deployment files in deploy/ run what they say: absolute paths, real commands and
options, environment variables the code reads."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.command import run

pytestmark = pytest.mark.slow  # real processes: the CLI, servers or a browser

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def _commands() -> list[list[str]]:
    found = []
    for name in ("tierline-retrain.cron", "tierline-retrain.service"):
        for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
            line = line.lstrip("# ")
            if "bin/tierline " in line:
                words = shlex.split(line.split("ExecStart=")[-1])
                start = next(i for i, w in enumerate(words) if w.endswith("bin/tierline"))
                found.append(words[start:])
    return found


def test_every_scheduled_command_uses_absolute_paths_and_real_options() -> None:
    """Each command in the cron file and the systemd unit names its program, spec and data
    by absolute path (cron has no working directory), and every option it passes is one
    `tierline retrain --help` lists."""
    commands = _commands()
    assert len(commands) >= 3
    known = set(re.findall(r"--[a-z-]+", run("retrain", "--help").stdout))
    for words in commands:
        assert words[0].startswith("/") and words[1] == "retrain", words
        options = [w for w in words if w.startswith("--")]
        assert set(options) <= known, (options, known)
        for option in ("--spec", "--data"):
            if option in words:
                assert words[words.index(option) + 1].startswith("/"), words
    timer = (DEPLOY / "tierline-retrain.timer").read_text(encoding="utf-8")
    assert "OnCalendar=" in timer and "Persistent=true" in timer


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8")))


def _env_var_read_by_code(name: str) -> bool:
    """``TIERLINE_*``: a ``Settings`` field; anything else: named in the code that reads it."""
    from tierline.api.settings import Settings

    if name.startswith("TIERLINE_"):
        return name.removeprefix("TIERLINE_").lower() in Settings.model_fields
    sources = [*(ROOT / "api").rglob("*.py"), *(ROOT / "cli").rglob("*.py")]
    return any(f'"{name}"' in path.read_text(encoding="utf-8") for path in sources)


def test_every_compose_service_runs_a_real_tierline_command_with_real_options() -> None:
    """Each service of deploy/compose.yaml that runs the tierline image's entrypoint runs a
    command `tierline --help` lists, with options its `--help` lists; the image's default
    command is one too; the Dask services run the scheduler and workers at the address the
    retrain job is given."""
    services = _compose()["services"]
    commands = {"image CMD": _dockerfile_cmd()}
    for name, service in services.items():
        if service.get("image") == "tierline:latest" and "entrypoint" not in service:
            commands[name] = service["command"]
    assert {"api", "api-2", "retrain"} <= set(commands), commands
    known = set(re.findall(r"^\s+([a-z-]+)\s", run("--help").stdout, re.M))
    for name, words in commands.items():
        assert words[0] in known, (name, words)
        listed = set(re.findall(r"--[a-z-]+", run(words[0], "--help").stdout))
        options = {w for w in words if w.startswith("--")}
        assert options <= listed, (name, options - listed)
    assert services["scheduler"]["entrypoint"] == ["dask", "scheduler"]
    assert services["dask-worker"]["entrypoint"] == ["dask", "worker"]
    port = services["scheduler"]["command"][services["scheduler"]["command"].index("--port") + 1]
    address = f"tcp://scheduler:{port}"
    assert services["dask-worker"]["command"][0] == address
    assert services["retrain"]["command"][-2:] == ["--dask", address]


def test_every_variable_the_compose_file_sets_is_one_the_code_reads() -> None:
    """Every environment variable set for a tierline service is a ``TIERLINE_*`` setting
    (or one the code names); the replicas share one store URL and one models volume."""
    services = _compose()["services"]
    tierline = {n: s for n, s in services.items() if s.get("image") == "tierline:latest"}
    for name, service in tierline.items():
        for variable in service.get("environment", {}):
            if variable != "OMP_NUM_THREADS":  # read by LightGBM's OpenMP runtime
                assert _env_var_read_by_code(variable), (name, variable)
    assert not _env_var_read_by_code("TIERLINE_NO_SUCH_SETTING")
    urls = {s["environment"]["TIERLINE_DATABASE_URL"] for n, s in tierline.items() if "api" in n}
    assert len(urls) == 1 and "@postgres:5432/" in urls.pop()
    for name in ("api", "api-2", "retrain", "dask-worker"):
        assert "models:/srv/tierline/models" in tierline[name]["volumes"], name


def test_the_dockerfile_copies_every_folder_the_package_installs() -> None:
    """The image builds the package from the folders pyproject.toml installs (a folder left
    out would install a tierline without it), and runs as a user of its own."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\S+) ", text, re.M))
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    tops = {p.split(".")[1] for p in packages["tool"]["setuptools"]["packages"] if "." in p}
    assert tops | {"tierline", "examples"} <= copied, tops - copied
    assert re.search(r"^USER tierline$", text, re.M)


def _dockerfile_cmd() -> list[str]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'^ENTRYPOINT \["tierline"\]$', text, re.M)
    found = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert found is not None
    return list(json.loads(found[1]))
