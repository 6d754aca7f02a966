"""Scheduling with the real trainer and the tiny model: FIFO order, the concurrency limit,
cancel of a queued job, and one server per data dir."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .helpers import StartServer, all_events, api, create_job, toy_jsonl, upload

FINAL = {"succeeded", "failed", "cancelled"}
TINY_JOB = {"hyperparameters": {"n_epochs": 1, "batch_size": 4}}


def watch(c: httpx.Client, ids: list[str], timeout: float = 240) -> int:
    """Poll until every job is final; return the most jobs seen running at once."""
    most = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = [c.get(f"/fine_tuning/jobs/{i}").json()["status"] for i in ids]
        most = max(most, statuses.count("running"))
        if all(s in FINAL for s in statuses):
            return most
        time.sleep(0.05)
    raise AssertionError(f"jobs not finished in {timeout} s: {statuses}")


def test_queued_jobs_run_in_order_one_at_a_time_and_cancelled_never_starts(
    start_server: StartServer, tiny_model_dir: Path
) -> None:
    srv = start_server(tiny_model=tiny_model_dir)  # default concurrency: 1 on CPU
    with api(srv) as c:
        file_id = upload(c, toy_jsonl(12)).json()["id"]
        ids = [create_job(c, file_id, **TINY_JOB) for _ in range(3)]
        assert c.post(f"/fine_tuning/jobs/{ids[1]}/cancel").json()["status"] == "cancelled"
        assert watch(c, ids) == 1
        jobs = [c.get(f"/fine_tuning/jobs/{i}").json() for i in ids]
        assert [j["status"] for j in jobs] == ["succeeded", "cancelled", "succeeded"]
        # FIFO: the third started only after the first finished
        assert jobs[2]["created_at"] >= jobs[0]["created_at"]
        assert jobs[2]["fttui"]["started_at"] >= jobs[0]["finished_at"]
        # the cancelled job never ran: no trainer output, no result file, no model
        assert jobs[1]["fine_tuned_model"] is None and jobs[1]["result_files"] == []
        assert jobs[1]["trained_tokens"] in (None, 0) and jobs[1]["fttui"]["started_at"] is None
        messages = [e["message"] for e in all_events(c, ids[1])]
        assert not any("step" in m.lower() or "started" in m.lower() for m in messages), messages


@pytest.mark.slow
def test_concurrency_setting_runs_two_at_once_never_more(
    start_server: StartServer, tiny_model_dir: Path
) -> None:
    srv = start_server("--concurrency", "2", tiny_model=tiny_model_dir)
    with api(srv) as c:
        file_id = upload(c, toy_jsonl(12)).json()["id"]
        ids = [create_job(c, file_id, **TINY_JOB) for _ in range(3)]
        assert watch(c, ids) == 2
        jobs = [c.get(f"/fine_tuning/jobs/{i}").json() for i in ids]
        failures = {
            j["id"]: (j["error"], all_events(c, j["id"])[:3])
            for j in jobs
            if j["status"] != "succeeded"
        }
        assert failures == {}


def test_second_server_on_the_same_data_dir_is_refused(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0")
    other = subprocess.run(
        [sys.executable, "-m", "fttui", "serve", "--port", "9", "--data-dir", str(srv.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode != 0
    assert "another fttui server" in other.stderr and str(srv.data_dir) in other.stderr
    assert "Traceback" not in other.stderr
    with api(srv) as c:
        assert c.get("/files").status_code == 200  # the first one is untouched
    # a SIGKILLed server leaves no stale lock behind: the next one starts
    srv.restart(kill=True)
    with api(srv) as c:
        assert c.get("/files").status_code == 200
