"""Marks, filter, sort, selected job, pane and plot views survive a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ServerProcess

from fttui.app import FtTuiApp
from fttui.ui_state import load_state, state_path
from widgets import FileTable, JobTable, MetricsPanel

from .conftest import make_app, wait_for
from .seed import JOB_CANCELLED, JOB_FAILED, JOB_OK


def _app(server: ServerProcess, path: Path) -> FtTuiApp:
    app = make_app(server)
    app._state_path = path  # what `run` passes: the profile's state file
    return app


async def _jobs_in(pilot: object, app: FtTuiApp) -> JobTable:
    table = app.main.query_one(JobTable)
    await wait_for(pilot, lambda: len(table.jobs) == 3, what="3 jobs")
    return table


async def test_the_screen_comes_back_as_it_was_left(
    shared_seeded_server: ServerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "state" / "local.json"
    app = _app(shared_seeded_server, path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _jobs_in(pilot, app)
        await wait_for(pilot, lambda: app.main.selected_job_id == JOB_OK, what="selection")
        await pilot.press("space", "j", "space")  # mark two jobs: they are compared
        await wait_for(pilot, lambda: app.main.plots.comparing != [], what="comparison")
        await pilot.press("j")  # the cursor on the third
        await wait_for(pilot, lambda: app.main.selected_job_id == JOB_CANCELLED)
        await pilot.press("s", "S")  # sorted by another column, reversed
        sort = (table.sort_key, table.sort_reverse)
        assert sort != ("created", True)
        await pilot.press("slash", *"ftjob-0", "enter")  # a filter every job matches
        await pilot.press("1", "i")  # the files pane, with the ids shown
        assert app.main.query_one(FileTable).ids_shown
        await pilot.press("5", "l")  # the plots, on a log scale
        assert app.main.query_one(MetricsPanel).log_y
        await pilot.press("q")
    saved, problem = load_state(path)
    assert problem is None and saved["marks"] == [JOB_OK, JOB_FAILED]

    app = _app(shared_seeded_server, path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _jobs_in(pilot, app)
        main = app.main
        await wait_for(pilot, lambda: main.selected_job_id == JOB_CANCELLED, what="selection")
        assert list(table.marked) == [JOB_OK, JOB_FAILED]
        await wait_for(pilot, lambda: len(main.plots.comparing) == 2, what="comparison back")
        assert (table.sort_key, table.sort_reverse) == sort
        assert table.filter_text == "ftjob-0" and main.jobs.filter_box.value == "ftjob-0"
        assert main.active_pane == "plots" and main.query_one(MetricsPanel).log_y
        assert main.query_one(FileTable).ids_shown


async def test_a_broken_state_file_is_said_and_the_app_starts_as_new(
    shared_seeded_server: ServerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "local.json"
    path.write_text('{"version": 1, "marks": [\n')
    app = _app(shared_seeded_server, path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _jobs_in(pilot, app)
        await wait_for(
            pilot,
            lambda: any("line 2: not JSON" in str(n.message) for n in app._notifications),
            what="the warning",
        )
        assert table.selected_job_id == JOB_OK and not table.marked
        await pilot.press("q")
    assert json.loads(path.read_text())["marks"] == []  # rewritten whole


def test_each_profile_has_its_own_state_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FTTUI_CONFIG_DIR", str(tmp_path))
    assert state_path("local") == tmp_path / "state" / "local.json"
    assert state_path("together") != state_path("local")
    assert state_path("../evil").parent == tmp_path / "state"
