"""Jobs move through their states with real processes, and everything survives a hard restart."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from conftest import ServerProcess, wait_job_status

from fttui.store.db import Store

from .conftest import StartServer
from .helpers import PROMPT_COMPLETION, client, upload


def trainer_env(code: str) -> dict[str, str]:
    """A trainer command (the Runner seam) running `code`; the server appends --data-dir/--job-id."""
    return {"FTTUI_TRAINER_COMMAND": shlex.join([sys.executable, "-c", code])}


def new_job(api: httpx.Client) -> dict[str, Any]:
    file_id = upload(api, PROMPT_COMPLETION).json()["id"]
    resp = api.post("/fine_tuning/jobs", json={"model": "ada", "training_file": file_id})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def recorded_pid(srv: ServerProcess, job_id: str, timeout: float = 10) -> int | None:
    """The trainer pid the scheduler recorded (just after it marked the job running)."""
    store = Store(srv.data_dir)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = store.get_job(job_id)
            if job and job["pid"]:
                return int(job["pid"])
            time.sleep(0.05)
        return None
    finally:
        store.close()


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped does not count)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"


def test_crashed_trainer_fails_the_job_with_exit_code_and_log(start_server: StartServer) -> None:
    srv = start_server(
        env=trainer_env("import sys; print('loading weights... out of memory'); sys.exit(3)")
    )
    with client(srv) as api:
        job = wait_job_status(api, new_job(api)["id"], {"failed"})
        assert job["status"] == "failed"
        assert job["error"]["code"] == "training_crashed"
        assert "exit code 3" in job["error"]["message"]
        assert "out of memory" in job["error"]["message"]  # the tail of train.log
        assert isinstance(job["finished_at"], int) and job["fttui"]["started_at"]
        events = api.get(f"/fine_tuning/jobs/{job['id']}/events").json()["data"]
        assert events[0]["level"] == "error" and "exit code 3" in events[0]["message"]
        assert any(e["message"].startswith("Fine-tuning job started") for e in events)
    log = srv.data_dir / "jobs" / job["id"] / "train.log"
    assert "out of memory" in log.read_text()


def test_cancel_stops_a_running_trainer(start_server: StartServer) -> None:
    srv = start_server(env=trainer_env("import time; time.sleep(120)"))
    with client(srv) as api:
        job = wait_job_status(api, new_job(api)["id"], {"running"})
        assert job["status"] == "running"
        pid = recorded_pid(srv, job["id"])
        assert pid and alive(pid)
        resp = api.post(f"/fine_tuning/jobs/{job['id']}/cancel")
        assert resp.json()["status"] == "cancelled"
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), "the trainer process outlived its cancelled job"
        # the crash watcher must not turn the cancelled job into a failed one
        time.sleep(1)
        assert api.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] == "cancelled"


def test_jobs_run_one_at_a_time_fifo(start_server: StartServer) -> None:
    srv = start_server(env=trainer_env("import time; time.sleep(120)"))
    with client(srv) as api:
        first, second = new_job(api), new_job(api)
        assert wait_job_status(api, first["id"], {"running"})["status"] == "running"
        assert wait_job_status(api, second["id"], {"queued"})["status"] == "queued"
        time.sleep(1)
        assert api.get(f"/fine_tuning/jobs/{second['id']}").json()["status"] == "queued"
        api.post(f"/fine_tuning/jobs/{first['id']}/cancel")
        assert wait_job_status(api, second["id"], {"running"})["status"] == "running"
        api.post(f"/fine_tuning/jobs/{second['id']}/cancel")


def test_files_and_jobs_survive_sigkill_restart(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0")
    with client(srv) as api:
        job = new_job(api)
        queued = wait_job_status(api, job["id"], {"queued"})
        cancelled = api.post(f"/fine_tuning/jobs/{new_job(api)['id']}/cancel").json()
        files_before = api.get("/files").json()["data"]
    srv.restart(kill=True)  # SIGKILL, then start again on the same data dir
    with client(srv) as api:
        assert api.get("/files").json()["data"] == files_before
        assert api.get(f"/files/{job['training_file']}/content").content == PROMPT_COMPLETION
        assert api.get(f"/fine_tuning/jobs/{job['id']}").json() == queued
        assert api.get(f"/fine_tuning/jobs/{cancelled['id']}").json()["status"] == "cancelled"


def test_job_running_when_server_died_is_failed_on_restart(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0")
    with client(srv) as api:
        job = new_job(api)
        wait_job_status(api, job["id"], {"queued"})
    srv.stop(kill=True)
    # What a dead server leaves: a job marked running whose trainer process is gone.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    store = Store(srv.data_dir)
    assert store.transition(job["id"], ["queued"], "running", pid=gone.pid, started_at=1)
    store.close()
    (srv.data_dir / "tmp" / "upload-crashed.part").write_bytes(b"half an upload")
    srv.start()
    with client(srv) as api:
        after = api.get(f"/fine_tuning/jobs/{job['id']}").json()
        assert after["status"] == "failed"
        assert after["error"]["code"] == "server_restarted"
        events = api.get(f"/fine_tuning/jobs/{job['id']}/events").json()["data"]
        assert events[0]["level"] == "error" and "restarted" in events[0]["message"]
    assert list((srv.data_dir / "tmp").iterdir()) == []  # partial upload swept at start


def test_second_server_on_same_data_dir_refuses(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0")
    other = subprocess.run(
        [sys.executable, "-m", "fttui", "serve", "--port", "8", "--data-dir", str(srv.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode != 0
    assert "already using" in other.stderr and "Traceback" not in other.stderr
    with client(srv) as api:
        assert api.get("/fttui/health").status_code == 200


def test_clean_shutdown_stops_trainers_and_fails_their_jobs(start_server: StartServer) -> None:
    srv = start_server(env=trainer_env("import time; time.sleep(120)"))
    with client(srv) as api:
        job = wait_job_status(api, new_job(api)["id"], {"running"})
        pid = recorded_pid(srv, job["id"])
        assert pid and alive(pid)
    srv.stop()  # SIGTERM: uvicorn's graceful shutdown runs the scheduler's stop
    assert not alive(pid)
    store = Store(srv.data_dir)
    try:
        row = store.get_job(job["id"])
    finally:
        store.close()
    assert row is not None and row["status"] == "failed"
    assert row["error"]["code"] == "server_stopped"


def test_trainer_that_outlives_a_killed_server_is_adopted(start_server: StartServer) -> None:
    srv = start_server(env=trainer_env("import time; time.sleep(120)"))
    with client(srv) as api:
        job = wait_job_status(api, new_job(api)["id"], {"running"})
        pid = recorded_pid(srv, job["id"])
        assert pid and alive(pid)
    srv.restart(kill=True)  # the trainer runs in its own session and keeps training
    try:
        with client(srv) as api:
            assert api.get(f"/fine_tuning/jobs/{job['id']}").json()["status"] == "running"
            messages = [
                e["message"]
                for e in api.get(f"/fine_tuning/jobs/{job['id']}/events").json()["data"]
            ]
            assert "trainer is still running" in messages[0]
            api.post(
                f"/fine_tuning/jobs/{job['id']}/cancel"
            )  # the adopted trainer still obeys cancel
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not alive(pid)
    finally:
        if alive(pid):
            os.kill(pid, 9)
