"""Run the API under uvicorn: one process, or several workers that each own a socket.

With ``--workers N`` uvicorn's own supervisor hands every worker the same listening
socket, and whichever worker wakes first accepts what is waiting. A till, a CRM and a
tablet keep their connections open for hours, and connections tend to come in bursts (a
restart, a load balancer reconnecting): seen here, all 32 connections of a burst went to
one worker while the other sat idle, for as long as the connections lived. So each
worker here binds its own socket with ``SO_REUSEPORT``, and the kernel spreads new
connections over the workers' sockets evenly. The supervisor restarts a worker that
dies and stops them all on Ctrl-C or SIGTERM.

Metrics: the supervisor gives the workers a folder for prometheus-client's multiprocess
mode (``PROMETHEUS_MULTIPROC_DIR``: the one set in the environment, emptied of the last
run's files, else a temporary one removed at the end), so ``/metrics`` on any worker
reports the whole server.

Logging: uvicorn's access log prints each path and query string as sent, and a path can
name a customer, so it is off; ``api.access_log`` logs the route's template instead, and
tierline's own loggers print at the same level as uvicorn's. No format used here prints a
record's thread or process, so a worker does not look them up for every record.
"""

from __future__ import annotations

import copy
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from tierline.api.access_log import ACCESS_FORMAT, ACCESS_LOGGER
from tierline.api.metrics import MULTIPROC_DIR
from tierline.engine.errors import TierlineError

__all__ = ["check_port_free", "log_config", "serve"]

log = logging.getLogger("tierline.serve")

APP = "tierline.api.app:create_app_from_env"
_BACKLOG = 2048
_STOP_SECONDS = 20.0
_RESTART_PAUSE = 1.0  # between restarts of a worker that keeps dying at start-up


def check_port_free(host: str, port: int) -> None:
    """Refuse a taken port with a message (and, for workers, before any of them starts:
    a socket with ``SO_REUSEPORT`` would otherwise share the port with another tierline)."""
    with socket.socket(_family(host)) as probe:
        # As uvicorn binds: a port whose last connections linger in TIME_WAIT is free; one
        # with a listener is not (Linux refuses that bind even with SO_REUSEADDR).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise TierlineError(
                f"Port {port} on {host} is taken or not available ({error.strerror}); stop "
                "what uses it or pass --port"
            ) from None


def serve(
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str = "info",
    app: str = APP,
    factory: bool = True,
    uvicorn_access_log: bool = False,
) -> None:
    """Serve until Ctrl-C or SIGTERM: in this process for one worker, else supervised.

    ``app``, ``factory`` and ``uvicorn_access_log`` as uvicorn takes them (``access_log``):
    tierline's factory and its own access log unless told (the http benchmark serves its
    bare app the same way, with uvicorn's access log as any FastAPI service has it).
    """
    import uvicorn

    check_port_free(host, port)
    config: dict[str, Any] = {
        "app": app,
        "factory": factory,
        "log_level": log_level,
        "log_config": log_config(log_level),
        "access_log": uvicorn_access_log,
    }
    if workers == 1:
        _lean_records()
        uvicorn.run(host=host, port=port, **config)
        return
    _Supervisor(host=host, port=port, workers=workers, config=config).run()


class _Supervisor:
    def __init__(self, *, host: str, port: int, workers: int, config: dict[str, Any]) -> None:
        self._args = (host, port, config)
        self._count = workers
        # spawn, not fork: a worker starts clean, as uvicorn's own workers do.
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._stopping = False
        self._metrics_dir: Path | None = None  # made here, so removed here

    def run(self) -> None:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._prepare_metrics()
            self._processes = [self._start() for _ in range(self._count)]
            while not self._stopping:
                time.sleep(0.2)
                for i, process in enumerate(self._processes):
                    if not process.is_alive() and not self._stopping:
                        log.warning(
                            "worker %s exited with %s; starting a new one",
                            process.pid,
                            process.exitcode,
                        )
                        self._forget_metrics(process.pid)
                        time.sleep(_RESTART_PAUSE)
                        self._processes[i] = self._start()
        finally:
            self._shutdown()
            if self._metrics_dir is not None:
                shutil.rmtree(self._metrics_dir, ignore_errors=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _prepare_metrics(self) -> None:
        """A folder for the workers' metric files, in the environment they inherit."""
        given = os.environ.get(MULTIPROC_DIR)
        if given:
            folder = Path(given)
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob("*.db"):  # the last run's counts would be added in
                stale.unlink()
        else:
            self._metrics_dir = Path(tempfile.mkdtemp(prefix="tierline-metrics-"))
            os.environ[MULTIPROC_DIR] = str(self._metrics_dir)

    def _forget_metrics(self, pid: int | None) -> None:
        """Drop a dead worker's live gauges (its counts stay in the sums)."""
        from prometheus_client import multiprocess

        if pid is not None:
            multiprocess.mark_process_dead(pid)

    def _start(self) -> multiprocessing.process.BaseProcess:
        process = self._context.Process(target=_worker, args=self._args, name="tierline-worker")
        process.start()
        return process

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def _shutdown(self) -> None:
        # A worker stops gracefully on SIGTERM (uvicorn finishes the requests in flight).
        for process in self._processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()
        deadline = time.monotonic() + _STOP_SECONDS
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def _worker(host: str, port: int, config: dict[str, Any]) -> None:
    """One worker: its own socket on the shared port, then a uvicorn server on it."""
    import uvicorn

    # Ctrl-C in a terminal reaches every process of the group. uvicorn catches it to shut
    # down, then raises it again under the handler it found: ignored here, so a worker
    # ends quietly instead of with a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(_family(host))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(_BACKLOG)
    _lean_records()
    uvicorn.Server(uvicorn.Config(host=host, port=port, **config)).run(sockets=[sock])


def _lean_records() -> None:
    """Log records without the thread and process names that no format here prints (the
    logging HOWTO's "Optimization"): one access line per request makes them add up."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def log_config(log_level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, plus tierline's access log (to standard output, as
    uvicorn's) and its other loggers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    level = log_level.upper()
    config["formatters"][ACCESS_LOGGER] = {"format": ACCESS_FORMAT}
    config["handlers"][ACCESS_LOGGER] = {
        **config["handlers"]["access"],
        "formatter": ACCESS_LOGGER,
    }
    config["loggers"][ACCESS_LOGGER] = {
        "handlers": [ACCESS_LOGGER],
        "level": level,
        "propagate": False,
    }
    config["loggers"]["tierline"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
