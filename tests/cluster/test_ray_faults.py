"""What a Ray cluster that misbehaves does to fttui jobs, on a real local head.

- the head silent for a while (a cut TCP proxy), across a server restart: the job
  re-attaches and succeeds, every metrics event once, one warning in the log;
- a node whose Python lacks fttui: the job fails naming that Python and the fix;
- `ray stop` under running jobs: a short `--ray-grace-s` fails its job within the
  grace + 10 s, saying the head is silent; a long one sees the head come back without
  the job and fails it, saying so (the head is started again for the tests after);
- a Ray Train worker killed mid-epoch with 2 workers: the job resumes from its
  checkpoint and matches an uninterrupted run, no step twice in the results file.

The last two are `long` (see docs/cluster.md for the times); CI runs the others.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ServerProcess  # tests/conftest.py

from fttui import __version__
from tests.train.conftest import create_job, events, toy_lines, upload, wait_for

from .conftest import HeadProxy, RayHead, ray_server
from .test_ray_runner import FINAL, _long_job, _processes_of, _ray_id, _rows, _wait_metrics

pytestmark = pytest.mark.ray


def _log(srv: ServerProcess) -> str:
    return (srv.data_dir / "server.log").read_text(errors="replace")


def _job(srv: ServerProcess, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{srv.base_url}/fine_tuning/jobs/{job_id}", timeout=30).json())


def test_head_silent_across_a_server_restart_within_the_grace_changes_nothing(
    tmp_path: Path, tiny_model_dir: Path, ray_head: RayHead
) -> None:
    proxy = HeadProxy(ray_head.address)
    srv = ray_server(
        tmp_path / "data", tiny_model_dir, ray_head, "--ray-grace-s", "30", address=proxy.address
    )
    try:
        train_id = upload(srv, "train.jsonl", toy_lines(20))
        job = create_job(
            srv,
            model="tiny-test",
            training_file=train_id,
            # 800 steps: still training after the cut and the restart on an idle machine
            # (300 steps of the tiny model had finished by then in CI)
            hyperparameters={"n_epochs": 40, "batch_size": 1},
        )
        _wait_metrics(srv, job["id"], 2)
        proxy.cut()
        time.sleep(3)  # six ticks of a head that does not answer
        srv.stop(kill=True)
        srv.start()  # re-attaches while the head is still silent
        time.sleep(3)
        # Within the grace nothing changes: never failed. (On a fast machine the trainer,
        # which keeps training while the server is down, may have finished by now.)
        status = _job(srv, job["id"])["status"]
        assert status in ("running", "succeeded"), status
        proxy.mend()
        done = wait_for(srv, job["id"], FINAL, timeout=600)
        assert done["status"] == "succeeded", done["error"]
        evs = events(srv, job["id"])
        assert [e["data"]["step"] for e in evs if e["type"] == "metrics"] == list(range(1, 801))
        if status == "running":  # re-attached to a trainer that was still at work
            assert any("trainer is still running (Ray job" in e["message"] for e in evs)
        # One line when the head went silent (per server process), one when it came
        # back: not a warning per tick.
        log = _log(srv)
        assert 1 <= log.count("does not answer about Ray job") <= 2, log[-3000:]
        # At most one when it came back: none when the trainer ended before the server
        # next asked the head (seen in CI once trainers exit without teardown).
        assert log.count("answers again") <= 1, log[-3000:]
    finally:
        srv.stop()
        proxy.close()


def test_a_node_python_without_fttui_fails_the_job_naming_the_fix(
    tmp_path: Path, tiny_model_dir: Path, ray_head: RayHead
) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    python = str(bare / "bin" / "python")
    srv = ray_server(tmp_path / "data", tiny_model_dir, ray_head, "--ray-python", python)
    try:
        train_id = upload(srv, "train.jsonl", toy_lines(8))
        job = create_job(srv, model="tiny-test", training_file=train_id)
        done = wait_for(srv, job["id"], FINAL, timeout=120)
        assert done["status"] == "failed"
        message = done["error"]["message"]
        assert f"the Ray node's Python {python} cannot import the fttui trainer" in message
        assert f"{python} -m pip install" in message and f"fttui {__version__}" in message
        assert "--ray-python" in message
        assert "Traceback" not in message
    finally:
        srv.stop()


def test_cancel_stops_the_ray_job_within_10_s(
    tmp_path: Path, tiny_model_dir: Path, ray_head: RayHead
) -> None:
    from .test_ray_runner import _ray_status

    srv = ray_server(tmp_path / "data", tiny_model_dir, ray_head)
    try:
        job = _long_job(srv)
        _wait_metrics(srv, job["id"], 2)
        ray_id = _ray_id(srv, job["id"])
        t0 = time.monotonic()
        httpx.post(f"{srv.base_url}/fine_tuning/jobs/{job['id']}/cancel", timeout=30)
        while time.monotonic() - t0 < 10 and _ray_status(ray_head, ray_id) in (
            "PENDING",
            "RUNNING",
        ):
            time.sleep(0.2)
        assert _ray_status(ray_head, ray_id) in ("STOPPED", "SUCCEEDED")
        assert wait_for(srv, job["id"], FINAL, timeout=5)["status"] == "cancelled"
        deadline = time.monotonic() + 10
        while _processes_of(ray_id) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_of(ray_id) == [], "the trainer outlived its cancelled Ray job"
    finally:
        srv.stop()


def _train_workers() -> list[int]:
    """Ray Train's worker processes (actors named `RayTrainWorker`)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"RayTrainWorker" in cmdline:
            found.append(int(proc.name))
    return sorted(found)


