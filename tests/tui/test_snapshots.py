"""Snapshots of each main screen at 80x24 and 160x48, against the seeded server.

The seeded world has fixed ids and times, only finished jobs, and the app's clock is
frozen (`frozen_now`), so a snapshot changes only when the UI does. Regenerate with
`pytest tests/tui/test_snapshots.py --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ServerProcess
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select

from fttui.screens.job_form import JobFormScreen
from fttui.screens.try_model import TryModelScreen
from fttui.screens.upload import UploadScreen
from widgets import EventLog, FileTable, HyperparamForm, JobTable, KeyValueTable, MetricsPanel

from .conftest import make_app, wait_for

REVIEWS = Path(__file__).parent / "data" / "reviews.jsonl"


async def settled(pilot: Pilot[Any]) -> None:
    """Everything the seeded world shows has arrived and been drawn."""
    main = pilot.app.main  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: len(main.query_one(JobTable).jobs) == 3, what="jobs")
    await wait_for(pilot, lambda: len(main.query_one(FileTable).files) == 3, what="files")
    await wait_for(pilot, lambda: len(main.query_one(KeyValueTable).items) > 10, what="detail")
    await wait_for(pilot, lambda: len(main.query_one(EventLog).lines) == 10, what="events")
    plots = main.query_one(MetricsPanel)
    await wait_for(
        pilot,
        lambda: len(plots.loss_plot.series.get("training_loss", ([], []))[0]) == 24,
        what="results curves",
    )
    files = main.query_one(FileTable)
    await wait_for(pilot, lambda: files.rows_pending == 0, what="rows")
    # Column widths follow the content once every row is measured.
    id_column = files.columns["id"]  # measured even while hidden
    await wait_for(pilot, lambda: id_column.width >= 29, what="id column width")
    await pilot.pause(0.3)


async def steady(pilot: Pilot[Any]) -> None:
    """No blinking cursors: a snapshot must not depend on when it is taken."""
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False  # type: ignore[attr-defined]
    pilot.app.clear_notifications()  # toasts fade in: their colours depend on timing
    await pilot.pause(0.3)


def keys(*presses: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        await pilot.press(*presses)
        await steady(pilot)

    return run


async def open_form(pilot: Pilot[Any]) -> None:
    await settled(pilot)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, JobFormScreen), what="form")
    form = pilot.app.screen.query_one(HyperparamForm)
    select = form.query_one("#training_file", Select)
    await wait_for(pilot, lambda: len(select._options) > 2, what="choices")
    form.query_one("#model", Select).value = "davinci"
    form.query_one("#suffix", Input).value = "reviews v2"
    form.query_one("#n_epochs", Input).value = "0"
    await pilot.press("ctrl+s")  # shows the n_epochs error next to its field
    await steady(pilot)


async def open_upload(pilot: Pilot[Any]) -> None:
    await settled(pilot)
    await pilot.press("u")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, UploadScreen), what="upload")
    screen = pilot.app.screen
    screen.query_one("#upload-path", Input).value = str(REVIEWS.relative_to(Path.cwd()))
    await pilot.press("enter")
    go = screen.query_one("#upload-go", Button)
    await wait_for(pilot, lambda: not go.disabled, timeout=30, what="report")
    await steady(pilot)


async def open_try(pilot: Pilot[Any]) -> None:
    await settled(pilot)
    await pilot.press("t")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, TryModelScreen), what="try")
    sep = pilot.app.screen.query_one("#try-separator", Input)
    await wait_for(pilot, lambda: sep.value != "", timeout=30, what="separator")
    await steady(pilot)


CASES: dict[str, tuple[tuple[int, int], Callable[[Pilot[Any]], Awaitable[None]]]] = {
    "main_wide": ((160, 48), settled),
    "main_narrow_jobs": ((80, 24), settled),
    "main_narrow_files": ((80, 24), keys("1")),
    "main_narrow_detail": ((80, 24), keys("3")),
    "main_narrow_events": ((80, 24), keys("4")),
    "main_narrow_plots": ((80, 24), keys("5")),
    "help_narrow": ((80, 24), keys("question_mark")),
    "form_wide": ((160, 48), open_form),
    "form_narrow": ((80, 24), open_form),
    "upload_narrow": ((80, 24), open_upload),
    "try_narrow": ((80, 24), open_try),
}


@pytest.mark.parametrize("case", list(CASES))
def test_screen(case: str, shared_seeded_server: ServerProcess, snap_compare: Any) -> None:
    size, before = CASES[case]
    app = make_app(shared_seeded_server)
    assert snap_compare(app, terminal_size=size, run_before=before)
