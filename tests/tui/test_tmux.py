"""End to end: the installed `fttui` in a real terminal (tmux), keys in, screen text out."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ServerProcess

from .seed import JOB_FAILED, JOB_OK
from .terminal import app_env, fttui_exe

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """A private tmux server; yields `run(*args)` for tmux commands."""
    socket = str(tmp_path / "tmux.sock")

    def run(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", socket, *args], check=True, capture_output=True, text=True
        ).stdout

    try:
        yield run
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True)


def _screen(tmux: Callable[..., str]) -> str:
    return tmux("capture-pane", "-p", "-t", "app")


def _wait_screen(tmux: Callable[..., str], needle: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = _screen(tmux)
        if needle in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared; screen was:\n{text}")


def test_installed_fttui_in_tmux(
    seeded_server: ServerProcess, tmux: Callable[..., str], tmp_path: Path
) -> None:
    env = app_env(tmp_path, tmp_path / "config")
    command = " ".join(
        [
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            fttui_exe(),
            "--base-url",
            seeded_server.base_url,
            "--data-dir",
            str(seeded_server.data_dir),
        ]
    )
    tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "30", command)
    # 100 columns: the narrow layout, jobs pane first.
    # The jobs list fits its width: a long id may be cut short ("…" and its end).
    screen = _wait_screen(tmux, JOB_OK[-8:])
    assert "1 Files" in screen and "5 Plots" in screen
    assert JOB_FAILED[-8:] in screen
    tmux("send-keys", "-t", "app", "4")
    _wait_screen(tmux, "The job has successfully completed")
    tmux("send-keys", "-t", "app", "3")
    _wait_screen(tmux, "davinci:ft-local:reviews")
    tmux("send-keys", "-t", "app", "?")
    _wait_screen(tmux, "Escape closes")  # the help itself ("Cancel job" is in the key bar too)
    tmux("send-keys", "-t", "app", "Escape")
    time.sleep(0.5)  # a lone ESC is told from an escape sequence by a short pause
    tmux("send-keys", "-t", "app", "2")
    _wait_screen(tmux, "─ 2 Jobs")
    time.sleep(0.5)  # the jobs list has focus before j moves its cursor
    tmux("send-keys", "-t", "app", "j")
    time.sleep(1.0)  # the selection settles (the table debounces it)
    tmux("send-keys", "-t", "app", "3")
    _wait_screen(tmux, "does not start with a space")
    tmux("send-keys", "-t", "app", "q")
    deadline = time.monotonic() + 10
    while _alive(tmux):
        assert time.monotonic() < deadline, "fttui did not quit on q:\n" + _screen(tmux)
        time.sleep(0.2)
    # It quit, and left the server running (training goes on after the session ends).
    assert seeded_server.proc is not None and seeded_server.proc.poll() is None


def _alive(tmux: Callable[..., str]) -> bool:
    try:
        tmux("has-session", "-t", "app")
    except subprocess.CalledProcessError:
        return False
    return True


def test_fttui_starts_the_local_server_and_leaves_it_running(
    tmux: Callable[..., str], tmp_path: Path
) -> None:
    """The default (local) profile: no server yet, so the app starts one in the
    background; after `q` it keeps running, so training survives the session."""
    import httpx
    import psutil
    from conftest import free_port

    port = free_port()
    data = tmp_path / "data"
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(
        f'default = "local"\n[profiles.local]\nbase_url = "http://127.0.0.1:{port}/v1"\n'
        f'data_dir = "{data}"\n'
    )
    env = f"env FTTUI_CONFIG_DIR={config} TERM=xterm-256color HOME={tmp_path} PATH={os.environ['PATH']}"
    tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "30", f"{env} {fttui_exe()}")
    try:
        _wait_screen(tmux, f"local · http://127.0.0.1:{port}/v1", timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/fttui/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "no server started:\n" + _screen(tmux)
            time.sleep(0.3)
        _wait_screen(tmux, "─ 2 Jobs")
        time.sleep(2.5)  # a jobs refresh against the new server
        screen = _screen(tmux)
        assert "starting local server" not in screen and "unreachable" not in screen, screen
        tmux("send-keys", "-t", "app", "q")
        deadline = time.monotonic() + 10
        while _alive(tmux):
            assert time.monotonic() < deadline, "fttui did not quit on q"
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/fttui/health").status_code == 200
        assert (data / "fttui.db").exists()
    finally:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = proc.info["cmdline"] or []
            if "serve" in cmdline and str(port) in cmdline and str(data) in cmdline:
                proc.terminate()
                proc.wait(10)


def test_compare_and_a_job_end_notification_in_tmux(
    seeded_server: ServerProcess, tmux: Callable[..., str], tmp_path: Path
) -> None:
    """In a real terminal (tmux): two marked jobs compared; a watched job that ends
    rings the bell and sends OSC 9 through tmux's passthrough (the raw bytes the app
    wrote are recorded with pipe-pane)."""
    from fttui.store.db import Store

    store = Store(seeded_server.data_dir)
    running = store.create_job(
        model="davinci",
        base_model="SmolLM2-135M-Instruct",
        training_file="file-x",
        status="running",
    )["id"]
    raw = tmp_path / "pane.raw"
    env = app_env(tmp_path, tmp_path / "config")
    app = " ".join(
        [
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            fttui_exe(),
            "--base-url",
            seeded_server.base_url,
        ]
    )
    try:
        # Wide, so every pane shows; the app starts once the window has its size and
        # the output recorder (pipe-pane: the raw bytes the app writes) is attached.
        tmux("new-session", "-d", "-s", "app", "-x", "160", "-y", "48", f"sleep 1; exec {app}")
        tmux("resize-window", "-t", "app", "-x", "160", "-y", "48")
        tmux("pipe-pane", "-o", "-t", "app", f"cat >> {raw}")
        _wait_screen(tmux, running[-8:])
        time.sleep(1.0)  # the jobs list has focus
        tmux("send-keys", "-t", "app", "G", "Space", "k", "Space")  # the two oldest
        _wait_screen(tmux, "comparing 2 jobs")
        screen = _wait_screen(tmux, "…000001 train")  # the legend, once the curves are in
        assert "…000002" in screen, screen  # the side-by-side columns
        store.update_job(running, status="succeeded", finished_at=int(time.time()))
        _wait_screen(tmux, "job ended")
        deadline = time.monotonic() + 10
        while b"\x1b]9;" not in raw.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.2)
        data = raw.read_bytes()
        # Inside tmux: wrapped for its passthrough, ESC doubled; the bell before it.
        wrapped = f"\x1bPtmux;\x1b\x1b]9;fttui: job ended: {running} succeeded\x07\x1b\\"
        assert wrapped.encode() in data
        assert b"\x07\x1bPtmux;" in data
    finally:
        store.close()