@pytest.mark.long
@pytest.mark.timeout(1200)  # a 2-worker job and its twin: 522 s at load 20 on 2 cores
def test_a_killed_ray_train_worker_resumes_from_its_checkpoint(
    tmp_path: Path, tiny_model_dir: Path, ray_head: RayHead
) -> None:
    def job_of(srv: ServerProcess) -> dict[str, Any]:
        train_id = upload(srv, "train.jsonl", toy_lines(120))
        return create_job(
            srv,
            model="tiny-test",
            training_file=train_id,
            hyperparameters={"n_epochs": 3, "batch_size": 2},
            seed=5,
        )

    ref_srv = ray_server(tmp_path / "ref", tiny_model_dir, ray_head, workers=2)
    try:
        ref = wait_for(ref_srv, job_of(ref_srv)["id"], FINAL, timeout=400)
        assert ref["status"] == "succeeded", ref["error"]
        ref_rows = _rows(ref_srv, ref)
    finally:
        ref_srv.stop()

    srv = ray_server(tmp_path / "data", tiny_model_dir, ray_head, workers=2)
    try:
        job = job_of(srv)
        ckpts = f"{srv.base_url}/fine_tuning/jobs/{job['id']}/checkpoints"
        deadline = time.monotonic() + 300
        while not httpx.get(ckpts, timeout=30).json()["data"]:  # epoch 1 is saved
            assert time.monotonic() < deadline, "no checkpoint after 300 s"
            time.sleep(0.1)
        mine = set(_processes_of(_ray_id(srv, job["id"])))
        workers = [pid for pid in _train_workers() if pid in mine]
        assert len(workers) == 2, workers
        os.kill(workers[-1], signal.SIGKILL)  # one rank, mid-epoch 2
        killed_after = max(
            e["data"]["step"] for e in events(srv, job["id"]) if e["type"] == "metrics"
        )
        done = wait_for(srv, job["id"], FINAL, timeout=400)
        assert done["status"] == "succeeded", done["error"]
        messages = [e["message"] for e in events(srv, job["id"])]
        assert any(m.startswith("A Ray Train worker failed") for m in messages), messages
        resumed = [m for m in messages if m.startswith("Training resumed at step")]
        assert len(resumed) == 1, messages
        assert killed_after > 60, "the worker was killed before epoch 2 began"
        rows = _rows(srv, done)
        steps = [int(r["step"]) for r in rows]
        assert steps == list(range(1, 181)), steps  # each step once, none missing
        assert len(ref_rows) == len(rows)
        for a, b in zip(rows, ref_rows, strict=True):
            assert a["elapsed_examples"] == b["elapsed_examples"]
            assert float(a["training_loss"]) == pytest.approx(
                float(b["training_loss"]), rel=1e-4, abs=1e-6
            ), (a, b)
    finally:
        srv.stop()


@pytest.mark.long
@pytest.mark.timeout(1200)  # two jobs and a head restart: 130-200 s at load 20-30
def test_ray_stop_under_running_jobs_fails_them_saying_why(
    tmp_path: Path, tiny_model_dir: Path, ray_head: RayHead
) -> None:
    """Last in the file: it stops the session's head (and starts it again)."""
    grace = 5.0
    short = ray_server(tmp_path / "short", tiny_model_dir, ray_head, "--ray-grace-s", f"{grace:g}")
    patient = ray_server(tmp_path / "patient", tiny_model_dir, ray_head, "--ray-grace-s", "600")
    try:
        a, b = _long_job(short), _long_job(patient)
        _wait_metrics(short, a["id"], 1)
        _wait_metrics(patient, b["id"], 1)
        t0 = time.monotonic()
        ray_head.stop()
        stopped_at = time.monotonic()
        done = wait_for(short, a["id"], FINAL, timeout=grace + 10 + (stopped_at - t0))
        assert time.monotonic() - stopped_at <= grace + 10
        assert done["status"] == "failed"
        message = done["error"]["message"]
        assert f"The Ray head at {ray_head.address} has not answered for" in message, message
        assert "--ray-grace-s" in message and "ray status" in message
        assert short.proc is not None and short.proc.poll() is None  # still serving
        # The patient server still waits; the head comes back without the job.
        assert _job(patient, b["id"])["status"] == "running"
        ray_head.start()
        done = wait_for(patient, b["id"], FINAL, timeout=30)
        assert done["status"] == "failed"
        message = done["error"]["message"]
        assert f"no longer knows Ray job {_ray_id(patient, b['id'])}" in message, message
        assert "create the job again" in message
        assert _log(patient).count("does not answer about Ray job") == 1
    finally:
        short.stop()
        patient.stop()
