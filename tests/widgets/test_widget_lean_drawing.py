"""What the widgets send to the terminal: nothing when nothing changed, little when
little changed (a slow SSH link carries every byte; benchmarks/tui_bytes.py has the
figures for the whole app).

`Recorder` keeps the screen lines each frame writes (the compositor's updates as
Textual hands them to its driver), so a test can say which lines were redrawn.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from test_widget_job_table import NOW, job
from textual._compositor import ChopsUpdate, LayoutUpdate
from textual.containers import Horizontal
from textual.widget import Widget
from widget_host import Host

from widgets import EventLog, EventRow, JobTable, MetricPlot


async def settled(pilot: Any, app: Recorder, table: JobTable | None = None) -> None:
    """Rows measured (chunk by chunk; a chunk may widen a column) and the first
    frames written: nothing written for 0.2 s, then forget what was."""
    while table is not None and table.rows_pending:
        await pilot.pause(0.02)
    quiet = 0
    while quiet < 4:
        app.written.clear()
        await pilot.pause(0.05)
        quiet = 0 if app.written else quiet + 1
    app.written.clear()


class Recorder(Host):
    """A Host that records the screen lines every frame writes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written: list[tuple[int, int, int]] = []  # (line, first column, end column)

    def _display(self, screen: Any, renderable: Any) -> None:
        if isinstance(renderable, ChopsUpdate):
            self.written.extend(renderable.spans)
        elif isinstance(renderable, LayoutUpdate):
            r = renderable.region
            self.written.extend((y, r.x, r.right) for y in range(r.y, r.bottom))
        super()._display(screen, renderable)

    def lines(self) -> set[int]:
        """Screen lines written since the last call."""
        out = {y for y, _, _ in self.written}
        self.written.clear()
        return out


async def test_a_refresh_that_changes_nothing_writes_nothing() -> None:
    app = Recorder(lambda: [JobTable()])
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(JobTable)
        rows = [job(n) for n in range(200)]
        table.set_jobs(rows, now=NOW)
        await settled(pilot, app, table)
        for _ in range(3):  # the app's 2 s refresh, three times over
            table.set_jobs([dataclasses.replace(r) for r in rows], now=NOW)
            await pilot.pause()
        assert app.lines() == set()


async def test_a_changed_row_redraws_that_row_only() -> None:
    app = Recorder(lambda: [JobTable()])
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(JobTable)
        rows = [job(n) for n in range(200)]
        table.set_jobs(rows, now=NOW)
        await settled(pilot, app, table)
        index = table.row_ids().index("ftjob-00195")
        rows[195] = job(195, status="failed")
        table.set_jobs(rows, now=NOW)
        await pilot.pause()
        assert app.lines() == {table.region.y + 1 + index}  # under the header line
        # A running job's clock cell ticks: its row alone, each time.
        rows[196] = job(196, status="running")
        table.set_jobs(rows, now=NOW)
        await settled(pilot, app)
        table.set_jobs(rows, now=NOW + 61)
        await pilot.pause()
        assert app.lines() == {table.region.y + 1 + table.row_ids().index("ftjob-00196")}


async def test_a_growing_event_log_leaves_other_widgets_alone() -> None:
    """The log's new size used to lay the whole screen out, and every table's
    scrollbars were redrawn with each event."""

    def make() -> list[Widget]:
        return [Horizontal(JobTable(), EventLog())]

    app = Recorder(make)
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(JobTable)
        log = app.query_one(EventLog)
        table.set_jobs([job(n) for n in range(200)], now=NOW)  # scrollbars both ways
        log.add_events(EventRow(f"e{i}", NOW + i, "info", f"line {i}") for i in range(50))
        await settled(pilot, app, table)
        for i in range(50, 55):
            log.add_events([EventRow(f"e{i}", NOW + i, "info", f"line {i}")])
            await pilot.pause()
        assert app.written  # the log scrolled
        # Side by side: no write reached the table's columns (nor its scrollbars).
        assert table.region.right <= log.region.x
        assert all(x1 >= log.region.x for _, x1, _ in app.written), app.written
        assert "line 54" in "\n".join(log.lines)


async def test_a_new_point_on_a_live_chart_redraws_a_few_lines() -> None:
    app = Recorder(lambda: [MetricPlot("Loss")])
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(MetricPlot)

        def show(count: int) -> None:
            steps = list(range(1, count + 1))
            plot.set_series(
                {"training_loss": (steps, [3.0 / (1 + s / 20) for s in steps])},
                "Loss",
                x_max=500,  # the job's total steps
            )

        show(30)
        await settled(pilot, app)
        for count in range(31, 36):
            show(count)
            await pilot.pause()
            written = app.lines()
            assert 1 <= len(written) <= 5, (count, sorted(written))
            assert 1 in written  # the legend's latest value
