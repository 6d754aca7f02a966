"""Shared fixtures: a real `fttui serve` on loopback over a fresh data directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

# -- running on both cores (pytest-xdist, `-n 2` in scripts/test.sh) ------------------


def pytest_configure(config: pytest.Config) -> None:
    """In an xdist worker, torch (in the worker, its servers and their trainers) uses one
    thread: two workers on a 2-core box, each running a trainer with a thread per core,
    would fight over the cores."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (in its own hook)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """One xdist group per test module (`--dist loadgroup`): a module's tests run in one
    worker, so its module-scoped fixtures (a server, a trained job) are built once, not
    once per worker. Everything under tests/cluster is one group: one Ray head per
    machine, and `ray stop` ends every Ray process on it, so those tests never run in
    two workers at once. A test may name its own group with `@pytest.mark.xdist_group`."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            module = item.nodeid.split("::", 1)[0]  # tests/<package>/test_<name>.py
            group = "ray" if module.startswith("tests/cluster/") else module
            item.add_marker(pytest.mark.xdist_group(group))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # xdist hands out the groups in this order (`--no-loadscope-reorder` in
        # scripts/test.sh): the modules with a `slow` test first, so that the two workers
        # end together instead of one running a minute-long test alone at the end.
        slow = {item.path for item in items if item.get_closest_marker("slow")}
        items.sort(key=lambda item: item.path not in slow)  # stable: same order otherwise


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A running `fttui serve` subprocess; `restart()` kills it hard and starts it again."""

    data_dir: Path
    port: int
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, **(self.env or {})}
        # Trainers of a server a test killed for good give up within a minute instead
        # of the default 15 (they buffer and retry while the server is away).
        env.setdefault("FTTUI_TRAINER_OFFLINE_S", "60")
        env.pop("FTTUI_API_KEY", None) if "FTTUI_API_KEY" not in (self.env or {}) else None
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fttui",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + timeout
        headers = {}
        if self.env and self.env.get("FTTUI_API_KEY"):
            headers["Authorization"] = f"Bearer {self.env['FTTUI_API_KEY']}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}:\n"
                    + (self.data_dir / "server.log").read_text(errors="replace")[-4000:]
                )
            try:
                if (
                    httpx.get(f"{self.base_url}/models", headers=headers, timeout=1).status_code
                    < 500
                ):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, kill: bool = True) -> None:
        self.stop(kill=kill)
        self.start()

    def log(self) -> str:
        return (self.data_dir / "server.log").read_text(errors="replace")


@contextmanager
def running_server(
    data_dir: Path,
    *,
    tiny_model_dir: Path | None = None,
    default_model: Path | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """A started `fttui serve` over `data_dir` (made if missing), stopped on leaving.

    `tiny_model_dir`: the tiny model registered as `tiny-test`; `default_model`: the
    converted default model seeded into it (`seed_default_model`), both before the start.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    if tiny_model_dir is not None:
        register_tiny_model(data_dir, tiny_model_dir)
    if default_model is not None:
        seed_default_model(data_dir, default_model)
    srv = ServerProcess(data_dir=data_dir, port=free_port(), extra_args=extra_args, env=env)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def wait_job_status(
    api: httpx.Client,
    job_id: str,
    statuses: set[str],
    timeout: float = 60,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Poll the job until its status is one of `statuses` and return it.

    Past `timeout` it fails naming the status it stayed in, plus the tail of the
    job's train.log when `data_dir` is given (what a failing training test needs).
    """
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = api.get(f"/fine_tuning/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            log = data_dir / "jobs" / job_id / "train.log" if data_dir is not None else None
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(
                f"job {job_id} stayed {job['status']!r} for {timeout}s, wanted {statuses}\n{tail}"
            )
        time.sleep(0.1)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def server(data_dir: Path) -> Iterator[ServerProcess]:
    """A real local server on a free loopback port, stopped after the test."""
    srv = ServerProcess(data_dir=data_dir, port=free_port())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


# -- the training engine's tiny model (tests/train, and others who train for real) --


def register_tiny_model(data_dir: Path, model_dir: Path, model_id: str = "tiny-test") -> str:
    """Register the tiny model in `<data_dir>/models.json` (do it before the server starts).

    Its base learning rate is high so a few steps visibly lower the loss.
    """
    import json

    path = data_dir / "models.json"
    config = json.loads(path.read_text()) if path.exists() else {}
    models = [m for m in config.get("models", []) if m.get("id") != model_id]
    models.append(
        {
            "id": model_id,
            "source": str(model_dir),
            "base_learning_rate": 0.05,
            "context_length": 256,
        }
    )
    config["models"] = models
    path.write_text(json.dumps(config))
    return model_id


# -- the default model, converted from its GGUF once per test run --------------------


@pytest.fixture(scope="session")
def default_model_converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model converted from its GGUF by fttui's own converter
    (`fttui.train.models.convert_gguf`, what a server or trainer runs the first time it
    needs the model), once per test run: the xdist workers share the directory (under
    the run's base temp; the converter's lock and rename make a second worker wait for
    the first one's copy). Converting takes 15-20 s, so the short CI tests on the default
    model start from this copy (`seed_default_model`); their `long` versions still let
    the server or the trainer convert it themselves."""
    from fttui.core.models import DEFAULT_MODEL, load_registry, resolve_model
    from fttui.train.models import convert_gguf, safe_dir_name

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # .../pytest-N/popen-gwK -> .../pytest-N, shared by the workers
    spec = resolve_model(load_registry(root), DEFAULT_MODEL)
    assert spec is not None
    return convert_gguf(root / "default-model" / safe_dir_name(spec.id), spec)


def seed_default_model(data_dir: Path, converted: Path) -> None:
    """Put the converted default model where a server and its trainers keep converted
    base models (`<data_dir>/models/base/<id>/`), as hard links (read only there), so
    neither converts it again. Do it before the server starts."""
    import shutil

    target = data_dir / "models" / "base" / converted.name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(converted, target, copy_function=os.link)
    except OSError:  # another file system: copy
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(converted, target)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random-weight Llama with a small BPE tokenizer and a chat template."""
    from fttui.train.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "tiny")


# -- a server without its training engine (the `local` extra) ------------------------

_NO_ENGINE_SITE = """
import sys

BLOCKED = {blocked!r}


class NotInstalled:
    \"\"\"Answers for the engine's packages as if they were not installed.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
"""


@pytest.fixture(scope="module")
def no_engine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server in which torch, transformers and the rest of the `local` extra
    cannot be imported: a `sitecustomize` on its PYTHONPATH (inherited by any trainer it
    starts) makes the import system report them absent, as where they were never
    installed."""
    from fttui.server.engine_check import ENGINE_MODULES

    site = tmp_path_factory.mktemp("no-engine-site")
    (site / "sitecustomize.py").write_text(_NO_ENGINE_SITE.format(blocked=set(ENGINE_MODULES)))
    data = tmp_path_factory.mktemp("no-engine-data")
    srv = ServerProcess(data_dir=data, port=free_port(), env={"PYTHONPATH": str(site)})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@contextmanager
def other_program() -> Iterator[int]:
    """Another program listening on a loopback port (yields the port): a plain web
    server that answers every request with its own HTML 404 page, as most do."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)  # an HTML page: "Error response ... File not found"

        do_POST = do_DELETE = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@dataclass
class OpenAIFixture:
    """A running `tests/openai_fixture_server.py`: OpenAI's published examples as an API."""

    port: int
    account: Any  # tests.openai_fixture_server.Account

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture
def openai_fixture() -> Iterator[OpenAIFixture]:
    """A fresh account built from OpenAI's published examples, served on loopback.

    `account.requests` records every (method, path) the client sent, `account.bodies`
    the create/completions bodies; set `account.refuse_training` for OpenAI's 403.
    """
    from tests.openai_fixture_server import openai_fixture_server

    port = free_port()
    with openai_fixture_server(port) as account:
        yield OpenAIFixture(port=port, account=account)
