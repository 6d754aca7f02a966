"""Fixtures for the server tests: real `fttui serve` processes with chosen options."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest
from conftest import ServerProcess, free_port, register_tiny_model  # tests/conftest.py

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


# -- inference: the tests' tiny model (random weights) as a base model --------------

MODEL = "tiny-test"
PROMPT = "cat number 7 says\n\n###\n\n"
CHAT = [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi there"}]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[ServerProcess]:
    """A server that never trains (`--concurrency 0`) with the tiny model registered."""
    data_dir = tmp_path_factory.mktemp("inference")
    register_tiny_model(data_dir, tiny_model_dir, MODEL)
    srv = ServerProcess(data_dir=data_dir, port=free_port(), extra_args=("--concurrency", "0"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def sdk(tiny: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=tiny.base_url, api_key="local", max_retries=0) as client:
        yield client
