"""The trainer <-> server protocol, without Ray: real servers, real trainers, loopback HTTP.

- a job's token opens that job only, and nothing once the job is final;
- a report sent twice is applied once;
- the server SIGKILLed mid-training and restarted: the trainer buffered its reports
  and flushes them in order, every metrics event exactly once;
- a model upload whose connection drops is sent again and never leaves half a model;
- the trainer trains with the server's data dir forbidden to it (HTTP only);
- no module of the trainer imports `fttui.store` (nor the server).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from conftest import ServerProcess, free_port, register_tiny_model
from safetensors.torch import load_file

from fttui.train.models import safe_dir_name

from .conftest import create_job, events, toy_lines, upload, wait_for

WRAPPERS = Path(__file__).with_name("trainer_wrappers.py")
REPO = Path(__file__).resolve().parents[2]
FINAL = {"succeeded", "failed", "cancelled"}


def _server(
    root: Path, model_dir: Path, mode: str | None = None, env: dict[str, str] | None = None
) -> ServerProcess:
    root.mkdir(parents=True, exist_ok=True)
    register_tiny_model(root, model_dir)
    full = dict(env or {})
    if mode:
        full["FTTUI_TRAINER_COMMAND"] = shlex.join([sys.executable, str(WRAPPERS), mode])
    srv = ServerProcess(data_dir=root, port=free_port(), env=full)
    srv.start()
    return srv


def _internal(srv: ServerProcess, job_id: str) -> str:
    return f"http://127.0.0.1:{srv.port}/internal/v1/jobs/{job_id}"


def _wait_token(folder: Path, job_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = folder / job_id
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"the trainer of {job_id} never started")


def _wait_metrics(srv: ServerProcess, job_id: str, n: int = 1, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(e["type"] == "metrics" for e in events(srv, job_id)) >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reported {n} metrics events")


def test_token_opens_its_own_running_job_only_and_reports_apply_once(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    tokens = tmp_path / "tokens"
    srv = _server(tmp_path / "data", tiny_model_dir, "leak", {"FTTUI_TEST_TOKEN_DIR": str(tokens)})
    try:
        train_id = upload(srv, "train.jsonl", toy_lines(30))
        long_job = create_job(
            srv,
            model="tiny-test",
            training_file=train_id,
            hyperparameters={"n_epochs": 50, "batch_size": 1},
        )
        other = create_job(  # stays queued while the first one trains
            srv,
            model="tiny-test",
            training_file=train_id,
            hyperparameters={"n_epochs": 1, "batch_size": 10},
        )
        token = _wait_token(tokens, long_job["id"])
        auth = {"Authorization": f"Bearer {token}"}
        mine = _internal(srv, long_job["id"])

        spec = httpx.get(f"{mine}/spec", headers=auth, timeout=30)
        assert spec.status_code == 200 and spec.json()["job"]["training_file"] == train_id
        # Another job, a made-up token, no token, the server's API surface: all refused.
        assert httpx.get(f"{_internal(srv, other['id'])}/spec", headers=auth).status_code == 401
        forged = {"Authorization": "Bearer " + "x" * 43}
        assert httpx.get(f"{mine}/spec", headers=forged).status_code == 401
        assert httpx.get(f"{mine}/spec").status_code == 401
        not_mine = httpx.get(f"{mine}/files/{other['training_file']}x", headers=auth)
        assert not_mine.status_code == 403

        # A batch sent twice (an answer lost, the trainer retries): applied once.
        batch = {
            "reports": [
                {"id": "test-dup-1", "kind": "event", "message": "duplicate probe", "level": "info"}
            ]
        }
        first = httpx.post(f"{mine}/reports", headers=auth, json=batch, timeout=30).json()
        again = httpx.post(f"{mine}/reports", headers=auth, json=batch, timeout=30).json()
        assert (first["applied"], again["applied"]) == (1, 0)
        assert first["control"]["action"] == "continue"
        probes = [e for e in events(srv, long_job["id"]) if e["message"] == "duplicate probe"]
        assert len(probes) == 1

        _wait_metrics(srv, long_job["id"], 2)
        httpx.post(f"{srv.base_url}/fine_tuning/jobs/{long_job['id']}/cancel", timeout=30)
        assert wait_for(srv, long_job["id"], FINAL)["status"] == "cancelled"
        # The trainer's closing reports revoke its token; so does the trainer's exit.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if httpx.get(f"{mine}/spec", headers=auth).status_code == 401:
                break
            time.sleep(0.2)
        refused = httpx.get(f"{mine}/spec", headers=auth)
        assert refused.status_code == 401, refused.text

        # The second job trains to the end; afterwards its token opens nothing.
        done = wait_for(srv, other["id"], FINAL, timeout=120)
        assert done["status"] == "succeeded", done["error"]
        other_auth = {"Authorization": f"Bearer {_wait_token(tokens, other['id'])}"}
        final = httpx.get(f"{_internal(srv, other['id'])}/spec", headers=other_auth)
        assert final.status_code == 401, final.text
        late = httpx.post(
            f"{_internal(srv, other['id'])}/reports", headers=other_auth, json=batch, timeout=30
        )
        assert late.status_code == 401
    finally:
        srv.stop()


def test_server_killed_mid_training_gets_every_report_once_and_in_order(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    srv = _server(tmp_path / "data", tiny_model_dir)
    try:
        train_id = upload(srv, "train.jsonl", toy_lines(20))
        job = create_job(
            srv,
            model="tiny-test",
            training_file=train_id,
            hyperparameters={"n_epochs": 3, "batch_size": 1},
        )
        _wait_metrics(srv, job["id"], 2)
        log = tmp_path / "data" / "jobs" / job["id"] / "train.log"
        tried = log.read_text().count("; retrying")
        srv.stop(kill=True)  # the trainer runs on, buffering its reports
        # Restarted once the trainer has found the server gone (a send failed, and it
        # buffers while it retries), not after a fixed pause that may prove nothing.
        deadline = time.monotonic() + 60
        while log.read_text().count("; retrying") <= tried:
            assert time.monotonic() < deadline, "the trainer never found the server gone"
            time.sleep(0.05)
        srv.start()
        done = wait_for(srv, job["id"], FINAL, timeout=180)
        assert done["status"] == "succeeded", done["error"]
        evs = events(srv, job["id"])
        steps = [e["data"]["step"] for e in evs if e["type"] == "metrics"]
        assert steps == list(range(1, 61)), steps  # all, once each, in order
        messages = [e["message"] for e in evs]
        assert any("trainer is still running" in m for m in messages)
        assert sum(m.startswith("Job succeeded") for m in messages) == 1
        assert sum(m.startswith("Checkpoint saved") for m in messages) == 3
        ckpts = httpx.get(f"{srv.base_url}/fine_tuning/jobs/{job['id']}/checkpoints").json()
        assert sorted(c["step_number"] for c in ckpts["data"]) == [20, 40, 60]
    finally:
        srv.stop()


class _DroppingProxy:
    """A TCP proxy that cuts the first upload of `model.safetensors` part-way through.

    Stands in for a network that drops a connection (out of our reach otherwise);
    everything else passes through untouched.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.dropped = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, inspect: bool) -> None:
        cutting = False
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if inspect and b"PUT " in data and b"model.safetensors" in data:
                    with self._lock:
                        if self.dropped == 0:
                            self.dropped = 1
                            cutting = True
                if cutting:
                    sent += len(data)
                    if sent > 20_000:
                        break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.sock.close()


