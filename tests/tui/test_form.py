"""The create-job form: every bad value is named next to its field and nothing is sent."""

from __future__ import annotations

import httpx
from conftest import ServerProcess
from textual.widgets import Checkbox, Input, Label, Select

from fttui.screens.job_form import JobFormScreen
from widgets import HyperparamForm

from .conftest import make_app, wait_for
from .seed import FILE_TRAIN, FILE_VALID, JOB_OK

# field -> (bad text, words the message must contain)
BAD_INPUTS: list[tuple[str, str, str]] = [
    ("n_epochs", "0", "n_epochs"),
    ("n_epochs", "four", "n_epochs"),
    ("batch_size", "1000", "batch_size"),
    ("learning_rate_multiplier", "-0.1", "learning_rate_multiplier"),
    ("suffix", "x" * 41, "41 characters"),
    ("suffix", "bad/suffix", "suffix may contain only"),
    ("seed", "abc", "seed must be a whole number"),
]


def _jobs(server: ServerProcess) -> int:
    return len(httpx.get(f"{server.base_url}/fine_tuning/jobs?limit=100").json()["data"])


def _error(form: HyperparamForm, name: str) -> str:
    return str(form.query_one(f"#{name}-error", Label).render())


async def _open_form(pilot: object, app: object) -> HyperparamForm:
    await pilot.press("n")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")  # type: ignore[attr-defined]
    form = app.screen.query_one(HyperparamForm)  # type: ignore[attr-defined]
    select = form.query_one("#training_file", Select)
    await wait_for(pilot, lambda: len(select._options) > 2, what="file choices")
    return form


async def test_bad_value_is_named_next_to_its_field_and_nothing_is_sent(
    shared_seeded_server: ServerProcess,
) -> None:
    server = shared_seeded_server
    before = _jobs(server)
    app = make_app(server)
    async with app.run_test(size=(120, 50)) as pilot:
        form = await _open_form(pilot, app)
        form.query_one("#model", Select).value = "davinci"
        form.query_one("#training_file", Select).value = FILE_TRAIN
        for field, bad, words in BAD_INPUTS:
            form.query_one(f"#{field}", Input).value = bad
            await pilot.press("ctrl+s")
            await pilot.pause(0.2)
            assert isinstance(app.screen, JobFormScreen), "the form stays open"
            assert words in _error(form, field), (field, bad)
            # Only that field complains.
            others = [n for n in ("n_epochs", "batch_size", "suffix", "seed") if n != field]
            assert all(_error(form, n) == "" for n in others), (field, bad)
            form.query_one(f"#{field}", Input).value = ""
    assert _jobs(server) == before


async def test_missing_choices_and_classification_rules(
    shared_seeded_server: ServerProcess,
) -> None:
    before = _jobs(shared_seeded_server)
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(120, 50)) as pilot:
        form = await _open_form(pilot, app)
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert "choose a model" in _error(form, "model")
        assert "choose a training file" in _error(form, "training_file")
        form.query_one("#model", Select).value = "davinci"
        form.query_one("#training_file", Select).value = FILE_TRAIN
        form.query_one("#compute_classification_metrics", Checkbox).value = True
        await pilot.pause(0.1)
        form.query_one("#classification_n_classes", Input).value = "1"
        form.query_one("#classification_betas", Input).value = "1, x"
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert "validation file" in _error(form, "compute_classification_metrics")
        assert "at least 2" in _error(form, "classification_n_classes")
        assert _error(form, "classification_betas") != ""
        assert _error(form, "model") == ""
    assert _jobs(shared_seeded_server) == before


async def test_a_value_the_contract_refuses_is_named_at_its_field_and_nothing_is_sent(
    shared_seeded_server: ServerProcess,
) -> None:
    """The form's own checks pass a bidi control in the positive class; the job contract
    (`form.spec()`, what the server parses with too) refuses it under that field
    before anything is sent, not as the server's 400 at the top of the form."""
    before = _jobs(shared_seeded_server)
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(120, 50)) as pilot:
        form = await _open_form(pilot, app)
        form.query_one("#model", Select).value = "davinci"
        form.query_one("#training_file", Select).value = FILE_TRAIN
        form.query_one("#validation_file", Select).value = FILE_VALID
        form.query_one("#compute_classification_metrics", Checkbox).value = True
        await pilot.pause(0.1)
        form.query_one("#classification_n_classes", Input).value = "2"
        form.query_one("#classification_positive_class", Input).value = "yes\u202e"
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert isinstance(app.screen, JobFormScreen), "the form stays open"
        assert "U+202E" in _error(form, "classification_positive_class")
        assert not form.query_one("#server-error").has_class("-shown")
    assert _jobs(shared_seeded_server) == before


async def test_server_refusal_is_shown_verbatim(shared_seeded_server: ServerProcess) -> None:
    """A value only the server can judge (an unknown model) comes back as its 4xx message."""
    before = _jobs(shared_seeded_server)
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(120, 50)) as pilot:
        form = await _open_form(pilot, app)
        form.set_models(["davinci", "no-such-model"])
        form.query_one("#model", Select).value = "no-such-model"
        form.query_one("#training_file", Select).value = FILE_TRAIN
        await pilot.press("ctrl+s")
        server_error = form.query_one("#server-error")
        await wait_for(pilot, lambda: "no-such-model" in str(server_error.render()), what="4xx")
        assert isinstance(app.screen, JobFormScreen)
    assert _jobs(shared_seeded_server) == before


async def test_clone_prefills_the_form(shared_seeded_server: ServerProcess) -> None:
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(120, 50)) as pilot:
        main = app.main
        await wait_for(pilot, lambda: main.selected_job_id == JOB_OK, what="selection")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        form = app.screen.query_one(HyperparamForm)
        await wait_for(
            pilot, lambda: form.query_one("#suffix", Input).value == "reviews", what="prefill"
        )
        assert form.query_one("#training_file", Select).value == FILE_TRAIN
        assert form.query_one("#validation_file", Select).value == FILE_VALID
        assert form.query_one("#seed", Input).value == "42"
        # Asked as `auto` (the server resolved 4): cloned as `auto`, not pinned.
        assert form.query_one("#n_epochs", Input).value == ""


async def test_the_name_preview_says_ft_local_on_the_local_server_however_reached(
    shared_seeded_server: ServerProcess,
) -> None:
    """A profile that does not know it is fttui's server (OPENAI_BASE_URL pointing at
    it: org "default org") still previews the name the local server gives."""
    from fttui.api import Client
    from fttui.app import FtTuiApp

    from .seed import NOW

    client = Client(shared_seeded_server.base_url, kind="compatible", max_retries=1)
    app = FtTuiApp(client, org="default org", frozen_now=NOW)
    async with app.run_test(size=(120, 50)) as pilot:
        form = await _open_form(pilot, app)
        form.query_one("#model", Select).value = "davinci"
        form.query_one("#suffix", Input).value = "my run"
        await wait_for(pilot, lambda: ":ft-local:my-run-" in form.model_preview, what="preview")
        assert form.model_preview.startswith("davinci:ft-local:my-run-")
