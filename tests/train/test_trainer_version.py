"""A trainer of another fttui version is refused by the server, which fails the job saying
which versions met and what to install (a Ray node installed apart from the server)."""

from __future__ import annotations

from pathlib import Path

import httpx

from fttui import __version__

from .conftest import create_job, events, toy_lines, upload, wait_for
from .test_trainer_protocol import FINAL, _internal, _server, _wait_token


def test_a_trainer_of_another_fttui_version_is_refused_and_the_job_says_why(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    tokens = tmp_path / "tokens"
    srv = _server(tmp_path / "data", tiny_model_dir, "leak", {"FTTUI_TEST_TOKEN_DIR": str(tokens)})
    try:
        train_id = upload(srv, "train.jsonl", toy_lines(30))
        job = create_job(
            srv,
            model="tiny-test",
            training_file=train_id,
            hyperparameters={"n_epochs": 50, "batch_size": 1},
        )
        token = _wait_token(tokens, job["id"])
        auth = {"Authorization": f"Bearer {token}"}
        mine = _internal(srv, job["id"])
        # The server's own version passes.
        same = httpx.get(f"{mine}/spec", headers={**auth, "X-Fttui-Version": __version__})
        assert same.status_code == 200, same.text
        other = httpx.get(f"{mine}/spec", headers={**auth, "X-Fttui-Version": "0.0.9"})
        assert other.status_code == 409
        message = other.json()["error"]["message"]
        assert f"The trainer runs fttui 0.0.9, this server fttui {__version__}" in message
        assert f"install fttui {__version__}" in message and "--ray-python" in message
        done = wait_for(srv, job["id"], FINAL, timeout=60)
        assert done["status"] == "failed"
        assert done["error"]["code"] == "trainer_version_mismatch"
        assert done["error"]["message"] == message
        assert any(e["message"] == message for e in events(srv, job["id"]))
        # The refused trainer's token opens nothing any more.
        assert httpx.get(f"{mine}/control", headers=auth).status_code == 401
    finally:
        srv.stop()
