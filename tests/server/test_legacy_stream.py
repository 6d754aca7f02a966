"""Legacy event streaming (`GET /v1/fine-tunes/{id}/events?stream=true`) over plain HTTP."""

from __future__ import annotations

import json
import threading
import time

import httpx
from conftest import ServerProcess

from .helpers import PROMPT_COMPLETION, client, upload


def test_stream_delivers_live_events_once_and_ends_when_final(queued_server: ServerProcess) -> None:
    with client(queued_server) as api:
        file_id = upload(api, PROMPT_COMPLETION).json()["id"]
        job = api.post("/fine-tunes", json={"training_file": file_id, "n_epochs": 1}).json()
        assert job["object"] == "fine-tune" and job["model"] == "curie"  # the legacy default
        assert job["hyperparams"]["n_epochs"] == 1
        lines: list[str] = []

        def follow() -> None:
            with httpx.stream(
                "GET",
                f"{queued_server.base_url}/fine-tunes/{job['id']}/events",
                params={"stream": "true"},
                timeout=30,
            ) as resp:
                assert resp.headers["content-type"].startswith("text/event-stream")
                lines.extend(line for line in resp.iter_lines() if line)

        reader = threading.Thread(target=follow)
        reader.start()
        time.sleep(1.0)  # the stream is open and waiting for the job to end
        assert reader.is_alive()
        api.post(f"/fine-tunes/{job['id']}/cancel")
        reader.join(timeout=15)
        assert not reader.is_alive(), "the stream did not end after the job was cancelled"

    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    messages = [e["message"] for e in events]
    assert messages[0] == f"Created fine-tuning job: {job['id']}"
    assert messages[-1] == "Fine-tuning job cancelled"
    assert len(messages) == len(set(messages))  # each event once
    assert all(e["object"] == "fine-tune-event" for e in events)
