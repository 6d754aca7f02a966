"""Every widget that shows backend or file text draws control sequences as text.

The strings carry what a hostile backend would send (CSI clear screen, OSC 0 title,
OSC 52 clipboard, 8-bit CSI, a bidi override, Rich/Textual markup); the check reads
the exact characters Textual would write to the terminal for the whole screen.
"""

from __future__ import annotations

import pandas as pd
from textual.app import App, ComposeResult
from textual.widgets import Select

from fttui.core.safe_text import UNSAFE
from widgets import (
    ConfirmDialog,
    EventLog,
    EventRow,
    FileRow,
    FileTable,
    HyperparamForm,
    JobRow,
    JobTable,
    KeyValueTable,
    MetricsPanel,
    TransferProgress,
)

EVIL = "\x1b[2J\x1b]0;TITLE\x07\x1b]52;c;Q0xJUA==\x07\x9b6n\u202eRLO[reverse]MK[/reverse]"
RAW = ("\x1b[2J", "\x1b]0;", "\x1b]52;", "\x07", "\x9b", "\u202e")
SHOWN = "\\x1b[2J\\x1b]0;TITLE\\x07\\x1b]52;c;Q0xJUA==\\x07\\x9b6n\\u202eRLO[reverse]MK[/reverse]"


def screen_output(app: App[object]) -> str:
    """What Textual writes to the terminal to draw the whole current screen."""
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


def assert_safe(output: str, *, shown: tuple[str, ...] = (SHOWN,)) -> None:
    for raw in RAW:
        assert raw not in output, f"{raw!r} reached the terminal"
    for text in shown:
        assert text in output, f"{text!r} not drawn; output:\n{UNSAFE.sub('?', output)[:3000]}"


class Panes(App[None]):
    def compose(self) -> ComposeResult:
        yield FileTable(id="files")
        yield JobTable(id="jobs")
        yield EventLog(id="events")
        yield KeyValueTable(id="detail")
        yield TransferProgress(EVIL, id="progress")


async def test_tables_log_detail_and_progress_show_controls_as_text() -> None:
    app = Panes()
    async with app.run_test(size=(220, 60)) as pilot:
        app.query_one(FileTable).set_files([FileRow(f"file-{EVIL}", EVIL, 10, "fine-tune", 0, "")])
        app.query_one(FileTable).show_column("id")  # shown on `i`; the name leads
        app.query_one(JobTable).set_jobs(
            [JobRow(f"ftjob-{EVIL}", "failed", EVIL, f"m:{EVIL}", 0, 5, None, 3, EVIL)], now=10
        )
        app.query_one(EventLog).add_events(
            [
                EventRow("ev-1", 0, "error", f"first {EVIL}\n\tsecond line {EVIL}"),
                EventRow("ev-2", 0, "info", "", "metrics", {EVIL: 1.0}),
            ]
        )
        app.query_one(KeyValueTable).set_items([(EVIL, f"line {EVIL}\nnext {EVIL}")])
        await pilot.pause()
        output = screen_output(app)
        # The jobs list fits its width: suffix, model and fine-tuned model are cut
        # short ("…") before the id is; cut or whole, controls are text.
        assert_safe(output, shown=(SHOWN, f"file-{SHOWN}", f"ftjob-{SHOWN}", "second line"))
        assert output.count(SHOWN) >= 7  # each whole table cell, log line, detail pair


async def test_confirm_dialog_quotes_names_as_text() -> None:
    app: App[None] = App()
    async with app.run_test(size=(200, 30)) as pilot:
        app.push_screen(ConfirmDialog(f"Delete file {EVIL}?", f"name {EVIL}"))
        await pilot.pause()
        assert_safe(screen_output(app))


class Plots(App[None]):
    def compose(self) -> ComposeResult:
        yield MetricsPanel()


async def test_plot_legend_from_a_results_header_is_text() -> None:
    app = Plots()
    async with app.run_test(size=(200, 40)) as pilot:
        frame = pd.DataFrame({"step": [1, 2, 3], f"classification/{EVIL}": [0.1, 0.5, 0.9]})
        app.query_one(MetricsPanel).set_frame(frame)
        await pilot.pause()
        assert_safe(screen_output(app), shown=("\\x1b[2J\\x1b]0;TITLE",))


class Form(App[None]):
    def compose(self) -> ComposeResult:
        yield HyperparamForm()


async def test_job_form_choices_values_and_server_error_are_text() -> None:
    app = Form()
    async with app.run_test(size=(200, 60)) as pilot:
        form = app.query_one(HyperparamForm)
        form.set_models([f"model-{EVIL}"])
        form.set_files([(f"{EVIL} (file-1)", "file-1")])
        form.load({"model": f"model-{EVIL}", "training_file": "file-1", "suffix": EVIL})
        form.show_server_error(f"refused: {EVIL}")
        await pilot.pause()
        assert_safe(screen_output(app), shown=(f"refused: {SHOWN}", f"model-{SHOWN}"))
        # The value sent back is the backend's own id; only what is drawn changed.
        assert app.query_one("#model", Select).value == f"model-{EVIL}"
        assert form.values()["model"] == f"model-{EVIL}"
        # A pre-filled input holds what will be sent: the safe text, no raw controls.
        assert UNSAFE.search(form.values()["suffix"]) is None
        # The file choice's prompt, opened as the user would see it.
        app.query_one("#training_file", Select).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert_safe(screen_output(app), shown=(f"{SHOWN} (file-1)",))
