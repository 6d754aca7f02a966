"""Helpers for the reliability tests: servers with chosen options, uploads, jobs, waits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from conftest import ServerProcess, free_port  # tests/conftest.py
from conftest import wait_job_status as wait_status  # noqa: F401  (re-exported for the tests)

StartServer = Callable[..., ServerProcess]

SEPARATOR = "\n\n###\n\n"


def toy_jsonl(n: int = 24) -> bytes:
    """A small, valid prompt/completion training file."""
    sounds = {"cat": " meow END", "dog": " woof END", "bird": " tweet END"}
    names = list(sounds)
    rows = [
        json.dumps(
            {"prompt": f"{names[i % 3]} {i} says{SEPARATOR}", "completion": sounds[names[i % 3]]}
        )
        for i in range(n)
    ]
    return ("\n".join(rows) + "\n").encode()


def make_server(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, start: bool = True
) -> ServerProcess:
    srv = ServerProcess(data_dir=data_dir, port=free_port(), extra_args=tuple(args), env=env)
    if start:
        srv.start()
    return srv


def api(srv: ServerProcess, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=srv.base_url, timeout=30, headers=headers)


def upload(c: httpx.Client, content: bytes, name: str = "train.jsonl") -> httpx.Response:
    return c.post("/files", data={"purpose": "fine-tune"}, files={"file": (name, content)})


def create_job(c: httpx.Client, file_id: str, model: str = "tiny-test", **extra: Any) -> str:
    body = {"model": model, "training_file": file_id, **extra}
    resp = c.post("/fine_tuning/jobs", json=body)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def all_events(c: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = c.get(
        f"/fine_tuning/jobs/{job_id}/events", params={"limit": 1000}
    ).json()["data"]
    return data
