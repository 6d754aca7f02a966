"""The legacy guide's own commands: openai 0.28's `openai api fine_tunes.*` CLI against `fttui serve`.

openai 0.28.1 is installed once into a throwaway venv cached under
~/.cache/fttui-tests/openai028 (it needs PyPI the first time only).
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest
from conftest import ServerProcess

from fttui.store.db import Store

from .helpers import PROMPT_COMPLETION

pytestmark = pytest.mark.slow
VENV = Path(
    os.environ.get("FTTUI_OPENAI028_VENV", Path.home() / ".cache" / "fttui-tests" / "openai028")
)


@pytest.fixture(scope="session")
def openai028() -> Path:
    exe = VENV / "bin" / "openai"
    if not exe.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        pip = subprocess.run(
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "openai==0.28.1"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if pip.returncode != 0:
            pytest.skip(f"cannot install openai==0.28.1 (no package index?): {pip.stderr[-500:]}")
    return exe


def run_cli(
    exe: Path, srv: ServerProcess, cwd: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_BASE": srv.base_url, "OPENAI_API_KEY": "sk-local-anything"}
    return subprocess.run(
        [str(exe), "api", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_seed_commands_run_against_the_local_server(
    openai028: Path, start_server, tmp_path: Path
) -> None:
    srv: ServerProcess = start_server("--concurrency", "0")
    (tmp_path / "data.jsonl").write_bytes(PROMPT_COMPLETION)

    created = run_cli(
        openai028,
        srv,
        tmp_path,
        "fine_tunes.create",
        "-t",
        "data.jsonl",
        "-m",
        "ada",
        "--suffix",
        "custom model name",
        "--no_follow",
    )
    assert created.returncode == 0, created.stderr
    job = json.loads(created.stdout[created.stdout.index("{") :])
    assert job["object"] == "fine-tune" and job["model"] == "ada" and job["status"] == "pending"
    assert job["training_files"][0]["filename"] == "data.jsonl"
    assert job["training_files"][0]["bytes"] == len(PROMPT_COMPLETION)
    assert job["hyperparams"]["n_epochs"] == 4 and job["hyperparams"]["batch_size"] == 1
    # Not given: the weight this trainer really uses (completion tokens only), not 0.01.
    assert job["hyperparams"]["prompt_loss_weight"] == 0
    assert "Uploaded file from data.jsonl" in created.stdout
    job_id = job["id"]

    listed = run_cli(openai028, srv, tmp_path, "fine_tunes.list")
    assert listed.returncode == 0, listed.stderr
    assert [j["id"] for j in json.loads(listed.stdout)["data"]] == [job_id]

    got = run_cli(openai028, srv, tmp_path, "fine_tunes.get", "-i", job_id)
    assert got.returncode == 0 and json.loads(got.stdout)["id"] == job_id

    events = run_cli(openai028, srv, tmp_path, "fine_tunes.events", "-i", job_id)
    messages = [e["message"] for e in json.loads(events.stdout)["data"]]
    assert messages[0] == f"Created fine-tuning job: {job_id}"

    cancelled = run_cli(openai028, srv, tmp_path, "fine_tunes.cancel", "-i", job_id)
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["status"] == "cancelled"

    # follow streams server-sent events and ends once the job is final
    follow = run_cli(openai028, srv, tmp_path, "fine_tunes.follow", "-i", job_id, timeout=30)
    assert follow.returncode == 0, follow.stderr
    assert f"Created fine-tuning job: {job_id}" in follow.stdout
    assert follow.stdout.rstrip().endswith("Fine-tuning job cancelled")
    assert "Stream interrupted" not in follow.stdout

    # a second upload of the same file finds the first (0.28 lists files to look for it)
    again = run_cli(
        openai028,
        srv,
        tmp_path,
        "fine_tunes.create",
        "-t",
        "data.jsonl",
        "-m",
        "curie",
        "--no_follow",
    )
    assert again.returncode == 0 and "Found potentially duplicated files" in again.stdout

    name = "SmolLM2-135M-Instruct:ft-local:custom-model-name-2026-01-02-03-04-05"
    weights = srv.data_dir / "models" / "ft-legacy"
    weights.mkdir(parents=True)
    store = Store(srv.data_dir)  # what the trainer records when a job succeeds
    store.add_model(
        name, base_model="SmolLM2-135M-Instruct", path="models/ft-legacy", job_id=job_id
    )
    store.close()
    deleted = run_cli(openai028, srv, tmp_path, "models.delete", "-i", name)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout) == {"id": name, "object": "model", "deleted": True}
    assert not weights.exists()

    missing = run_cli(openai028, srv, tmp_path, "fine_tunes.get", "-i", "ft-nope")
    assert missing.returncode != 0 and "No such fine-tuning job" in missing.stderr + missing.stdout


def test_fine_tunes_delete_forgets_a_finished_job(
    openai028: Path, start_server, tmp_path: Path
) -> None:
    """`openai api fine_tunes.delete -i ID` (DELETE /v1/fine-tunes/ID), as the 0.28 CLI sends it."""
    srv: ServerProcess = start_server("--concurrency", "0")
    (tmp_path / "data.jsonl").write_bytes(PROMPT_COMPLETION)
    created = run_cli(
        openai028, srv, tmp_path, "fine_tunes.create", "-t", "data.jsonl", "-m", "ada",
        "--no_follow",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    job = json.loads(created.stdout[created.stdout.index("{") :])
    job_id = job["id"]
    training_file = job["training_files"][0]["id"]
    (srv.data_dir / "jobs" / job_id).mkdir(parents=True, exist_ok=True)
    (srv.data_dir / "jobs" / job_id / "train.log").write_text("a log line\n")

    # a job that is not finished is refused, with the way out in the message
    busy = run_cli(openai028, srv, tmp_path, "fine_tunes.delete", "-i", job_id)
    assert busy.returncode != 0
    assert "cancel it first" in busy.stderr and "Traceback" not in busy.stderr, busy.stderr

    assert run_cli(openai028, srv, tmp_path, "fine_tunes.cancel", "-i", job_id).returncode == 0
    deleted = run_cli(openai028, srv, tmp_path, "fine_tunes.delete", "-i", job_id)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout) == {"id": job_id, "object": "fine-tune", "deleted": True}

    # gone from both APIs, with its events and working directory; its file stays
    listed = run_cli(openai028, srv, tmp_path, "fine_tunes.list")
    assert json.loads(listed.stdout)["data"] == []
    got = run_cli(openai028, srv, tmp_path, "fine_tunes.get", "-i", job_id)
    assert got.returncode != 0 and "No such fine-tuning job" in got.stderr + got.stdout
    assert not (srv.data_dir / "jobs" / job_id).exists()
    store = Store(srv.data_dir)
    try:
        assert store.events_since(job_id) == []
        assert store.get_file(training_file) is not None
    finally:
        store.close()
    again = run_cli(openai028, srv, tmp_path, "fine_tunes.delete", "-i", job_id)
    assert again.returncode != 0 and "No such fine-tuning job" in again.stderr + again.stdout
