"""The whole loop through the UI, against a real server training the tiny model for real:
upload (check report first), create a job in the form, watch events and curves arrive,
try the fine-tuned model with the dataset's separator and stop, cancel another job."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ServerProcess, running_server
from rich.console import Console
from textual.widgets import Button, Input, Select, Static, TextArea

from fttui.screens.help import key_sections
from fttui.screens.job_form import JobFormScreen
from fttui.screens.main import MainScreen
from fttui.screens.try_model import TryModelScreen
from fttui.screens.upload import UploadScreen
from widgets import (
    ConfirmDialog,
    EventLog,
    FileTable,
    HyperparamForm,
    JobTable,
    KeyBar,
    KeyValueTable,
    MetricsPanel,
    QuotaBar,
    TransferProgress,
    human_bytes,
)

from .conftest import make_app, wait_for

pytestmark = pytest.mark.slow

LABELS = [("red", "colour"), ("dog", "animal"), ("blue", "colour"), ("cat", "animal")]


@pytest.fixture
def tiny_server(tmp_path: Path, tiny_model_dir: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "data", tiny_model_dir=tiny_model_dir) as srv:
        yield srv


def _training_file(tmp_path: Path) -> Path:
    path = tmp_path / "words.jsonl"
    rows = [
        {"prompt": f"{word}\n\n###\n\n", "completion": f" {label}\n"} for word, label in LABELS * 6
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rendered(static: Static) -> str:
    """What a Static shows, as plain text at its width."""
    out = Console(width=static.size.width, file=io.StringIO(), color_system=None)
    out.print(static.content)
    return out.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def _job(server: ServerProcess, job_id: str) -> dict[str, object]:
    return httpx.get(f"{server.base_url}/fine_tuning/jobs/{job_id}").json()  # type: ignore[no-any-return]


async def test_upload_train_watch_try_and_cancel(
    tiny_server: ServerProcess, tmp_path: Path
) -> None:
    app = make_app(tiny_server, frozen=False)
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.main
        # -- upload: the check report comes first, then the streamed upload.
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, UploadScreen), what="upload dialog")
        upload = app.screen
        path = _training_file(tmp_path)
        upload.query_one("#upload-path", Input).value = str(path)
        await pilot.press("enter")
        go = upload.query_one("#upload-go", Button)
        await wait_for(pilot, lambda: not go.disabled, timeout=60, what="check report")
        assert upload.report is not None and upload.report.n_examples == 24
        assert not upload.report.errors  # so no "upload anyway?" question comes
        progress = upload.query_one(TransferProgress)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="uploaded")
        size = path.stat().st_size
        assert (progress.done, progress.total) == (size, size)  # the bar reached the end
        files = main.query_one(FileTable)
        await wait_for(
            pilot,
            lambda: any(f.filename == "words.jsonl" for f in files.files.values()),
            timeout=30,
            what="uploaded file listed",
        )
        file_id = next(f.id for f in files.files.values() if f.filename == "words.jsonl")
        # -- create a job in the form.
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        form = app.screen.query_one(HyperparamForm)
        models = form.query_one("#model", Select)
        await wait_for(pilot, lambda: len(models._options) > 2, what="model choices")
        models.value = "tiny-test"
        form.query_one("#training_file", Select).value = file_id
        form.query_one("#n_epochs", Input).value = "2"
        form.query_one("#batch_size", Input).value = "4"
        form.query_one("#suffix", Input).value = "pilot"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="job created")
        # At once, not at the next refresh: the jobs pane, the new job selected, its
        # events followed.
        await pilot.pause()
        job_id = main.selected_job_id
        assert job_id is not None and job_id.startswith("ftjob-")
        assert main.active_pane == "jobs" and main.jobs.table.selected_job_id == job_id
        assert main.events.job_id == job_id
        # -- events stream in and the curves get points.
        log = main.query_one(EventLog)
        await wait_for(pilot, lambda: len(log.lines) >= 3, timeout=60, what="events")
        plots = main.query_one(MetricsPanel)
        await wait_for(pilot, lambda: plots.loss_plot.has_data, timeout=120, what="plot points")
        await wait_for(
            pilot,
            lambda: _job(tiny_server, job_id)["status"] == "succeeded",
            timeout=180,
            what="job succeeded",
        )
        model = _job(tiny_server, job_id)["fine_tuned_model"]
        assert isinstance(model, str) and ":ft-" in model
        await wait_for(
            pilot,
            lambda: any(
                ln.endswith(f"Job succeeded: fine-tuned model {model}") for ln in log.lines
            ),
            timeout=30,
            what="the final event",
        )
        # 24 examples, batch 4, 2 epochs: 12 steps, drawn from the results file.
        await wait_for(
            pilot,
            lambda: plots.loss_plot.series["training_loss"][0] == [float(s) for s in range(1, 13)],
            timeout=30,
            what="12 steps plotted",
        )
        # -- what the job holds on the server's disk: in its detail and the quota line.
        local = _job(tiny_server, job_id)["fttui"]
        assert isinstance(local, dict)
        disk = int(local["disk_bytes"])
        assert disk > 0
        detail = main.query_one(KeyValueTable)
        main.detail.reload()
        await wait_for(
            pilot,
            lambda: dict(detail.items).get("disk use") == human_bytes(disk),
            timeout=30,
            what="disk use in the detail",
        )
        quota = main.query_one(QuotaBar)
        main.files.refresh_files()
        await wait_for(
            pilot,
            lambda: f"of 1 job (largest {job_id} {human_bytes(disk)})" in quota.summary,
            timeout=30,
            what=lambda: f"the job in the quota line: {quota.summary}",
        )
        # -- try the fine-tuned model: separator and stop come from the training file.
        await wait_for(
            pilot,
            lambda: main.jobs.jobs[job_id].fine_tuned_model is not None,
            timeout=30,
            what="model name",
        )
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TryModelScreen), what="try dialog")
        trial = app.screen
        sep = trial.query_one("#try-separator", Input)
        await wait_for(pilot, lambda: sep.value == "\\n\\n###\\n\\n", timeout=30, what="separator")
        assert trial.query_one("#try-stop", Input).value == "\\n"
        # Two labels over 24 examples: a classifier, so one token and the top five.
        tokens = trial.query_one("#try-max-tokens", Input)
        await wait_for(pilot, lambda: tokens.value == "1", what="max tokens 1")
        trial.query_one("#try-prompt", TextArea).text = "red"
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: trial.last_completion is not None, timeout=60, what="completion"
        )
        choice = trial.last_completion.choices[0]
        assert choice.logprobs is not None and len(choice.logprobs.tokens) == 1
        top = choice.logprobs.top_logprobs[0]
        assert len(top) == 5
        # What the dialog shows is that answer: the token, then a bar per class.
        shown = _rendered(trial.query_one("#try-output", Static))
        assert f"completion: {choice.text!r}" in shown
        best = max(top, key=top.__getitem__)
        assert re.search(rf"{re.escape(repr(best))}\s+[█▉▊▋▌▍▎▏]", shown), shown
        assert sum(repr(token) in shown for token in top) == 5
        await pilot.press("escape")
        # -- clone it into a second job, then cancel that one with confirmation.
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="clone form")
        form = app.screen.query_one(HyperparamForm)
        suffix = form.query_one("#suffix", Input)
        await wait_for(pilot, lambda: suffix.value == "pilot", what="prefilled")
        form.query_one("#n_epochs", Input).value = "50"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="second job")
        await wait_for(pilot, lambda: main.selected_job_id not in (None, job_id), what="selected 2")
        second = main.selected_job_id
        assert second is not None
        # -- pause it (P) and resume it (R): each key shows only when it applies.
        bar = main.query_one(KeyBar)

        def keys() -> set[str]:
            return {description for _, description in bar.keys}

        def help_keys() -> set[str]:
            return {d for _, rows in key_sections(main) for _, d in rows}

        await wait_for(
            pilot,
            lambda: main.jobs.jobs[second].status == "running" and "Pause job" in keys(),
            timeout=120,
            what="pause key for the running job",
        )
        assert "Resume job" not in keys() and "Resume job" not in help_keys()
        assert "Pause job" in help_keys()
        await pilot.press("2", "P")
        await wait_for(
            pilot,
            lambda: (
                _job(tiny_server, second)["status"] == "paused"
                and not _job(tiny_server, second)["fttui"]["pausing"]
            ),
            timeout=60,
            what="paused with its checkpoint saved",
        )
        await wait_for(pilot, lambda: "Resume job" in keys(), timeout=20, what="resume key")
        assert "Pause job" not in keys() and "Pause job" not in help_keys()
        await pilot.press("R")
        await wait_for(
            pilot,
            lambda: _job(tiny_server, second)["status"] in ("queued", "running"),
            timeout=20,
            what="resumed",
        )
        await wait_for(pilot, lambda: "Resume job" not in keys(), timeout=20, what="no resume")
        # The files pane's storage line counts the first job's model and checkpoints.
        quota = main.query_one(QuotaBar)
        await wait_for(
            pilot,
            lambda: "models/checkpoints" in quota.summary and bool(quota.others),
            timeout=20,
            what="models and checkpoints in the storage line",
        )
        await pilot.press("2", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: _job(tiny_server, second)["status"] == "cancelled",
            timeout=30,
            what="cancelled",
        )
        jobs = main.query_one(JobTable)
        await wait_for(pilot, lambda: jobs.jobs[second].status == "cancelled", what="shown")
