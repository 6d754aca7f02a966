"""OpenAI refuses a create (its wind-down 403 `training_not_available`): the form keeps
what was typed, shows OpenAI's message as sent, and ctrl+l runs the same job on the
local profile's server, with the user's own copy of the training file found by name and
size (OpenAI's fine-tune files cannot be downloaded)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import OpenAIFixture, ServerProcess, free_port, register_tiny_model

from .conftest import wait_for
from .test_app_flow import record_notifications
from .test_openai_backend import _form, fixture_app


@pytest.fixture
def local_server(tmp_path: Path, tiny_model_dir: Path) -> Iterator[ServerProcess]:
    """The user's local profile: a real server whose models.json maps gpt-4o-mini."""
    data = tmp_path / "local-data"
    data.mkdir()
    register_tiny_model(data, tiny_model_dir)
    config = json.loads((data / "models.json").read_text())
    config["aliases"] = {"gpt-4o-mini": "tiny-test"}
    (data / "models.json").write_text(json.dumps(config))
    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _copy_of(name: str, size: int) -> bytes:
    """Training lines the local server accepts, padded to exactly `size` bytes."""
    line = json.dumps({"prompt": "puppy says\n\n###\n\n", "completion": " woof END"})
    body = (line + "\n") * 2
    assert len(body) <= size
    pad = size - len(body)
    return (line[:-1] + " " * pad + "}\n" + line + "\n").encode()


async def test_a_refused_create_runs_on_the_local_server(
    openai_fixture: OpenAIFixture,
    local_server: ServerProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.widgets import Select, Static

    acct = openai_fixture.account
    acct.refuse_training = True
    puppy = acct.file("file-abc456")
    work = tmp_path / "work"
    work.mkdir()
    (work / puppy["filename"]).write_bytes(_copy_of(puppy["filename"], puppy["bytes"]))
    monkeypatch.chdir(work)
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(f'[profiles.local]\nbase_url = "{local_server.base_url}"\n')
    monkeypatch.setenv("FTTUI_CONFIG_DIR", str(config))
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(80, 24)) as pilot:
        notes = record_notifications(app)
        form = await _form(pilot, app)
        form.query_one("#model", Select).value = "gpt-4o-mini"
        form.query_one("#training_file", Select).value = "file-abc456"
        await pilot.press("ctrl+s")
        box = form.query_one("#server-error", Static)
        await wait_for(pilot, lambda: "ctrl+l" in str(box.render()), what="the offer")
        shown = str(box.render())
        # the backend's words, as sent (the fixture's 403 `training_not_available`)
        assert shown.startswith("Fine-tuning is not available for model gpt-4o-mini in this")
        assert app.screen is not app.main  # the form stays open
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: app.screen is app.main, what="the form closes", timeout=60)
        assert any("on the local server" in m for _, m in notes), notes
    jobs = httpx.get(f"{local_server.base_url}/fine_tuning/jobs", timeout=30).json()["data"]
    assert len(jobs) == 1 and jobs[0]["model"] == "gpt-4o-mini"
    uploaded = httpx.get(f"{local_server.base_url}/files", timeout=30).json()["data"]
    assert [f["filename"] for f in uploaded] == [puppy["filename"]]
    assert uploaded[0]["bytes"] == puppy["bytes"]
