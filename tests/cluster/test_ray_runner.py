"""`fttui serve --runner ray` against a real local Ray head, with the tiny model.

CI runs the first test (one end-to-end Ray job); the others are `long` (run them with
`pytest tests/cluster -m ray`; see docs/cluster.md). Faults (head lost, worker
killed, cancel, a node without fttui): test_ray_faults.py.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ServerProcess  # tests/conftest.py

from fttui.api.types import FineTuningJob
from fttui.panes.convert import job_detail
from fttui.train.precision import choose
from tests.train.conftest import SEPARATOR, create_job, events, toy_lines, upload, wait_for

from .conftest import RayHead, ray_server

pytestmark = pytest.mark.ray
FINAL = {"succeeded", "failed", "cancelled"}
PRECISION = choose("cpu").name  # what a trainer on this machine picks (FTTUI_PRECISION too)


def _ray_client(head: RayHead) -> Any:
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(head.address)


def _ray_status(head: RayHead, submission_id: str) -> str:
    return str(_ray_client(head).get_job_status(submission_id).value)


def _rows(srv: ServerProcess, job: dict[str, Any]) -> list[dict[str, str]]:
    resp = httpx.get(f"{srv.base_url}/files/{job['result_files'][0]}/content", timeout=30)
    return list(csv.DictReader(io.StringIO(resp.text)))


def _train(srv: ServerProcess, seed: int = 3, **hp: Any) -> dict[str, Any]:
    train_id = upload(srv, "train.jsonl", toy_lines(24))
    valid_id = upload(srv, "valid.jsonl", toy_lines(6, offset=100))
    job = create_job(
        srv,
        model="tiny-test",
        training_file=train_id,
        validation_file=valid_id,
        hyperparameters={"n_epochs": 2, "batch_size": 4, **hp},
        seed=seed,
    )
    return wait_for(srv, job["id"], FINAL, timeout=300)


def _wait_metrics(srv: ServerProcess, job_id: str, n: int = 1, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(e["type"] == "metrics" for e in events(srv, job_id)) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never reported {n} metrics events")


def _processes_of(marker: str) -> list[int]:
    """Live processes whose command line or environment names `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
            text = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if state != "Z" and marker.encode() in text:
            found.append(int(proc.name))
    return found


def test_ray_job_trains_like_a_local_one_and_its_model_answers(
    tmp_path: Path, tiny_model_dir: Path, ray_head: RayHead
) -> None:
    srv = ray_server(tmp_path / "data", tiny_model_dir, ray_head)
    try:
        job = _train(srv)
        assert job["status"] == "succeeded", job["error"]
        runtime = job["fttui"]["runtime"]
        ray_id = runtime["ray_job_id"]
        assert runtime == {
            "runner": "ray",
            "workers": 1,
            "device": "cpu",
            "precision": PRECISION,  # chosen for this machine: bf16 with AMX-BF16, else fp32
            "ray_job_id": ray_id,
        }
        assert ray_id.startswith(f"fttui-{job['id']}-")
        # The TUI's job detail says where it ran.
        detail = dict(job_detail(FineTuningJob.model_validate(job)))
        assert detail["runs on"] == f"Ray (job {ray_id}), 1 worker, cpu, {PRECISION}"
        deadline = time.monotonic() + 30  # the trainer exits right after its last report
        while _ray_status(ray_head, ray_id) == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _ray_status(ray_head, ray_id) == "SUCCEEDED"
        # The entrypoint carries no data dir (and no token): the trainer only talks HTTP.
        info = _ray_client(ray_head).get_job_info(ray_id)
        assert str(srv.data_dir) not in info.entrypoint and "--data-dir" not in info.entrypoint
        assert "TOKEN" not in info.entrypoint

        # The same kind of results, events, checkpoints and model as the local runner.
        rows = _rows(srv, job)
        assert [int(r["step"]) for r in rows] == list(range(1, 13))
        assert [int(r["elapsed_examples"]) for r in rows] == [4 * s for s in range(1, 13)]
        evs = events(srv, job["id"])
        messages = [e["message"] for e in evs]
        assert [e["data"]["step"] for e in evs if e["type"] == "metrics"] == list(range(1, 13))
        started = next(m for m in messages if m.startswith("Training started"))
        assert f"running on Ray (Ray job {ray_id}), 1 process, device cpu" in started
        assert any(m == f"Fine-tuning job started (Ray job {ray_id})" for m in messages)
        assert sum(m.startswith("Job succeeded") for m in messages) == 1
        ckpts = httpx.get(f"{srv.base_url}/fine_tuning/jobs/{job['id']}/checkpoints").json()
        assert sorted(c["step_number"] for c in ckpts["data"]) == [6, 12]
        answer = httpx.post(
            f"{srv.base_url}/completions",
            json={
                "model": job["fine_tuned_model"],
                "prompt": f"cat number 7 says{SEPARATOR}",
                "max_tokens": 3,
                "temperature": 0,
            },
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["text"]
    finally:
        srv.stop()


@pytest.mark.long
def test_two_ray_workers_train_like_one(
    tmp_path: Path, tiny_model_dir: Path, ray_head: RayHead
) -> None:
    one = ray_server(tmp_path / "one", tiny_model_dir, ray_head, workers=1)
    try:
        ref = _train(one, seed=11)
        assert ref["status"] == "succeeded", ref["error"]
        ref_rows = _rows(one, ref)
    finally:
        one.stop()
    two = ray_server(tmp_path / "two", tiny_model_dir, ray_head, workers=2)
    try:
        got = _train(two, seed=11)
        assert got["status"] == "succeeded", got["error"]
        assert got["fttui"]["runtime"]["workers"] == 2
        rows = _rows(two, got)
        assert len(rows) == len(ref_rows) == 12
        assert [r["elapsed_examples"] for r in rows] == [r["elapsed_examples"] for r in ref_rows]
        assert [r["elapsed_tokens"] for r in rows] == [r["elapsed_tokens"] for r in ref_rows]
        losses = [float(r["training_loss"]) for r in rows]
        ref_losses = [float(r["training_loss"]) for r in ref_rows]
        assert losses == pytest.approx(ref_losses, rel=1e-3, abs=1e-4)
        started = next(
            e["message"]
            for e in events(two, got["id"])
            if e["message"].startswith("Training started")
        )
        assert "2 data-parallel ranks" in started
    finally:
        two.stop()


def _long_job(srv: ServerProcess) -> dict[str, Any]:
    train_id = upload(srv, "long.jsonl", toy_lines(30))
    return create_job(
        srv,
        model="tiny-test",
        training_file=train_id,
        hyperparameters={"n_epochs": 50, "batch_size": 1},
    )


def _ray_id(srv: ServerProcess, job_id: str) -> str:
    job = httpx.get(f"{srv.base_url}/fine_tuning/jobs/{job_id}").json()
    return str(job["fttui"]["runtime"]["ray_job_id"])


@pytest.mark.long
def test_ray_job_stopped_from_outside_fails_the_job_clearly(
    tmp_path: Path, tiny_model_dir: Path, ray_head: RayHead
) -> None:
    srv = ray_server(tmp_path / "data", tiny_model_dir, ray_head)
    try:
        job = _long_job(srv)
        _wait_metrics(srv, job["id"], 2)
        ray_id = _ray_id(srv, job["id"])
        for pid in _processes_of(ray_id):  # the trainer, killed as an OOM killer would
            os.kill(pid, signal.SIGKILL)
        done = wait_for(srv, job["id"], FINAL, timeout=60)
        assert done["status"] == "failed"
        message = done["error"]["message"]
        assert f"The Ray job {ray_id} ended FAILED" in message, message
        errors = [e for e in events(srv, job["id"]) if e["level"] == "error"]
        assert errors and ray_id in errors[0]["message"]
        # The server keeps serving, and the next job trains.
        assert httpx.get(f"{srv.base_url}/files", timeout=30).status_code == 200
        second = _long_job(srv)
        _wait_metrics(srv, second["id"], 1)
        _ray_client(ray_head).stop_job(_ray_id(srv, second["id"]))  # `ray job stop`
        done = wait_for(srv, second["id"], FINAL, timeout=60)
        assert done["status"] == "failed", done
        assert "outside fttui" in done["error"]["message"] or "STOPPED" in done["error"]["message"]
    finally:
        srv.stop()


@pytest.mark.long
def test_server_killed_while_a_ray_job_trains_reattaches(
    tmp_path: Path, tiny_model_dir: Path, ray_head: RayHead
) -> None:
    srv = ray_server(tmp_path / "data", tiny_model_dir, ray_head)
    try:
        train_id = upload(srv, "train.jsonl", toy_lines(40))
        job = create_job(
            srv,
            model="tiny-test",
            training_file=train_id,
            hyperparameters={"n_epochs": 4, "batch_size": 1},
        )
        _wait_metrics(srv, job["id"], 3)
        srv.stop(kill=True)
        time.sleep(4)
        srv.start()
        done = wait_for(srv, job["id"], FINAL, timeout=300)
        evs = events(srv, job["id"])
        messages = [e["message"] for e in evs]
        assert any("trainer is still running (Ray job" in m for m in messages), messages
        assert done["status"] == "succeeded", done["error"]
        steps = [e["data"]["step"] for e in evs if e["type"] == "metrics"]
        assert steps == list(range(1, 161))  # every report exactly once, in order
        assert sum(m.startswith("Job succeeded") for m in messages) == 1
    finally:
        srv.stop()
