"""A server without its training engine (`pip install fttui` without the `local` extra).

A real `fttui serve` process in which torch, transformers and the rest of the extra
cannot be imported: a `sitecustomize` on its PYTHONPATH (inherited by any trainer it
starts) makes the import system report them as absent, as on a machine where they were
never installed. Job creation must answer 400 and inference 503, both naming the fix,
the TUI must show that message where the user acted, and no traceback may reach anyone.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import openai
import pytest
from conftest import ServerProcess, free_port

from .helpers import PROMPT_COMPLETION, upload

FIX = "pip install 'fttui[local]'"


@pytest.fixture(scope="module")
def bare(no_engine_server: ServerProcess) -> ServerProcess:
    return no_engine_server


def test_the_blocker_really_hides_the_engine(bare: ServerProcess, tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {"PYTHONPATH": str(Path(bare.env["PYTHONPATH"]))}  # type: ignore[index]
    run = subprocess.run(
        [sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True
    )
    assert run.returncode != 0 and "No module named 'torch'" in run.stderr


def test_job_create_is_a_400_and_inference_a_503_naming_the_fix(bare: ServerProcess) -> None:
    with httpx.Client(base_url=bare.base_url, timeout=60) as api:
        assert api.get("/models").status_code == 200  # the rest of the server works
        file_id = upload(api, PROMPT_COMPLETION).json()["id"]  # uploads too
        for path, body in (
            ("/fine_tuning/jobs", {"model": "ada", "training_file": file_id}),
            ("/fine-tunes", {"training_file": file_id}),  # the legacy API
        ):
            resp = api.post(path, json=body)
            assert resp.status_code == 400, resp.text
            error = resp.json()["error"]
            assert error["code"] == "engine_not_installed" and FIX in error["message"]
            assert "torch" in error["message"] and "Traceback" not in error["message"]
        assert api.get("/fine_tuning/jobs").json()["data"] == []  # nothing was stored
        for path, body in (
            ("/completions", {"model": "ada", "prompt": "x"}),
            ("/chat/completions", {"model": "ada", "messages": [{"role": "user", "content": "x"}]}),
        ):
            resp = api.post(path, json=body)
            assert resp.status_code == 503, resp.text
            assert resp.headers["x-should-retry"] == "false"  # waiting installs nothing
            error = resp.json()["error"]
            assert error["code"] == "engine_not_installed" and FIX in error["message"]
    assert "Traceback" not in bare.log()

    # the official SDK surfaces the message as is (and does not retry the 503)
    with openai.OpenAI(base_url=bare.base_url, api_key="x", max_retries=3) as sdk:
        with pytest.raises(openai.BadRequestError, match=re.escape(FIX)):
            sdk.fine_tuning.jobs.create(model="ada", training_file=file_id)
        with pytest.raises(openai.InternalServerError, match=re.escape(FIX)):
            sdk.completions.create(model="ada", prompt="x")


def test_a_trainer_without_the_engine_fails_its_job_with_the_fix_not_a_traceback(
    no_engine_server: ServerProcess, tmp_path: Path
) -> None:
    """The server has the engine, the trainer's environment does not (a job accepted,
    then the engine uninstalled, or a trainer command run by another Python)."""
    import shlex
    import sys

    from conftest import wait_job_status

    site = no_engine_server.env["PYTHONPATH"]  # type: ignore[index]
    trainer = f"env PYTHONPATH={shlex.quote(site)} {shlex.quote(sys.executable)} -m fttui.train.run"
    srv = ServerProcess(data_dir=tmp_path, port=free_port(), env={"FTTUI_TRAINER_COMMAND": trainer})
    srv.start()
    try:
        with httpx.Client(base_url=srv.base_url, timeout=60) as api:
            file_id = upload(api, PROMPT_COMPLETION).json()["id"]
            resp = api.post("/fine_tuning/jobs", json={"model": "ada", "training_file": file_id})
            assert resp.status_code == 200, resp.text
            job = wait_job_status(api, resp.json()["id"], {"failed", "succeeded"}, timeout=60)
        assert job["status"] == "failed"
        assert job["error"]["code"] == "engine_not_installed", job["error"]
        assert FIX in job["error"]["message"] and "Traceback" not in job["error"]["message"]
    finally:
        srv.stop()
