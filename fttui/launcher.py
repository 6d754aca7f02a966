"""Start the local server in the background when the TUI needs it.

The server runs as its own detached process (new session, output to
`<data_dir>/server.log`) and is left running when the TUI exits, so training goes
on after an SSH session drops. Uses httpx directly for the health probe: speaking
HTTP is the API layer's job, and this is part of it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from fttui.api.errors import summarise_text
from fttui.config import Profile, config_path
from fttui.paths import data_dir as default_data_dir

__all__ = ["LauncherError", "PortTakenError", "ensure_local_server", "is_healthy"]

_LOG_TAIL = 2000


class LauncherError(RuntimeError):
    """The local server could not be started; the message carries its log's tail."""


class PortTakenError(LauncherError):
    """The local profile's port is held by a program that is not an fttui server;
    the message names it and says how to choose another port."""


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


async def _describe_other_program(profile: Profile, host: str, port: int) -> str | None:
    """Why what listens on host:port is not an fttui server, or None when it may be one
    (it answers in the OpenAI error shape, e.g. asking for the API key)."""
    url = f"{profile.base_url}/fttui/health"
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            response = await http.get(url)
    except httpx.HTTPError:
        return f"it does not answer HTTP on {host}:{port}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("status" in body or isinstance(body.get("error"), dict)):
        return None
    page = summarise_text(response.text) or "an empty body"
    return f"it answered {response.status_code} ({page}) where fttui's health check was expected"


def port_taken_message(host: str, port: int, why: str) -> str:
    """What to tell the user: whose port, and the two ways out."""
    other = port + 1
    return (
        f"{host}:{port}, the local profile's port, is in use by a program that is not an "
        f"fttui server: {why}. Stop that program, or use another port: run "
        f"`fttui --profile local --base-url http://{host}:{other}/v1`, or set "
        f'base_url = "http://{host}:{other}/v1" under [profiles.local] in {config_path()}.'
    )


async def is_healthy(profile: Profile, timeout: float = 2.0) -> bool:
    """Whether the profile's server answers its health endpoint with status ok."""
    headers = {"Authorization": f"Bearer {profile.api_key}"} if profile.api_key else {}
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.get(f"{profile.base_url}/fttui/health", headers=headers)
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    try:
        return bool(response.json().get("status") == "ok")
    except (ValueError, AttributeError):
        return False


def _log_tail(log: Path) -> str:
    """The log's last bytes only: it can be tens of MB after months of use."""
    try:
        with open(log, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - _LOG_TAIL))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


async def ensure_local_server(
    profile: Profile,
    timeout: float = 20.0,
    *,
    probe: Callable[[], Awaitable[bool]] | None = None,
) -> bool:
    """Make sure the local profile's server answers; start it if not.

    Returns True when this call started a server, False when one was already
    running (or the profile is not local: nothing to start). Raises LauncherError
    with the server log's tail when it cannot be started in `timeout` seconds.
    `probe` replaces the first health check: the TUI passes one that goes through
    its own API client, whose connection the first screen's requests then reuse
    (a throwaway client costs a TLS context and a TCP connect on every start).
    """
    if profile.kind != "local":
        return False
    if await (probe() if probe is not None else is_healthy(profile)):
        return False
    url = urlsplit(profile.base_url)
    host = url.hostname or "127.0.0.1"
    port = url.port or (443 if url.scheme == "https" else 80)
    if _listening(host, port):
        why = await _describe_other_program(profile, host, port)
        if why is not None:
            raise PortTakenError(port_taken_message(host, port, why))
    directory = default_data_dir(profile.data_dir)
    log_path = directory / "server.log"
    env = dict(os.environ)
    if profile.api_key:
        env["FTTUI_API_KEY"] = profile.api_key  # via the environment: argv is visible in `ps`
    command = [
        sys.executable, "-m", "fttui", "serve",
        "--host", host, "--port", str(port), "--data-dir", str(directory),
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives the TUI's terminal closing
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await is_healthy(profile, timeout=1.0):
            return True
        if proc.poll() is not None:
            # Another TUI may have started one at the same moment and won the port.
            if await is_healthy(profile, timeout=1.0):
                return False
            raise LauncherError(
                f"the local server exited with code {proc.returncode} "
                f"(log: {log_path}):\n{_log_tail(log_path)}"
            )
        await asyncio.sleep(0.2)
    raise LauncherError(
        f"the local server did not answer on {profile.base_url} within {timeout:g}s "
        f"(log: {log_path}):\n{_log_tail(log_path)}"
    )