def test_dropped_model_upload_is_sent_again_and_never_leaves_half_a_model(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    port = free_port()
    proxy = _DroppingProxy(port)
    root = tmp_path / "data"
    root.mkdir()
    register_tiny_model(root, tiny_model_dir)
    srv = ServerProcess(
        data_dir=root,
        port=port,
        extra_args=("--trainer-url", f"http://127.0.0.1:{proxy.port}"),
    )
    srv.start()
    try:
        train_id = upload(srv, "train.jsonl", toy_lines(8))
        job = create_job(
            srv, model="tiny-test", training_file=train_id, hyperparameters={"n_epochs": 1}
        )
        done = wait_for(srv, job["id"], FINAL, timeout=120)
        assert proxy.dropped == 1, "the upload was never cut"
        assert done["status"] == "succeeded", done["error"]
        model_dir = root / "models" / safe_dir_name(done["fine_tuned_model"])
        manifest = json.loads((model_dir / "fttui-manifest.json").read_text())
        for entry in manifest["files"]:
            assert (model_dir / entry["name"]).stat().st_size == entry["bytes"]
        load_file(str(model_dir / "model.safetensors"))  # complete, loads
        leftovers = [p for p in (root / "tmp").rglob("*") if p.is_file()]
        assert leftovers == [], leftovers
        log = (root / "jobs" / job["id"] / "train.log").read_text()
        assert "retrying" in log
        answer = httpx.post(
            f"{srv.base_url}/completions",
            json={"model": done["fine_tuned_model"], "prompt": "cat", "max_tokens": 2},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
    finally:
        srv.stop()
        proxy.close()


def test_trainer_trains_without_touching_the_data_dir(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The trainer run elsewhere, with its own cache, the data dir forbidden: HTTP only."""
    root = tmp_path / "data"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        "FTTUI_TEST_FORBIDDEN_DIR": str(root),
        "FTTUI_TEST_CACHE_DIR": str(tmp_path / "node-cache"),
        "FTTUI_TEST_CWD": str(elsewhere),
    }
    srv = _server(root, tiny_model_dir, "sandbox", env)
    try:
        first = _run_small_job(srv, toy_lines(12))
        assert first["status"] == "succeeded", first["error"]
        # Continuing from that model: its weights come over HTTP into the node cache.
        second = _run_small_job(srv, toy_lines(4, offset=50), model=first["fine_tuned_model"])
        assert second["status"] == "succeeded", second["error"]
        cached = list((tmp_path / "node-cache" / "checksum").glob("[!.]*"))
        assert len(cached) == 1 and (cached[0] / "model.safetensors").exists()
        log = (root / "jobs" / second["id"] / "train.log").read_text()
        assert "touched the server's data dir" not in log
    finally:
        srv.stop()


def _run_small_job(
    srv: ServerProcess, lines: list[str], model: str = "tiny-test"
) -> dict[str, Any]:
    train_id = upload(srv, "train.jsonl", lines)
    job = create_job(srv, model=model, training_file=train_id, hyperparameters={"n_epochs": 1})
    return wait_for(srv, job["id"], FINAL, timeout=120)


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_no_trainer_module_imports_the_store_or_the_server() -> None:
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted((REPO / "fttui" / "train").rglob("*.py"))
        for name in _imports(path)
        if name.startswith(("fttui.store", "fttui.server"))
    ]
    assert offenders == []
    # And at run time: loading the whole trainer pulls in neither.
    code = (
        "import sys, fttui.train.run, fttui.train.client, fttui.train.engine, "
        "fttui.train.models, fttui.train.ray_train;"
        "bad = sorted(m for m in sys.modules if m.startswith(('fttui.store', 'fttui.server')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_trainer_without_token_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fttui.train.run",
            "--server-url",
            "http://127.0.0.1:9",
            "--job-id",
            "x",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "FTTUI_TRAINER_TOKEN"},
    )
    assert done.returncode != 0
    assert "FTTUI_TRAINER_TOKEN" in done.stderr and "Traceback" not in done.stderr
