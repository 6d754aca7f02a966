"""The app against OpenAI's own published responses (tests/openai_fixture_server.py).

Every job, file, event and checkpoint of the fixture account (assembled from the
x-oaiMeta examples of OpenAI's API reference, including those that break OpenAI's
own schema) must be on screen in each pane that shows it, at 160x48 and 80x24, with
no parse error reaching the user and nothing polled that OpenAI does not have.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import OpenAIFixture

from fttui.api import Client
from fttui.app import FtTuiApp
from widgets import EventLog, FileTable, JobTable, KeyValueTable

from .conftest import wait_for
from .test_app_flow import record_notifications

NOW = 1721770000.0


def fixture_app(fx: OpenAIFixture) -> FtTuiApp:
    # As `fttui --base-url http://127.0.0.1:PORT/v1` makes it: a compatible backend
    # on loopback, which the app must find out is not fttui's own server.
    client = Client(fx.base_url, api_key="sk-fixture", max_retries=1, label="openai fixture")
    return FtTuiApp(client, org="default org", frozen_now=NOW)


def _problems(notes: list[tuple[str, str]]) -> list[str]:
    return [m for sev, m in notes if sev in ("error", "warning")]


@pytest.mark.parametrize("size", [(160, 48), (80, 24)])
async def test_every_job_file_event_and_checkpoint_is_shown(
    openai_fixture: OpenAIFixture, size: tuple[int, int]
) -> None:
    acct = openai_fixture.account
    app = fixture_app(openai_fixture)
    async with app.run_test(size=size) as pilot:
        notes = record_notifications(app)
        main = app.main
        table = main.query_one(JobTable)
        await wait_for(pilot, lambda: len(table.jobs) == len(acct.jobs), what="every job")
        files = main.query_one(FileTable)
        await wait_for(pilot, lambda: len(files.files) == len(acct.files), what="every file")
        assert set(files.files) == {f["id"] for f in acct.files}
        assert all("partly read" not in r.model for r in table.jobs.values())
        # Methods as OpenAI names them, DPO and reinforcement included.
        methods = {r.method for r in table.jobs.values()}
        assert methods == {"supervised", "dpo", "reinforcement"}
        detail = main.query_one(KeyValueTable)
        log = main.query_one(EventLog)
        for job in acct.jobs:
            jid = job["id"]
            assert table.select_id(jid), jid
            await wait_for(
                pilot, lambda j=jid: dict(detail.items).get("id") == j, what=f"detail of {jid}"
            )
            await wait_for(
                pilot,
                lambda j=jid: all(log.has_seen(e["id"]) for e in acct.events[j]),
                what=lambda j=jid: f"events of {j}: {log.lines[-3:]}",
            )
            items = dict(detail.items)
            assert items["status"] == job["status"]
            for ckpt in acct.checkpoints.get(jid, []):
                step = f"checkpoint step {ckpt['step_number']}"
                assert items.get(step) == ckpt["fine_tuned_model_checkpoint"], (jid, step)
        # The last job drawn on screen: its id is in the detail pane's text.
        await pilot.pause(0.1)
        assert _problems(notes) == [], notes
    # Nothing of the local server is asked more than once (the one probe that
    # decides the backend), and its usage route never.
    fttui = acct.fttui_requests()
    assert ("GET", "/v1/fttui/usage") not in fttui, fttui
    assert len(fttui) <= 1, fttui


async def test_the_app_finds_out_the_backend_is_not_fttuis_server(
    openai_fixture: OpenAIFixture,
) -> None:
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(160, 48)) as pilot:
        main = app.main
        await wait_for(pilot, lambda: len(main.query_one(JobTable).jobs) > 0)
        # The files pane's 5 s refresh must not ask for the local server's usage.
        main.files.refresh_files()
        await pilot.pause(0.3)
        main.files.refresh_files()
        await pilot.pause(0.3)
    assert app.client.kind == "compatible" and not app.client.is_local
    assert not [r for r in openai_fixture.account.requests if r[1] == "/v1/fttui/usage"]


async def _form(pilot: Any, app: FtTuiApp) -> Any:
    from textual.widgets import Select

    from fttui.screens.job_form import JobFormScreen
    from widgets import HyperparamForm

    await wait_for(pilot, lambda: len(app.main.query_one(JobTable).jobs) > 0)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
    form = app.screen.query_one(HyperparamForm)
    select = form.query_one("#training_file", Select)
    await wait_for(pilot, lambda: len(select._options) > 2, what="file choices")
    return form


async def test_the_form_offers_what_openai_has_and_creates_once(
    openai_fixture: OpenAIFixture,
) -> None:
    """OpenAI's naming in the preview, plain "auto", no LoRA or classification
    (local server only), and a create answered like OpenAI's DPO example
    (hyperparameters null) closes the form: one ctrl+s, one job."""
    from textual.widgets import Input, Select

    acct = openai_fixture.account
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(160, 48)) as pilot:
        notes = record_notifications(app)
        form = await _form(pilot, app)
        assert not form.local
        assert not form.query_one("#method-field").display
        assert not form.query_one("#classification-field").display
        assert form.query_one("#n_epochs", Input).placeholder == "auto"
        form.query_one("#model", Select).value = "gpt-4o-mini-2024-07-18"
        form.query_one("#training_file", Select).value = "file-abc"
        form.query_one("#method_type", Select).value = "dpo"
        form.query_one("#suffix", Input).value = "support bot"
        await pilot.pause(0.1)
        assert form.query_one("#beta", Input).placeholder == "auto"
        assert form.model_preview == "ft:gpt-4o-mini-2024-07-18:<org>:support-bot:<id>"
        before = len(acct.jobs)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.main, what="the form closes")
        assert len(acct.jobs) == before + 1
        sent = [b for kind, b in acct.bodies if kind == "create"][-1]
        assert sent["method"]["type"] == "dpo" and "training_method" not in str(sent)
        assert any(m.startswith("created ftjob-") for _, m in notes), notes
        assert _problems(notes) == [], notes


async def test_a_refused_create_says_openais_words(openai_fixture: OpenAIFixture) -> None:
    from textual.widgets import Select, Static

    openai_fixture.account.refuse_training = True
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _form(pilot, app)
        form.query_one("#model", Select).value = "gpt-4o-mini"
        form.query_one("#training_file", Select).value = "file-abc"
        await pilot.press("ctrl+s")
        box = form.query_one("#server-error", Static)
        await wait_for(pilot, lambda: "not available" in str(box.render()), what="refusal")
        assert app.screen is not app.main  # the form stays open, values kept


async def _detail_of(pilot: Any, app: FtTuiApp, job_id: str) -> dict[str, str]:
    main = app.main
    table = main.query_one(JobTable)
    await wait_for(pilot, lambda: job_id in table.jobs, what=job_id)
    assert table.select_id(job_id)
    detail = main.query_one(KeyValueTable)
    await wait_for(pilot, lambda: dict(detail.items).get("id") == job_id, what="detail")
    return dict(detail.items)


async def test_what_openai_sends_is_shown(openai_fixture: OpenAIFixture) -> None:
    from widgets import MetricsPanel

    acct = openai_fixture.account
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(160, 48)) as pilot:
        failed = await _detail_of(pilot, app, "ftjob-failed")
        err = acct.job("ftjob-failed")["error"]
        assert failed["error"] == err["message"]
        assert (failed["error code"], failed["error param"]) == (err["code"], err["param"])
        assert failed["beta"] == "0.1"  # DPO's hyperparameters, from `method`
        wandb = await _detail_of(pilot, app, "ftjob-wandb")
        assert wandb["W&B"] == "project my-wandb-project, run_id ftjob-abc123"
        done = await _detail_of(pilot, app, "ftjob-succeeded")
        assert done["trained tokens"] == "5,768"
        assert done["checkpoint step 2000 metrics"] == (
            "full_valid_loss=0.134, full_valid_mean_token_accuracy=0.874"
        )
        rft = await _detail_of(pilot, app, "ftjob-rft-python")
        assert rft["method"] == "reinforcement"
        assert rft["grader"].startswith('python "Example python grader" ')
        assert rft["reasoning_effort"] == "medium"
        # The full validation loss OpenAI reports is a series of the loss plot.
        await _detail_of(pilot, app, "ftjob-running")
        plots = app.main.query_one(MetricsPanel)
        await wait_for(
            pilot,
            lambda: "full_validation_loss" in plots.loss_plot.series,
            what=lambda: f"full validation loss in {list(plots.loss_plot.series)}",
        )
        # Files: OpenAI's expiry is a column of its own.
        files = app.main.query_one(FileTable)
        row = files.files["file-abc123"]
        assert row.expires_at == 1677614202


async def test_wandb_is_settable_and_sent_as_openais_integrations(
    openai_fixture: OpenAIFixture,
) -> None:
    from textual.widgets import Input, Label, Select

    acct = openai_fixture.account
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(160, 48)) as pilot:
        form = await _form(pilot, app)
        assert form.query_one("#wandb-row").display
        form.query_one("#model", Select).value = "gpt-4o-mini"
        form.query_one("#training_file", Select).value = "file-abc"
        form.query_one("#wandb_tags", Input).value = "sweep-1, baseline"
        await pilot.press("ctrl+s")

        def said() -> str:
            return str(form.query_one("#wandb_project-error", Label).render())

        # On a busy box the check can take longer than a fixed pause: wait for it.
        await wait_for(pilot, lambda: "need the W&B project" in said(), what=said)
        assert "need the W&B project" in said()
        form.query_one("#wandb_project", Input).value = "my-wandb-project"
        form.query_one("#wandb_name", Input).value = "run one"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.main, what="created")
    sent = [b for kind, b in acct.bodies if kind == "create"][-1]
    assert sent["integrations"] == [
        {"type": "wandb", "wandb": {"project": "my-wandb-project", "name": "run one",
                                    "tags": ["sweep-1", "baseline"]}}
    ]  # fmt: skip
