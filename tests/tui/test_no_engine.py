"""Without the training engine, the job form shows the server's refusal, readable, at 80x24."""

from __future__ import annotations

import re

import httpx
from conftest import ServerProcess
from textual.widgets import Select

from fttui.screens.job_form import JobFormScreen
from widgets import HyperparamForm

from .conftest import make_app, wait_for

FIX = "pip install 'fttui[local]'"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def _screen_text(app: object) -> str:
    """The words on screen, lines joined, borders and spacing dropped."""
    update = app.screen._compositor.render_full_update()  # type: ignore[attr-defined]
    raw = _ANSI.sub("", update.render_segments(app.console))  # type: ignore[attr-defined]
    lines = [re.sub(r"[│┃║▌▐┊╎▎▊█]", " ", line).strip() for line in raw.splitlines()]
    return " ".join(" ".join(lines).split())


async def test_the_job_form_shows_the_missing_engine_and_its_fix(
    no_engine_server: ServerProcess,
) -> None:
    with httpx.Client(base_url=no_engine_server.base_url, timeout=60) as api:
        line = b'{"prompt": "a ->", "completion": " b END"}\n'
        api.post("/files", data={"purpose": "fine-tune"}, files={"file": ("t.jsonl", line * 20)})
    app = make_app(no_engine_server)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="the form")
        form = app.screen.query_one(HyperparamForm)
        files = form.query_one("#training_file", Select)
        await wait_for(pilot, lambda: len(files._options) > 1, what="file choices")
        form.query_one("#model", Select).value = "ada"
        files.value = next(v for _, v in files._options if isinstance(v, str))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: FIX in _screen_text(app), what="the message on screen")
        shown = _screen_text(app)
        assert "cannot train models" in shown
        assert "Traceback" not in shown
        assert isinstance(app.screen, JobFormScreen), "the form stays open with its values"


async def test_try_model_shows_the_missing_engine_and_its_fix(
    no_engine_server: ServerProcess,
) -> None:
    from textual.widgets import TextArea

    from fttui.screens.try_model import TryModelScreen

    app = make_app(no_engine_server)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(TryModelScreen(app.client, "ada"))
        await wait_for(pilot, lambda: isinstance(app.screen, TryModelScreen), what="try model")
        app.screen.query_one("#try-prompt", TextArea).load_text("cat says")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: FIX in _screen_text(app), what="the message on screen")
        shown = _screen_text(app)
        assert "cannot generate text" in shown and "Traceback" not in shown
