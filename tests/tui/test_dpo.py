"""DPO in the TUI: the job form's method selector and `beta`, a file of the wrong format
refused before anything is sent, the request the form sends, the method in the jobs
table, and the reward plots of a DPO job's metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from conftest import ServerProcess, free_port
from textual.app import App, ComposeResult
from textual.widgets import Input, Label, Select

from fttui.api.types import FineTuningJob
from fttui.panes.convert import job_detail, job_row
from fttui.screens.job_form import JobFormScreen, request_body, values_from_job
from fttui.train.tiny import preference_task
from widgets import HyperparamForm, MetricsPanel
from widgets.job_table import model_cell

from .conftest import make_app, wait_for
from .seed import seed_store


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """The seeded server, never training (`--concurrency 0`: jobs stay queued)."""
    data = tmp_path / "data"
    seed_store(data).close()
    srv = ServerProcess(data_dir=data, port=free_port(), extra_args=("--concurrency", "0"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _upload(srv: ServerProcess, name: str, rows: list[dict[str, Any]]) -> str:
    content = "".join(json.dumps(r) + "\n" for r in rows).encode()
    resp = httpx.post(
        f"{srv.base_url}/files",
        files={"file": (name, content)},
        data={"purpose": "fine-tune"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["id"])


def _jobs(srv: ServerProcess) -> list[dict[str, Any]]:
    return list(httpx.get(f"{srv.base_url}/fine_tuning/jobs?limit=100", timeout=30).json()["data"])


def _error(form: HyperparamForm, name: str) -> str:
    return str(form.query_one(f"#{name}-error", Label).render())


async def test_dpo_form_checks_method_file_and_beta_then_sends_openais_method(
    server: ServerProcess,
) -> None:
    pref = _upload(server, "prefs.jsonl", preference_task(6, seed=1))
    chat = _upload(
        server,
        "chat.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": f"hi {i}"},
                    {"role": "assistant", "content": "hello"},
                ]
            }
            for i in range(6)
        ],
    )
    before = len(_jobs(server))
    app = make_app(server)
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        form = app.screen.query_one(HyperparamForm)
        files = form.query_one("#training_file", Select)
        await wait_for(pilot, lambda: len(files._options) > 4, what="file choices")
        beta_field = form.query_one("#beta-field")
        assert not beta_field.display  # supervised: no beta
        form.query_one("#model", Select).value = "davinci"
        # A preference file for a supervised job: named at the file, nothing sent.
        files.value = pref
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert "preference" in _error(form, "training_file")
        assert "method DPO" in _error(form, "training_file")
        # DPO: beta appears; a chat file is refused, and so is beta out of range.
        form.query_one("#method_type", Select).value = "dpo"
        await pilot.pause(0.1)
        assert beta_field.display
        files.value = chat
        form.query_one("#beta", Input).value = "3"
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert isinstance(app.screen, JobFormScreen)
        assert "needs a preference" in _error(form, "training_file")
        assert "beta must be in (0, 2]" in _error(form, "beta")
        assert len(_jobs(server)) == before
        # Fixed: the job is created with OpenAI's method object.
        files.value = pref
        form.query_one("#beta", Input).value = "0.25"
        form.query_one("#n_epochs", Input).value = "2"
        await pilot.pause(0.1)
        assert _error(form, "training_file") == "" and _error(form, "beta") == ""
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, JobFormScreen), what="created")
    jobs = _jobs(server)
    assert len(jobs) == before + 1
    job = jobs[0]
    assert job["method"]["type"] == "dpo"
    hp = job["method"]["dpo"]["hyperparameters"]
    assert (hp["beta"], hp["n_epochs"]) == (0.25, 2)


# A DPO job as OpenAI's API lists it (no `fttui` key).
OPENAI_DPO_JOB: dict[str, Any] = {
    "id": "ftjob-abc123",
    "object": "fine_tuning.job",
    "created_at": 1_733_000_000,
    "finished_at": None,
    "model": "gpt-4o-mini-2024-07-18",
    "fine_tuned_model": None,
    "organization_id": "org-1",
    "status": "running",
    "hyperparameters": {"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 0.5},
    "training_file": "file-train",
    "validation_file": None,
    "result_files": [],
    "trained_tokens": None,
    "error": None,
    "seed": 7,
    "method": {
        "type": "dpo",
        "dpo": {
            "hyperparameters": {
                "beta": 0.3,
                "n_epochs": 3,
                "batch_size": 4,
                "learning_rate_multiplier": 0.5,
            }
        },
    },
}


def test_an_openai_dpo_job_shows_its_method_and_clones_as_dpo() -> None:
    job = FineTuningJob.model_validate(OPENAI_DPO_JOB)
    row = job_row(job)
    assert row.method == "dpo"
    assert model_cell(row) == "gpt-4o-mini-2024-07-18 (DPO)"
    detail = dict(job_detail(job))
    assert detail["method"] == "dpo" and detail["beta"] == "0.3"
    values = values_from_job(job)
    assert values["method_type"] == "dpo" and values["hyperparameters"]["beta"] == 0.3
    body = request_body(values)
    assert "hyperparameters" not in body
    assert body["method"] == {
        "type": "dpo",
        "dpo": {
            "hyperparameters": {
                "n_epochs": 3,
                "batch_size": 4,
                "learning_rate_multiplier": 0.5,
                "beta": 0.3,
            }
        },
    }


class _Panel(App[None]):
    def compose(self) -> ComposeResult:
        yield MetricsPanel()


async def test_a_dpo_frame_plots_reward_accuracy_and_margin() -> None:
    frame = pd.DataFrame(
        {
            "step": [1, 2, 3],
            "training_loss": [0.69, 0.5, 0.3],
            "training_reward_accuracy": [0.0, 0.75, 1.0],
            "training_reward_margin": [0.0, 0.2, 0.6],
            "validation_loss": [0.69, float("nan"), 0.35],
            "validation_reward_accuracy": [0.1, float("nan"), 0.9],
            "validation_reward_margin": [0.0, float("nan"), 0.5],
        }
    )
    app = _Panel()
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(MetricsPanel)
        panel.set_frame(frame)
        await pilot.pause()
        assert panel.accuracy_plot.title == "Reward accuracy"
        assert set(panel.accuracy_plot.series) == {
            "training_reward_accuracy",
            "validation_reward_accuracy",
        }
        assert panel.reward_margin_plot.display and panel.has_class("-reward")
        assert panel.reward_margin_plot.series["training_reward_margin"][1] == [0.0, 0.2, 0.6]
        # A supervised frame afterwards: no reward plot.
        panel.set_frame(
            pd.DataFrame({"step": [1], "training_loss": [1.0], "training_token_accuracy": [0.5]})
        )
        await pilot.pause()
        assert panel.accuracy_plot.title == "Accuracy"
        assert not panel.has_class("-reward") and not panel.reward_margin_plot.display
