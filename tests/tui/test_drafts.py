"""Nothing typed into the job form is lost: Escape on a changed form asks, and `n`
opens the last unsent form again (the app against the seeded server)."""

from __future__ import annotations

from conftest import ServerProcess
from textual.widgets import Input, Select

from fttui.screens.job_form import JobFormScreen
from widgets import ConfirmDialog, HyperparamForm

from .conftest import make_app, wait_for


def loaded(screen: object) -> bool:
    """The form has its choices and (maybe) its draft in."""
    return isinstance(screen, JobFormScreen) and screen._initial is not None


async def test_escape_asks_on_a_changed_form_and_n_reopens_the_draft(
    shared_seeded_server: ServerProcess,
) -> None:
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        form = app.screen.query_one(HyperparamForm)
        model = form.query_one("#model", Select)
        await wait_for(pilot, lambda: len(model._options) > 2, what="model choices")
        await wait_for(pilot, lambda: loaded(app.screen), what="form loaded")
        # Nothing typed: Escape just closes.
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, JobFormScreen), what="closed")

        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        await wait_for(pilot, lambda: loaded(app.screen), what="form loaded")
        form = app.screen.query_one(HyperparamForm)
        form.query_one("#suffix", Input).focus()
        await pilot.pause()
        await pilot.press(*"keepme")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="question")
        await pilot.pause(0.2)
        await pilot.press("n")  # no: back to the form, still filled
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        assert app.screen.query_one("#suffix", Input).value == "keepme"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="question")
        await pilot.pause(0.2)
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, (JobFormScreen, ConfirmDialog)))

        await pilot.press("n")  # the draft comes back
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        suffix = app.screen.query_one("#suffix", Input)
        await wait_for(pilot, lambda: suffix.value == "keepme", what="the draft's suffix")
        # Unchanged since it was reopened: Escape closes at once, the draft kept.
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, JobFormScreen), what="closed")
        assert not isinstance(app.screen, ConfirmDialog)
        assert app.backend.draft is not None and app.backend.draft["suffix"] == "keepme"
