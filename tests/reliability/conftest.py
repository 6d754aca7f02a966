"""Fixtures for the reliability tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ServerProcess, register_tiny_model  # tests/conftest.py

from .helpers import StartServer, make_server


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start real servers (each on its own data dir unless given); all stopped at the end."""
    started: list[ServerProcess] = []
    count = 0

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        tiny_model: Path | None = None,
    ) -> ServerProcess:
        nonlocal count
        if data_dir is None:
            count += 1
            data_dir = tmp_path / f"data{count}"
            data_dir.mkdir()
        if tiny_model is not None:
            register_tiny_model(data_dir, tiny_model)
        srv = make_server(data_dir, *args, env=env)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop(kill=True)
