"""Fixtures for the server tests: real `fttui serve` processes with chosen options."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ServerProcess, free_port  # tests/conftest.py

StartServer = Callable[..., ServerProcess]


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """Start servers with extra arguments/env; all are stopped when the module ends."""
    started: list[ServerProcess] = []

    def start(
        *args: str, env: dict[str, str] | None = None, data_dir: Path | None = None
    ) -> ServerProcess:
        directory = data_dir or tmp_path_factory.mktemp("data")
        srv = ServerProcess(data_dir=directory, port=free_port(), extra_args=tuple(args), env=env)
        srv.start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture(scope="module")
def queued_server(start_server: StartServer) -> ServerProcess:
    """A server that never starts training (`--concurrency 0`): jobs stay queued."""
    return start_server("--concurrency", "0")
