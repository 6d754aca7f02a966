"""A real `fttui serve` with the tiny model registered, shared by this folder's tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import (  # tests/conftest.py
    ServerProcess,
    running_server,
    wait_job_status,
)

ANIMALS = {"cat": " meow", "dog": " woof", "bird": " tweet"}
SEPARATOR = "\n\n###\n\n"
STOP = " END"


def toy_lines(n: int, offset: int = 0) -> list[str]:
    """A learnable prompt/completion set: the animal decides the sound."""
    names = list(ANIMALS)
    lines = []
    for i in range(offset, offset + n):
        name = names[i % len(names)]
        prompt = f"{name} number {i} says{SEPARATOR}"
        lines.append(json.dumps({"prompt": prompt, "completion": ANIMALS[name] + STOP}))
    return lines


@pytest.fixture(scope="module")
def tiny_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("train-data")
    with running_server(data_dir, tiny_model_dir=tiny_model_dir) as srv:
        yield srv


def upload(srv: ServerProcess, name: str, lines: list[str]) -> str:
    content = ("\n".join(lines) + "\n").encode()
    resp = httpx.post(
        f"{srv.base_url}/files",
        files={"file": (name, content, "application/jsonl")},
        data={"purpose": "fine-tune"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def create_job(srv: ServerProcess, **body: Any) -> dict[str, Any]:
    resp = httpx.post(f"{srv.base_url}/fine_tuning/jobs", json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def get_job(srv: ServerProcess, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{srv.base_url}/fine_tuning/jobs/{job_id}", timeout=30).json())


def wait_for(
    srv: ServerProcess, job_id: str, statuses: set[str], timeout: float = 90
) -> dict[str, Any]:
    with httpx.Client(base_url=srv.base_url, timeout=30) as api:
        return wait_job_status(api, job_id, statuses, timeout, data_dir=srv.data_dir)


def events(srv: ServerProcess, job_id: str) -> list[dict[str, Any]]:
    resp = httpx.get(
        f"{srv.base_url}/fine_tuning/jobs/{job_id}/events", params={"limit": 1000}, timeout=30
    )
    return list(reversed(resp.json()["data"]))


class Losses:
    """Training callbacks for the engine's `train` that keep each step's training loss."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def should_stop(self) -> bool:
        return False

    def on_step(self, row: dict[str, Any], total_steps: int) -> None:
        self.losses.append(row["training_loss"])

    def on_epoch_end(self, *args: Any, **kwargs: Any) -> None:
        pass
