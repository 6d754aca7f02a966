"""A real local Ray head for the Ray runner tests, on free ports with its own temp dir.

Started once per session with `ray start --head` and always stopped with `ray stop`
(also when a test fails); a test that stops the head (`RayHead.stop`) starts it again
on the same ports (`RayHead.start`) for the tests after it. Its worker count is 2 CPUs, like the issue's test set-up;
the object store is kept small (100 MB) because the tests pass no data through it.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import ServerProcess, free_port, register_tiny_model  # tests/conftest.py

pytest.importorskip("ray", reason="the Ray tests need the ray extra: pip install '.[ray]'")


@dataclass
class RayHead:
    address: str  # the job submission (dashboard) address
    temp_dir: Path
    env: dict[str, str]
    start_args: tuple[str, ...] = ()

    def stop(self) -> None:
        """`ray stop`: every Ray process of this machine (only this session runs Ray)."""
        _ray(self.env, "stop", "--force")

    def start(self) -> None:
        started = _ray(self.env, *self.start_args)
        if started.returncode != 0:
            raise RuntimeError(f"ray start failed:\n{started.stdout}\n{started.stderr}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.address}/api/version", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError("the Ray dashboard never answered")


def _port_range_free(start: int, count: int) -> bool:
    for port in range(start, start + count):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _worker_ports() -> tuple[int, int]:
    for _ in range(50):
        start = random.randrange(20000, 60000)
        if _port_range_free(start, 40):
            return start, start + 39
    raise RuntimeError("no free range of 40 ports for Ray's workers")


def _ray(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    ray = str(Path(sys.executable).with_name("ray"))
    return subprocess.run(
        [ray, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    # Ray's unix sockets need a short path.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    cache = tmp_path_factory.mktemp("ray-node-cache")
    env = {
        **os.environ,
        # The entrypoint's `python` is this venv's, as on a node with fttui installed.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "FTTUI_CACHE_DIR": str(cache),
        "RAY_USAGE_STATS_ENABLED": "0",
        "FTTUI_TRAINER_OFFLINE_S": "60",
    }
    dashboard = free_port()
    low, high = _worker_ports()
    args = (
        "start",
        "--head",
        "--num-cpus",
        "2",
        "--include-dashboard",
        "true",
        "--dashboard-host",
        "127.0.0.1",
        "--disable-usage-stats",
        "--node-ip-address",
        "127.0.0.1",
        "--port",
        str(free_port()),
        "--dashboard-port",
        str(dashboard),
        "--node-manager-port",
        str(free_port()),
        "--object-manager-port",
        str(free_port()),
        "--ray-client-server-port",
        str(free_port()),
        "--dashboard-agent-listen-port",
        str(free_port()),
        "--dashboard-agent-grpc-port",
        str(free_port()),
        "--runtime-env-agent-port",
        str(free_port()),
        "--metrics-export-port",
        str(free_port()),
        "--min-worker-port",
        str(low),
        "--max-worker-port",
        str(high),
        "--object-store-memory",
        str(100 * 1024 * 1024),
        "--temp-dir",
        str(temp_dir),
    )
    head = RayHead(f"http://127.0.0.1:{dashboard}", temp_dir, env, args)
    try:
        head.start()
        yield head
    finally:
        head.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)


class HeadProxy:
    """A TCP proxy between the fttui server and the head's dashboard, which a test can
    cut (`cut()`: open connections are closed and new ones closed at once, as a
    network that drops the head would) and mend (`mend()`), to see what a head
    silent for a while does."""

    def __init__(self, upstream: str) -> None:
        self.upstream_port = int(upstream.rsplit(":", 1)[1])
        self._cut = False
        self._live: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self._cut:
                conn.close()
                continue
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                conn.close()
                continue
            up.settimeout(None)  # a slow answer (a submission on a busy head) is no cut
            self._live += [conn, up]
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._cut = True
        for sock in self._live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._live.clear()

    def mend(self) -> None:
        self._cut = False

    def close(self) -> None:
        self.cut()
        self._listener.close()


def ray_server(
    root: Path,
    model_dir: Path,
    head: RayHead,
    *args: str,
    workers: int = 1,
    address: str | None = None,
) -> ServerProcess:
    """A real `fttui serve --runner ray` against the session's head, tiny model registered."""
    root.mkdir(parents=True, exist_ok=True)
    register_tiny_model(root, model_dir)
    srv = ServerProcess(
        data_dir=root,
        port=free_port(),
        extra_args=(
            "--runner",
            "ray",
            "--ray-address",
            address or head.address,
            "--ray-workers",
            str(workers),
            *args,
        ),
    )
    srv.start()
    return srv
