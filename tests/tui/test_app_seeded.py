"""The app against a real server holding known files and finished jobs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
from conftest import ServerProcess
from rich.console import Console

from fttui.app import FtTuiApp
from fttui.screens.download import DownloadScreen
from fttui.screens.help import HelpScreen
from fttui.screens.main import MainScreen
from widgets import (
    ConfirmDialog,
    EventLog,
    FileTable,
    JobTable,
    KeyValueTable,
    MetricsPanel,
    PathInput,
    QuotaBar,
)

from .conftest import make_app, wait_for
from .seed import FILE_RESULTS, FILE_TRAIN, JOB_FAILED, JOB_OK


def _main(app: object) -> MainScreen:
    return app.main  # type: ignore[attr-defined,no-any-return]


async def _loaded(pilot: object, app: object) -> MainScreen:
    main = _main(app)
    await wait_for(pilot, lambda: len(main.query_one(JobTable).jobs) == 3, what="3 jobs")
    await wait_for(pilot, lambda: len(main.query_one(FileTable).files) == 3, what="3 files")
    await wait_for(pilot, lambda: main.query_one(MetricsPanel).loss_plot.has_data, what="plot")
    return main


async def test_panes_show_the_backend_state(shared_seeded_server: ServerProcess) -> None:
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(160, 48)) as pilot:
        main = await _loaded(pilot, app)
        jobs = main.query_one(JobTable)
        assert jobs.selected_job_id == JOB_OK
        # The detail pane shows the resolved hyperparameters and the model name.
        await wait_for(pilot, lambda: bool(main.query_one(KeyValueTable).items), what="detail")
        detail = dict(main.query_one(KeyValueTable).items)
        assert detail["fine-tuned model"] == "davinci:ft-local:reviews-2026-11-19-11-46-40"
        assert detail["batch_size"] == "2" and detail["n_epochs"] == "4"
        assert detail["result files"] == f'["{FILE_RESULTS}"]'
        # Events of the selected job, in order; plots from its results CSV (24 steps).
        log = main.query_one(EventLog)
        await wait_for(pilot, lambda: any("successfully completed" in ln for ln in log.lines))
        assert "Validating training file" in log.lines[0]
        loss = main.query_one(MetricsPanel).loss_plot.series
        plots = main.query_one(MetricsPanel)
        await wait_for(pilot, lambda: len(plots.loss_plot.series["training_loss"][0]) == 24)
        loss = plots.loss_plot.series
        assert len(loss["validation_loss"][0]) == 6
        # Quota: the server's byte count against its 1 GB limit.
        usage = httpx.get(f"{shared_seeded_server.base_url}/fttui/usage").json()
        quota = main.query_one(QuotaBar)
        await wait_for(pilot, lambda: quota.used == usage["used_bytes"], what="quota")
        assert quota.limit == 1_000_000_000
        assert "local · 127.0.0.1 · local" in app.sub_title


async def test_selecting_the_failed_job_shows_its_error(
    shared_seeded_server: ServerProcess,
) -> None:
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(160, 48)) as pilot:
        main = await _loaded(pilot, app)
        await pilot.press("j")
        await wait_for(pilot, lambda: main.selected_job_id == JOB_FAILED, what="selection")
        await wait_for(
            pilot,
            lambda: dict(main.query_one(KeyValueTable).items).get("error", "").startswith("line 3"),
            what="error in detail",
        )
        log = main.query_one(EventLog)
        await wait_for(pilot, lambda: any("does not start with a space" in ln for ln in log.lines))
        assert not any("successfully" in ln for ln in log.lines)


async def test_filter_sort_and_narrow_panes(shared_seeded_server: ServerProcess) -> None:
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(80, 24)) as pilot:
        main = await _loaded(pilot, app)
        jobs = main.query_one(JobTable)
        await pilot.press("slash", *"failed", "enter")
        await wait_for(pilot, lambda: jobs.row_count == 1, what="filtered to one job")
        assert jobs.selected_job_id == JOB_FAILED
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: jobs.row_count == 3, what="filter cleared")
        # At 80 columns one pane shows at a time; number keys and Tab switch.
        await pilot.press("4")
        assert main.active_pane == "events"
        assert main.query_one("#pane-events").display and not main.query_one("#pane-jobs").display
        assert isinstance(app.focused, EventLog)
        await pilot.press("tab")
        assert main.active_pane == "plots"
        await pilot.press("shift+tab", "shift+tab")
        assert main.active_pane == "detail"


async def test_download_results_to_a_chosen_path(
    shared_seeded_server: ServerProcess, tmp_path: Path
) -> None:
    app = make_app(shared_seeded_server)
    target = tmp_path / "out" / "my-results.csv"
    target.parent.mkdir()
    async with app.run_test(size=(160, 48)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DownloadScreen), what="dialog")
        box = app.screen.query_one(PathInput)
        box.value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists, what="file written")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="dialog closed")
    served = httpx.get(f"{shared_seeded_server.base_url}/files/{FILE_RESULTS}/content").content
    assert target.read_bytes() == served
    assert target.read_text().startswith("step,elapsed_tokens")


async def test_delete_file_asks_first(seeded_server: ServerProcess) -> None:
    app = make_app(seeded_server)
    async with app.run_test(size=(160, 48)) as pilot:
        main = await _loaded(pilot, app)
        await pilot.press("1")
        files = main.files.table
        # Newest first: the training file is the oldest of the three, at the bottom.
        assert files.row_ids()[-1] == FILE_TRAIN
        await pilot.press("G")
        assert files.selected_file_id == FILE_TRAIN
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
        await pilot.press("n")  # no: nothing happens
        await pilot.pause(0.3)
        assert httpx.get(f"{seeded_server.base_url}/files/{FILE_TRAIN}").status_code == 200
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: FILE_TRAIN not in files.files, what="file gone")
    assert httpx.get(f"{seeded_server.base_url}/files/{FILE_TRAIN}").status_code == 404


def _help_lines(app: FtTuiApp) -> list[str]:
    """The help table as a terminal shows it: rendered to plain text at its width."""
    assert isinstance(app.screen, HelpScreen)
    static = app.screen.keys_view
    out = Console(width=static.size.width, file=io.StringIO(), color_system=None)
    out.print(static.content)
    return out.file.getvalue().splitlines()  # type: ignore[attr-defined]


async def test_help_lists_every_key_and_palette_runs_actions(
    shared_seeded_server: ServerProcess,
) -> None:
    app = make_app(shared_seeded_server)
    async with app.run_test(size=(120, 60)) as pilot:
        main = await _loaded(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        lines = _help_lines(app)

        def listed(key: str, description: str) -> bool:
            # Columns sit side by side: a key and its description, between column gaps.
            pattern = rf"(^|\s\s){re.escape(key)}\s+{re.escape(description)}(\s\s|\s*$)"
            return any(re.search(pattern, line) for line in lines)

        # Each key with what it does, on one line, as a user reads it.
        for key, description in [
            ("q", "Quit"),
            ("?", "Keys"),
            ("c", "Cancel job"),
            ("n", "New job"),
            ("/", "Filter jobs"),
            ("u", "Upload"),
            ("x", "Delete"),
            ("1-5", "Files/Jobs/Detail/Events/Plots"),
            ("tab", "Next pane"),
            ("space", "Mark job to compare"),  # the jobs list's own key
            ("f", "Follow events"),
            ("m", "Smooth curves"),  # the plots'
        ]:
            assert listed(key, description), (key, description, lines)
        assert not listed("c", "Quit")
        # Sections named after the panes whose lists answer those keys.
        for title in ("Jobs", "Events", "Plots", "Files", "Lists"):
            assert any(re.search(rf"(^|\s\s){title}(\s\s|\s*$)", ln) for ln in lines), title
        await pilot.press("escape")
        assert app.screen is main
        # The command palette finds an action by name and runs it.
        await pilot.press("ctrl+p")
        await pilot.press(*"download results")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DownloadScreen), what="palette")


async def test_backend_down_is_shown_and_recovers(seeded_server: ServerProcess) -> None:
    app = make_app(seeded_server)
    async with app.run_test(size=(160, 48)) as pilot:
        main = await _loaded(pilot, app)
        seeded_server.stop(kill=True)
        await wait_for(pilot, lambda: not app.backend_ok, timeout=30, what="down noticed")
        assert "unreachable" in app.sub_title
        seeded_server.start()
        await wait_for(pilot, lambda: app.backend_ok, timeout=30, what="recovered")
        assert "unreachable" not in app.sub_title
        assert len(main.query_one(JobTable).jobs) == 3
