"""`fttui serve`: check the settings and the auth rule, lock the data dir, run uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from fttui.server.auth import is_loopback
from fttui.server.settings import Settings


class DataDirBusy(Exception):
    pass


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[IO[str]]:
    """Hold `<data_dir>/server.lock` so two servers never share one store and scheduler."""
    path = data_dir / "server.lock"
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the server's life
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise DataDirBusy(
                f"another fttui server (pid {holder}) is already using {data_dir}; "
                "stop it or choose another --data-dir"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield fh
    finally:
        fh.close()


def serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted; returns the process exit code."""
    settings = Settings.from_args(args)
    problems = settings.problems()
    if not is_loopback(settings.host) and not settings.api_key:
        problems.append(
            f"refusing to listen on {settings.host} without an API key: anyone who can reach "
            "it could read your files and start jobs. Pass --api-key or set FTTUI_API_KEY "
            "(or bind to 127.0.0.1)"
        )
    if problems:
        for problem in problems:
            print(f"fttui serve: {problem}", file=sys.stderr)
        return 2
    try:
        with data_dir_lock(settings.data_dir):
            import uvicorn

            from fttui.server import logfile
            from fttui.server.app import create_app

            logfile.setup(settings.data_dir, settings.log_level)
            app = create_app(settings)
            print(
                f"fttui serve: http://{settings.host}:{settings.port}/v1 "
                f"(data dir {settings.data_dir}, auth {'on' if settings.api_key else 'off'})",
                file=sys.stderr,
                flush=True,
            )
            config = uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level,
                log_config=logfile.uvicorn_log_config(settings.log_level),
                timeout_graceful_shutdown=10,
            )
            server = uvicorn.Server(config)
            server.run()
            return 0 if server.started else 1
    except DataDirBusy as exc:
        print(f"fttui serve: {exc}", file=sys.stderr)
        return 1
