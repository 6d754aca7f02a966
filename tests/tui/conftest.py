"""Fixtures for the app's tests: a real server (seeded or with the tiny model) and the app."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from conftest import ServerProcess, free_port  # tests/conftest.py
from textual.css.query import NoMatches

from fttui.api import Client
from fttui.app import FtTuiApp

from .seed import NOW, seed_store
from .terminal import Terminal


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Times on screen in UTC, whatever the machine's zone (snapshots compare text)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def _seeded(data: Path) -> Iterator[ServerProcess]:
    seed_store(data).close()
    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def seeded_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server over the fixed state of `seed.py` (three files, three finished jobs)."""
    yield from _seeded(tmp_path / "seeded")


@pytest.fixture(scope="module")
def shared_seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The same, shared by a module's tests that change nothing on the server."""
    yield from _seeded(tmp_path_factory.mktemp("seeded") / "data")


def make_app(server: ServerProcess, *, frozen: bool = True) -> FtTuiApp:
    client = Client(server.base_url, max_retries=1, label=f"local · 127.0.0.1:{server.port}")
    # The port changes per run; a fixed label keeps snapshots stable.
    if frozen:
        client.label = "local · 127.0.0.1"
    return FtTuiApp(client, org="local", frozen_now=NOW if frozen else None)


async def wait_for(
    pilot: object,
    predicate: Callable[[], bool],
    timeout: float = 20.0,
    what: str | Callable[[], str] = "condition",
) -> None:
    """Pause the pilot until `predicate()` holds (real server, real timing); a
    widget it looks for that is not mounted yet counts as "not yet"."""
    pause: Callable[[float], Awaitable[None]] = pilot.pause  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout

    def holds() -> bool:
        try:
            return predicate()
        except NoMatches:
            return False

    while not holds():
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {said}")
        await pause(0.05)


@pytest.fixture
def terminals(tmp_path: Path) -> Iterator[Callable[[str], Terminal]]:
    """`new(name)`: a terminal on a private tmux server, all killed after the test."""
    socket = tmp_path / "tmux.sock"

    def new(name: str) -> Terminal:
        home = tmp_path / name
        home.mkdir()
        return Terminal(socket, name, home)

    try:
        yield new
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True)
