"""The TUI's launcher starts a detached local server once and leaves it running."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import free_port, other_program

from fttui.api import APIConnectionError, Client
from fttui.config import resolve_profile
from fttui.launcher import LauncherError, PortTakenError, ensure_local_server, is_healthy


def _server_pid(data_dir: Path) -> int | None:
    """The running server's pid, which `fttui serve` writes into its lock file."""
    try:
        return int((data_dir / "server.lock").read_text().strip())
    except (OSError, ValueError):
        return None


def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    """Wait for `pid` to exit, reaping it (the launcher's Popen made it our child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


async def test_starts_once_and_survives_as_its_own_session(tmp_path: Path) -> None:
    data = tmp_path / "data"
    profile = resolve_profile(base_url=None, data_dir=data, env={}, path=tmp_path / "none.toml")
    profile = replace(profile, base_url=f"http://127.0.0.1:{free_port()}/v1")
    assert not await is_healthy(profile)
    try:
        assert await ensure_local_server(profile, timeout=30) is True
        pid = _server_pid(data)
        assert pid is not None and os.getsid(pid) == pid  # detached: leads its own session
        assert await ensure_local_server(profile) is False  # already running: not started twice
        async with Client.from_profile(profile) as client:
            health = await client.health()
            assert health is not None and health["status"] == "ok"
        assert (data / "server.log").exists()
    finally:
        pid = _server_pid(data)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid)


async def test_non_local_profiles_are_left_alone(tmp_path: Path) -> None:
    profile = resolve_profile("openai", env={}, path=tmp_path / "none.toml")
    assert await ensure_local_server(profile) is False


async def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    profile = replace(
        resolve_profile(env={}, path=tmp_path / "none.toml"),
        base_url=f"http://0.0.0.0:{free_port()}/v1",  # off loopback without a key: refused
        data_dir=tmp_path / "data",
    )
    with pytest.raises(LauncherError, match="(?s)exited with code 2.*without an API key"):
        await ensure_local_server(profile, timeout=30)


async def test_health_is_a_probe_and_the_launcher_trusts_the_apps_probe(tmp_path: Path) -> None:
    """The TUI checks the server through its own client (whose connection the first
    screen then reuses); a health probe of a dead port fails at once, not after the
    client's retries and backoff."""
    url = f"http://127.0.0.1:{free_port()}/v1"
    async with Client(url, max_retries=4, retry_initial_delay=0.5) as client:
        started = time.monotonic()
        with pytest.raises(APIConnectionError):
            await client.health()
        assert time.monotonic() - started < 0.4  # 4 retries would take seconds
    profile = replace(
        resolve_profile(env={}, path=tmp_path / "none.toml"),
        base_url=url,
        data_dir=tmp_path / "data",
    )
    probed: list[bool] = []

    async def probe() -> bool:
        probed.append(True)
        return True

    assert await ensure_local_server(profile, probe=probe) is False  # answered: nothing started
    assert probed == [True]
    assert _server_pid(tmp_path / "data") is None


async def test_a_port_held_by_another_program_is_named_with_the_fix(tmp_path: Path) -> None:
    """Another web server on the local profile's port: no server is started (it could
    not bind), and the error names the program's answer and how to pick a port."""
    with other_program() as port:
        profile = replace(
            resolve_profile(env={}, path=tmp_path / "none.toml"),
            base_url=f"http://127.0.0.1:{port}/v1",
            data_dir=tmp_path / "data",
        )
        with pytest.raises(PortTakenError) as info:
            await ensure_local_server(profile, timeout=10)
    message = str(info.value)
    assert f"127.0.0.1:{port}, the local profile's port, is in use by a program" in message
    assert "it answered 404 (Error response)" in message  # its page's title, not the page
    assert "<html" not in message.lower()
    assert f"--base-url http://127.0.0.1:{port + 1}/v1" in message
    assert "[profiles.local]" in message
    assert _server_pid(tmp_path / "data") is None  # nothing started
