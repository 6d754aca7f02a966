"""Fault injection against the real server and trainer: SIGKILL mid-upload and mid-training,
a killed trainer, a full disk, and a backend that goes away and comes back."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ServerProcess  # tests/conftest.py

from fttui.api import Client
from fttui.api.errors import APIConnectionError
from fttui.store.db import Store

from .helpers import StartServer, all_events, api, create_job, toy_jsonl, upload, wait_status

FINAL = {"succeeded", "failed", "cancelled"}
BOUNDARY = "fttuireliabilityboundary"


def slow_multipart(line: bytes, lines: int, sent: threading.Event) -> Iterator[bytes]:
    """A valid multipart upload that trickles its file part, so the server dies mid-way."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    ).encode()
    for i in range(lines):
        yield line * 100
        if i == 20:
            sent.set()
        time.sleep(0.02)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def test_sigkill_during_upload_leaves_no_partial_file(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0")
    with api(srv) as c:
        kept = upload(c, toy_jsonl(6)).json()
    line = toy_jsonl(1)
    sent = threading.Event()
    outcome: list[object] = []

    def send() -> None:
        try:
            outcome.append(
                httpx.post(
                    f"{srv.base_url}/files",
                    content=slow_multipart(line, 2000, sent),
                    headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                    timeout=30,
                )
            )
        except httpx.TransportError as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    assert sent.wait(20)
    assert list((srv.data_dir / "tmp").iterdir()), "the upload should be half-written now"
    srv.stop(kill=True)
    sender.join(30)
    assert outcome and isinstance(outcome[0], httpx.TransportError)  # never a fake success
    srv.start()
    with api(srv) as c:
        assert [f["id"] for f in c.get("/files").json()["data"]] == [kept["id"]]
        usage = c.get("/fttui/usage").json()
        assert usage["used_bytes"] == kept["bytes"] and usage["files"] == 1, usage
    assert list((srv.data_dir / "tmp").iterdir()) == []
    assert sorted(p.name for p in (srv.data_dir / "files").iterdir()) == [kept["id"]]


def training_server(start_server: StartServer, tiny: Path, *args: str) -> tuple[ServerProcess, str]:
    srv = start_server(*args, tiny_model=tiny)
    with api(srv) as c:
        file_id = upload(c, toy_jsonl(48)).json()["id"]
    return srv, file_id


def wait_for_steps(c: httpx.Client, job_id: str, timeout: float = 90) -> list[dict[str, object]]:
    """Wait until the trainer has logged at least one training step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = all_events(c, job_id)
        if any(e.get("type") == "metrics" for e in events):
            return events
        time.sleep(0.1)
    raise AssertionError(f"no training step logged: {all_events(c, job_id)}")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_server_sigkilled_during_training_never_leaves_it_running(
    start_server: StartServer, tiny_model_dir: Path
) -> None:
    """Both outcomes of a server crash, on one job: a trainer that outlived the server is
    adopted (still running, and an event says so); a trainer that died with it gets its
    job failed at once on restart, never `running` forever. No event is lost."""
    srv, file_id = training_server(start_server, tiny_model_dir)
    with api(srv) as c:
        job_id = create_job(c, file_id, hyperparameters={"n_epochs": 30, "batch_size": 4})
        before = wait_for_steps(c, job_id)
    store = Store(srv.data_dir)
    pid = store.get_job(job_id)["pid"]  # type: ignore[index]
    store.close()
    assert isinstance(pid, int) and _alive(pid)

    # 1. the trainer runs in its own session, so it outlives a SIGKILLed server ...
    srv.stop(kill=True)
    assert _alive(pid), "the trainer died with the server"
    srv.start()
    with api(srv) as c:
        job = c.get(f"/fine_tuning/jobs/{job_id}").json()
        # ... and the new server adopts it: still running, and it says so
        assert job["status"] == "running", job
        messages = [e["message"] for e in all_events(c, job_id)]
        adopted = f"Server restarted; the job's trainer is still running (process {pid})"
        assert adopted in messages, messages

    # 2. a server that dies together with its trainer: the job is failed on restart
    srv.stop(kill=True)
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    srv.start()
    with api(srv) as c:
        job = c.get(f"/fine_tuning/jobs/{job_id}").json()  # no waiting: at once
        assert job["status"] == "failed", job
        assert job["error"]["code"] == "server_restarted", job
        after = all_events(c, job_id)
    assert {e["id"] for e in before} <= {e["id"] for e in after}, "events were lost"
    assert any(e["level"] == "error" and "restarted" in e["message"] for e in after)


def test_killed_trainer_fails_its_job_and_the_next_one_runs(
    start_server: StartServer, tiny_model_dir: Path
) -> None:
    srv, file_id = training_server(start_server, tiny_model_dir)
    with api(srv) as c:
        doomed = create_job(c, file_id, hyperparameters={"n_epochs": 30, "batch_size": 4})
        nxt = create_job(c, file_id, hyperparameters={"n_epochs": 1, "batch_size": 8})
        wait_for_steps(c, doomed)
        store = Store(srv.data_dir)
        pid = store.get_job(doomed)["pid"]  # type: ignore[index]
        store.close()
        os.kill(int(pid), signal.SIGKILL)
        job = wait_status(c, doomed, FINAL, timeout=30)
        assert job["status"] == "failed"
        assert job["error"] and "signal 9" in job["error"]["message"], job  # says how it died
        errors = [e for e in all_events(c, doomed) if e["level"] == "error"]
        assert errors and (
            "killed" in errors[0]["message"].lower()
            or "signal" in errors[0]["message"].lower()
            or "exit" in errors[0]["message"].lower()
        ), errors
        assert c.get("/files").status_code == 200  # the server keeps serving
        assert wait_status(c, nxt, FINAL, timeout=120)["status"] == "succeeded"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs as the data dir (needs root; the test is skipped otherwise)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_fails_the_upload_cleanly(start_server: StartServer, small_disk: Path) -> None:
    srv = start_server("--concurrency", "0", data_dir=small_disk)
    big = toy_jsonl(1) * 80_000  # about 5 MB, more than the disk holds
    with api(srv) as c:
        resp = upload(c, big)
        assert resp.status_code == 507, resp.text[:300]
        error = resp.json()["error"]
        assert error["code"] == "disk_full" and "disk is full" in error["message"]
        assert c.get("/files").json()["data"] == []
        assert list((srv.data_dir / "tmp").iterdir()) == []
        assert list((srv.data_dir / "files").iterdir()) == []
        assert upload(c, toy_jsonl(6)).status_code == 200  # the space came back
    srv.stop()


async def test_api_client_recovers_when_the_backend_comes_back(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0")
    async with Client(srv.base_url, max_retries=1, retry_initial_delay=0.05) as client:
        assert (await client.jobs.list()).data == []
        srv.stop(kill=True)
        with pytest.raises(APIConnectionError) as caught:
            await client.jobs.list()
        assert str(srv.port) in str(caught.value) or "connect" in str(caught.value).lower()
        srv.start()
        assert (await client.jobs.list()).data == []  # same client, no restart


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, noting each response's status, Retry-After and time."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[tuple[float, int, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sent = time.monotonic()
        response = await self.inner.handle_async_request(request)
        self.seen.append((sent, response.status_code, response.headers.get("retry-after")))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_api_client_honours_the_servers_429(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0", env={"FTTUI_RATE_LIMIT": "1", "FTTUI_RATE_BURST": "1"})
    transport = RecordingTransport()
    async with Client(srv.base_url, max_retries=3, transport=transport) as client:
        for _ in range(3):
            await client.jobs.list()  # the 2nd and 3rd are refused once, then retried
    statuses = [status for _, status, _ in transport.seen]
    assert statuses.count(429) >= 2, statuses  # the server really refused
    assert statuses.count(200) == 3, statuses  # and every call succeeded in the end
    for (sent, status, retry_after), (resent, _, _) in itertools.pairwise(transport.seen):
        if status == 429:
            assert retry_after is not None and float(retry_after) > 0
            # the retry waited as long as Retry-After said
            assert resent - sent >= float(retry_after) - 0.05, transport.seen
