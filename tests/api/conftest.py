"""Fixtures for the API layer's tests: one real `fttui serve` per module, jobs kept queued."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from conftest import ServerProcess, free_port  # tests/conftest.py

from fttui.api import Client


@pytest.fixture(scope="module")
def queued_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real local server whose scheduler never starts jobs (`--concurrency 0`)."""
    data = tmp_path_factory.mktemp("data")
    srv = ServerProcess(data_dir=data, port=free_port(), extra_args=("--concurrency", "0"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def client(queued_server: ServerProcess) -> AsyncIterator[Client]:
    async with Client(
        queued_server.base_url, max_retries=2, retry_initial_delay=0.05, retry_max_delay=0.5
    ) as c:
        yield c


def write_jsonl(path: Path, n: int, tag: str = "q") -> Path:
    """A small valid prompt/completion training file (seed format)."""
    lines = (
        json.dumps({"prompt": f"{tag} {i}\n\n###\n\n", "completion": f" answer {i} END"})
        for i in range(n)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
