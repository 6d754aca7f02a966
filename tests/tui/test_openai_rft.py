"""Reinforcement fine-tuning against OpenAI, from the TUI's form.

Each grader of OpenAI's published examples goes through the form's grader box and
comes out in a job body that OpenAI's own schema accepts (checked with the spec's
CreateFineTuningJobRequest, tests/server/openai_request_facts.json); a bad grader is
named by line/column or field before anything is sent; a clone keeps the method and
grader exactly.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from conftest import OpenAIFixture
from server.openai_spec import check_request  # tests/server/openai_spec.py
from textual.widgets import Input, Label, Select, TextArea

from fttui.screens.job_form import JobFormScreen
from tests.openai_fixture_server import examples
from widgets import JobTable

from .conftest import wait_for
from .test_openai_backend import _form, fixture_app


def _graders() -> dict[str, Any]:
    schemas = examples()["schemas"]
    # OpenAI's multi example, with its graders as the named mapping OpenAI's graders
    # guide uses (the example has a list) and its formula's unmatched ")" removed
    # (the form names that field: see below).
    published = copy.deepcopy(schemas["GraderMulti"])
    multi = {
        **published,
        "graders": {g["type"]: g for g in published["graders"]},
        "calculate_output": "0.5 * text_similarity + 0.5 * string_check",
    }
    # label_model is allowed inside a multi only (FineTuneReinforcementMethod).
    with_label = {
        "type": "multi",
        "name": "label and check",
        "graders": {"label": schemas["GraderLabelModel"], "check": schemas["GraderStringCheck"]},
        "calculate_output": "label",
    }
    return {
        "string_check": schemas["GraderStringCheck"],
        "text_similarity": schemas["GraderTextSimilarity"],
        "score_model": schemas["GraderScoreModel"],
        "python": schemas["GraderPython"],
        "multi": multi,
        "label_model in multi": with_label,
    }


def _created(acct: Any) -> list[dict[str, Any]]:
    return [b for kind, b in acct.bodies if kind == "create"]


async def test_each_grader_type_makes_a_body_openais_schema_accepts(
    openai_fixture: OpenAIFixture,
) -> None:
    acct = openai_fixture.account
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(160, 48)) as pilot:
        for name, grader in _graders().items():
            form = await _form(pilot, app)
            form.query_one("#model", Select).value = "o4-mini"
            form.query_one("#training_file", Select).value = "file-abc"
            form.query_one("#validation_file", Select).value = "file-123"
            form.query_one("#method_type", Select).value = "reinforcement"
            await pilot.pause()
            form.query_one("#grader", TextArea).text = json.dumps(grader, indent=2)
            form.query_one("#reasoning_effort", Select).value = "high"
            form.query_one("#compute_multiplier", Input).value = "2"
            form.query_one("#eval_interval", Input).value = "5"
            form.query_one("#eval_samples", Input).value = "3"
            form.query_one("#n_epochs", Input).value = "2"
            before = len(_created(acct))
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.screen is app.main, what=f"{name} created")
            assert len(_created(acct)) == before + 1, name
            body = check_request("CreateFineTuningJobRequest", _created(acct)[-1])
            method = body["method"]
            assert method["type"] == "reinforcement", name
            assert method["reinforcement"]["grader"] == grader, name
            assert method["reinforcement"]["hyperparameters"] == {
                "n_epochs": 2, "batch_size": "auto", "learning_rate_multiplier": "auto",
                "compute_multiplier": 2.0, "eval_interval": 5, "eval_samples": 3,
                "reasoning_effort": "high",
            }, name  # fmt: skip
            assert "hyperparameters" not in body  # all inside the method, as OpenAI takes them


async def test_a_bad_grader_is_named_and_nothing_is_sent(openai_fixture: OpenAIFixture) -> None:
    acct = openai_fixture.account
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _form(pilot, app)
        form.query_one("#model", Select).value = "o4-mini"
        form.query_one("#training_file", Select).value = "file-abc"
        form.query_one("#method_type", Select).value = "reinforcement"
        await pilot.pause()
        box = form.query_one("#grader", TextArea)
        error = form.query_one("#grader-error", Label)
        cases = {
            '{"type": "string_check",\n "name": "x", }': "line 2 column",
            json.dumps({**_graders()["string_check"], "operation": "equals"}): "grader.operation",
            json.dumps(examples()["schemas"]["GraderMulti"]): "grader.calculate_output",
            json.dumps(examples()["schemas"]["GraderLabelModel"]): "not allowed here",
        }
        for text, words in cases.items():
            box.text = text
            await pilot.press("ctrl+s")
            await pilot.pause(0.2)
            assert isinstance(app.screen, JobFormScreen)
            assert words in str(error.render()), (words, str(error.render()))
        assert _created(acct) == []


async def _clone(pilot: Any, app: Any, job_id: str) -> Any:
    main = app.main
    table = main.query_one(JobTable)
    await wait_for(pilot, lambda: job_id in table.jobs, what=job_id)
    assert table.select_id(job_id)
    await wait_for(pilot, lambda: main.selected_job_id == job_id, what="selected")
    await pilot.press("y")
    await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="clone form")
    form = app.screen.query_one("HyperparamForm")
    await wait_for(pilot, lambda: form._select("model") is not None, what="prefilled")
    return form


async def test_a_clone_keeps_method_and_grader_exactly(openai_fixture: OpenAIFixture) -> None:
    acct = openai_fixture.account
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(160, 48)) as pilot:
        for job_id in ("ftjob-rft", "ftjob-rft-score_model", "ftjob-dpo", "ftjob-epochs"):
            source = acct.job(job_id)
            await _clone(pilot, app, job_id)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.screen is app.main, what=f"clone of {job_id}")
            body = check_request("CreateFineTuningJobRequest", _created(acct)[-1])
            assert body["model"] == source["model"], job_id
            assert body["training_file"] == source["training_file"], job_id
            kind = source["method"]["type"]
            sent = body.get("method") or {"type": "supervised"}
            assert sent["type"] == kind, job_id
            if kind != "supervised":
                assert sent[kind] == {
                    k: v for k, v in source["method"][kind].items() if v is not None
                }, job_id
            else:
                assert body["hyperparameters"] == source["method"]["supervised"]["hyperparameters"]
        # OpenAI's W&B example trains and validates on one file, which the form refuses
        # (a validation file must differ): said at the field; the W&B project is kept.
        form = await _clone(pilot, app, "ftjob-wandb")
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert "must differ" in str(form.query_one("#validation_file-error", Label).render())
        form.query_one("#validation_file", Select).clear()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.main, what="W&B clone")
        body = check_request("CreateFineTuningJobRequest", _created(acct)[-1])
        assert body["integrations"] == [{"type": "wandb", "wandb": {"project": "my-wandb-project"}}]


async def test_a_clone_that_cannot_keep_its_grader_says_so_before_submit(
    openai_fixture: OpenAIFixture,
) -> None:
    """OpenAI's own multi-grader example has an unmatched ')' in its formula: the
    clone names the field, and nothing is sent until it is fixed."""
    acct = openai_fixture.account
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _clone(pilot, app, "ftjob-rft-multi")
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert "grader.calculate_output" in str(form.query_one("#grader-error", Label).render())
        assert _created(acct) == []
