"""The app's flow for a new user: what empty panes say, a local port held by another
program, keys typed at full speed through the form's drop-downs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import ServerProcess, free_port, other_program
from textual import events
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Input, Select

import fttui.app as appmod
from fttui.api import Client
from fttui.app import FtTuiApp
from fttui.config import resolve_profile
from fttui.launcher import ensure_local_server
from fttui.screens.job_form import JobFormScreen
from widgets import HyperparamForm

from .conftest import make_app, wait_for
from .seed import FILE_TRAIN, FILE_VALID
from .test_dialogs_80x24 import visible_problem


def shown(widget: Widget) -> str:
    """The text `widget` draws now, its lines joined (styles dropped)."""
    width, height = widget.size
    lines = widget.render_lines(Region(0, 0, width, height))
    return " ".join(" ".join(s.text.split()) for s in lines)


def record_notifications(app: FtTuiApp) -> list[tuple[str, str]]:
    """(severity, message) of every notification the app shows from now on."""
    shown: list[tuple[str, str]] = []
    notify = app.notify

    def recording(message: str, **kwargs: Any) -> None:
        shown.append((str(kwargs.get("severity", "information")), message))
        notify(message, **kwargs)

    app.notify = recording  # type: ignore[method-assign]
    return shown


async def test_empty_backend_panes_say_what_to_press(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = ServerProcess(data_dir=data, port=free_port())
    server.start()
    try:
        app = FtTuiApp(Client(server.base_url, max_retries=1))
        async with app.run_test(size=(160, 48)) as pilot:
            main = app.main
            await wait_for(pilot, lambda: main.files.files == [] and main.jobs.jobs == {})
            await pilot.pause(0.3)
            jobs = shown(main.jobs.table)
            assert "Press u to upload a training file (JSONL), then n to create a job" in jobs
            assert "Press u to check and upload a JSONL training file" in shown(main.files.table)
            assert "its events show here. Press 2 for the jobs list" in shown(main.events.log_view)
            detail = " ".join(value for _, value in main.detail.table.items)
            assert "No job selected. Press 2 for the jobs list, n to create" in detail
            # With a file uploaded, the jobs list suggests the next step instead.
            main.jobs.files_known(1)
            await pilot.pause(0.2)
            assert "Press n to create a fine-tuning job" in shown(main.jobs.table)
    finally:
        server.stop()


async def test_a_port_held_by_another_program_is_said_once_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(appmod, "PORT_RETRY_S", 0.3)
    with other_program() as port:
        profile = replace(
            resolve_profile(env={}, path=tmp_path / "none.toml"),
            base_url=f"http://127.0.0.1:{port}/v1",
            data_dir=tmp_path / "data",
        )
        client = Client.from_profile(profile, max_retries=1)
        app = FtTuiApp(client, start_server=lambda: ensure_local_server(profile, timeout=10))
        shown = record_notifications(app)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: bool(shown), what="a notification")
            await pilot.pause(2.0)  # several checks of the port meanwhile
            assert len(shown) == 1, shown
            severity, message = shown[0]
            assert severity == "error"
            assert f"127.0.0.1:{port}, the local profile's port, is in use" in message
            assert f"--base-url http://127.0.0.1:{port + 1}/v1" in message
            assert "port taken by another program" in app.sub_title
            assert not app.main.jobs.jobs  # nothing loaded from that program
        await client.aclose()
    assert not (tmp_path / "data" / "server.lock").exists()


def burst(app: FtTuiApp, *keys: str) -> None:
    """Queue keys as a fast typist's terminal delivers them: all at once, with no
    pause for the app to catch up between them (Pilot.press waits after each)."""
    for key in keys:
        char = key if len(key) == 1 else None
        app.post_message(events.Key(key, char))


async def test_keys_typed_right_after_a_drop_down_closes_are_not_lost(
    shared_seeded_server: ServerProcess,
) -> None:
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), what="form")
        form = app.screen.query_one(HyperparamForm)
        training = form.query_one("#training_file", Select)
        await wait_for(pilot, lambda: len(training._options) > 2, what="file choices")
        training.focus()
        await pilot.pause()
        # Open the list, move down to the last file, pick it; then at once: Tab to
        # the validation list, open it, pick its first file, Tab past the method to
        # n_epochs, type 12.
        burst(
            app,
            "down",
            "down",
            "down",
            "enter",
            "tab",
            "down",
            "down",
            "enter",
            "tab",
            "tab",
            "1",
            "2",
        )
        epochs = form.query_one("#n_epochs", Input)
        await wait_for(pilot, lambda: epochs.value == "12", what="n_epochs typed")
        await pilot.pause(0.2)
        assert training.value == FILE_TRAIN  # options: none, valid, train (newest first)
        assert form.query_one("#validation_file", Select).value == FILE_VALID
        assert app.focused is epochs and epochs.value == "12"
        assert visible_problem(app.screen, epochs) is None
