"""Train/validation overlap is said before a job exists: when the second file is
checked for upload, and in the job form once both files are chosen (the count and
the lines on both sides), not only when the server fails the job."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from conftest import ServerProcess
from textual.widgets import Button, Input, Label, Select

from fttui.screens.job_form import JobFormScreen
from fttui.screens.upload import UploadScreen
from widgets import HyperparamForm

from .conftest import make_app, wait_for
from .seed import FILE_TRAIN, TRAIN_LINES
from .test_app_flow import shown


def _valid_sharing_two(path: Path) -> Path:
    """A validation file whose lines 2 and 3 are training lines 1 and 3."""
    rows = [
        {"prompt": "Review: Fine, nothing special.\n\n###\n\n", "completion": " neutral\n"},
        TRAIN_LINES[0],
        TRAIN_LINES[2],
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


async def test_the_upload_check_names_examples_already_in_an_uploaded_file(
    seeded_server: ServerProcess, tmp_path: Path
) -> None:
    path = _valid_sharing_two(tmp_path / "my-valid.jsonl")
    app = make_app(seeded_server)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, UploadScreen), what="upload dialog")
        upload = app.screen
        upload.query_one("#upload-path", Input).value = str(path)
        await pilot.press("enter")
        go = upload.query_one("#upload-go", Button)
        await wait_for(pilot, lambda: not go.disabled, timeout=60, what="check report")
        report = upload.query_one("#upload-report")
        await wait_for(
            pilot, lambda: "also in" in shown(report), timeout=30, what="the overlap line"
        )
        text = shown(report)
        assert f"2 examples also in reviews-train.jsonl ({FILE_TRAIN})" in text, text
        assert "lines 2, 3 of my-valid.jsonl" in text, text


async def test_the_form_names_the_shared_examples_and_sends_nothing(
    seeded_server: ServerProcess, tmp_path: Path
) -> None:
    path = _valid_sharing_two(tmp_path / "my-valid.jsonl")
    resp = httpx.post(
        f"{seeded_server.base_url}/files",
        files={"file": (path.name, path.read_bytes(), "application/jsonl")},
        data={"purpose": "fine-tune"},
        timeout=30,
    )
    valid_id = resp.json()["id"]
    jobs = lambda: len(httpx.get(f"{seeded_server.base_url}/fine_tuning/jobs").json()["data"])  # noqa: E731
    before = jobs()
    app = make_app(seeded_server)
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        form = app.screen.query_one(HyperparamForm)
        select = form.query_one("#training_file", Select)
        await wait_for(pilot, lambda: len(select._options) > 3, what="file choices")
        form.query_one("#model", Select).value = "davinci"
        form.query_one("#training_file", Select).value = FILE_TRAIN
        form.query_one("#validation_file", Select).value = valid_id
        error = form.query_one("#validation_file-error", Label)
        await wait_for(pilot, lambda: "also in" in str(error.render()), what="overlap error")
        said = str(error.render())
        assert "2 examples of the validation file are also in the training file" in said
        assert "lines 2, 3 of my-valid.jsonl (lines 1, 3 of reviews-train.jsonl)" in said
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert isinstance(app.screen, JobFormScreen), "the form stays open"
    assert jobs() == before
