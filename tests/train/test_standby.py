"""Trainers in standby: a job's trainer is started while its files are validated, the
job is handed to it, and no standby trainer outlives the server that started it."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ServerProcess, running_server

from .conftest import SEPARATOR, create_job, events, toy_lines, upload, wait_for


@pytest.fixture
def srv(tmp_path: Path, tiny_model_dir: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "data", tiny_model_dir=tiny_model_dir) as srv:
        yield srv


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def _standby_pids(srv: ServerProcess) -> set[int]:
    assert srv.proc is not None
    return {p for p, cmd in _children(srv.proc.pid).items() if "--standby" in cmd}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_job_runs_in_the_trainer_started_while_its_files_were_validated(
    srv: ServerProcess,
) -> None:
    train = upload(srv, "train.jsonl", toy_lines(8))
    job = create_job(srv, model="tiny-test", training_file=train, hyperparameters={"n_epochs": 1})
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the job starts: the standby trainers
        seen |= _standby_pids(srv)
        started = [e for e in events(srv, job["id"]) if "job started (process" in e["message"]]
        if started:
            break
        time.sleep(0.02)
    assert seen, "no trainer was started before the job"
    done = wait_for(srv, job["id"], {"succeeded", "failed"})
    assert done["status"] == "succeeded", done.get("error")
    started_msg = next(e for e in events(srv, job["id"]) if "job started (process" in e["message"])
    pid = int(started_msg["message"].rsplit("process ", 1)[1].rstrip(")"))
    assert pid in seen  # the job ran in a standby trainer
    log = (srv.data_dir / "jobs" / job["id"] / "train.log").read_text()
    assert "Training started" in log  # its output went to the job's log


def _overlong(srv: ServerProcess, name: str) -> str:
    """A file the server takes but its validation refuses (an example over the model's
    256 tokens)."""
    lines = toy_lines(6)
    long_prompt = " ".join(f"zqx{i}" for i in range(300)) + SEPARATOR
    lines[2] = json.dumps({"prompt": long_prompt, "completion": " meow END"})
    return upload(srv, name, lines)


def test_no_standby_trainer_outlives_its_server(srv: ServerProcess) -> None:
    # A job refused by validation leaves the trainer started for it unused.
    job = create_job(srv, model="tiny-test", training_file=_overlong(srv, "long.jsonl"))
    failed = wait_for(srv, job["id"], {"failed", "succeeded"})
    assert failed["status"] == "failed"
    waiting = _standby_pids(srv)
    assert waiting  # still there for the next job
    srv.stop()  # SIGTERM: the server ends them
    assert not any(_alive(p) for p in waiting)

    # Killed outright, the server cannot: they end when their input closes.
    srv.start()
    job = create_job(srv, model="tiny-test", training_file=_overlong(srv, "long2.jsonl"))
    wait_for(srv, job["id"], {"failed", "succeeded"})
    waiting = _standby_pids(srv)
    assert waiting
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    deadline = time.monotonic() + 60
    while any(_alive(p) for p in waiting) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in waiting if _alive(p)]
    for p in left:
        os.killpg(p, signal.SIGKILL)
    assert not left, "a standby trainer outlived its killed server"
    srv.proc = None
