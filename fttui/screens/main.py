"""The main screen: files, jobs, job detail, events and plots.

At 120 columns and more the five panes sit side by side in a grid; below that
only the active pane is shown (number keys and Tab switch), so the app stays
usable at 80x24. All backend calls run in workers; a failed call becomes a
notification, and a backend that cannot be reached is shown in the header and
retried by the refresh timers until it answers again.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from functools import partial, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from fttui.api import APIConnectionError, APIError
from fttui.results import LiveMetrics
from fttui.screens.convert import event_row, file_row, job_detail, job_row
from widgets import (
    EventLog,
    EventRow,
    FileTable,
    JobRow,
    JobTable,
    KeyBar,
    KeyValueTable,
    MetricsPanel,
    QuotaBar,
)

if TYPE_CHECKING:
    from fttui.app import FtTuiApp

T = TypeVar("T")
P = ParamSpec("P")


def teardown_safe(
    func: Callable[P, Awaitable[None]],
) -> Callable[P, Coroutine[Any, Any, None]]:
    """A worker whose await returns after the screen was torn down (app quitting)
    finds its widgets gone; that is not an error worth a traceback."""

    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await func(*args, **kwargs)
        except NoMatches:
            return

    return wrapper


PANES: tuple[str, ...] = ("files", "jobs", "detail", "events", "plots")
PANE_TITLES: dict[str, str] = {
    "files": "Files",
    "jobs": "Jobs",
    "detail": "Job detail",
    "events": "Events",
    "plots": "Plots",
}
FINAL = frozenset({"succeeded", "failed", "cancelled"})

JOBS_INTERVAL = 2.0
FILES_INTERVAL = 5.0
FLUSH_INTERVAL = 0.25
PLOT_INTERVAL = 1.0
FLUSH_BATCH = 200
CATCH_UP_DELAY = 0.01
BUFFER_HIGH = 2000
WARM_DELAY = 2.0
PLOT_POINTS = 1000  # per metric, for live curves (charts draw ~2 per column)


_plot_modules_ready = False


def _preload_plot_modules(
    then: Callable[[Path], Any] | None = None, path: Path | None = None
) -> Any:
    """Import plotext and pandas (for the charts), then return `then(path)`; for a thread.

    Both are heavy (0.1-0.4 s each, plotext mostly building its own docs) and would
    block the UI thread for a whole frame if the first chart imported them; the
    main screen warms them in a thread once the first screen is up, and the workers
    that fetch plot data import them first too. Their thousands of module-level
    objects live as long as the app, so they are then frozen out of the garbage
    collector's full passes (which otherwise grow by tens of milliseconds).
    """
    global _plot_modules_ready
    if not _plot_modules_ready:
        # No collection while they load: their objects all survive, so a full pass
        # in the middle (30-60 ms, holding the GIL) would find nothing to free.
        collecting = gc.isenabled()
        gc.disable()
        try:
            import pandas  # noqa: F401
            import plotext  # noqa: F401
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
        _plot_modules_ready = True
    return then(path) if then is not None and path is not None else None


class MainScreen(Screen[None]):
    """Everything a user watches; modal screens do the rest."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pane('files')", "Files pane", show=False),
        Binding("2", "pane('jobs')", "Jobs pane", show=False),
        Binding("3", "pane('detail')", "Detail pane", show=False),
        Binding("4", "pane('events')", "Events pane", show=False),
        Binding("5", "pane('plots')", "Plots pane", show=False),
        Binding("tab", "cycle_pane(1)", "Next pane", show=False),
        Binding("shift+tab", "cycle_pane(-1)", "Previous pane", show=False),
        Binding("n", "new_job", "New job"),
        Binding("y", "clone_job", "Clone job", show=False),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("u", "upload", "Upload"),
        Binding("d", "download", "Download results"),
        Binding("t", "try_model", "Try model"),
        Binding("x", "delete", "Delete"),
        Binding("p", "preview", "Preview file", show=False),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("s", "sort", "Sort jobs", show=False),
        Binding("slash", "filter", "Filter jobs"),
        Binding("f", "toggle_follow", "Follow events", show=False),
    ]

    active_pane: reactive[str] = reactive("jobs")
    selected_job_id: reactive[str | None] = reactive(None)
    backend_ok: reactive[bool] = reactive(True)

    def __init__(self, *, live: bool = True) -> None:
        """`live=False` mounts the panes without starting timers (the app starts them)."""
        super().__init__()
        self._live = live
        self._jobs: dict[str, Any] = {}
        # Widget rows per job, rebuilt only for jobs whose data changed: the table
        # skips rows that are the same object, so a refresh of 5,000 unchanged jobs
        # costs a dictionary walk instead of 5,000 conversions.
        self._rows: dict[str, JobRow] = {}
        self._jobs_loaded = False
        self._jobs_busy = False
        self._files: list[Any] = []
        self._event_buffer: list[EventRow] = []
        self._metric_ids: set[str] = set()
        self._metrics = LiveMetrics()
        self._metrics_dirty = False
        self._plot_busy = False
        self._catch_up_scheduled = False
        self._results_loaded_for: str | None = None
        self._last_plot = 0.0
        self._detail_status: str | None = None
        self._timers_started = False
        self._pending_select: str | None = None

    @property
    def ftapp(self) -> FtTuiApp:
        return self.app  # type: ignore[return-value]

    # -- layout -----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="pane-bar")
        with Container(id="panes"):
            with Vertical(id="col-left", classes="column -active"):
                with Vertical(id="pane-files", classes="pane"):
                    yield QuotaBar(id="quota")
                    yield FileTable(id="files", classes="pane-main")
                with Vertical(id="pane-jobs", classes="pane -active"):
                    yield Input(
                        placeholder="filter jobs (Enter keeps, Esc clears)", id="job-filter"
                    )
                    yield JobTable(id="jobs", classes="pane-main")
            with Vertical(id="col-right", classes="column"):
                with Vertical(id="pane-detail", classes="pane"):
                    yield KeyValueTable(id="detail", classes="pane-main")
                with Vertical(id="pane-events", classes="pane"):
                    yield EventLog(id="events", classes="pane-main")
                with Vertical(id="pane-plots", classes="pane"):
                    yield MetricsPanel(id="plots", classes="pane-main")
        yield KeyBar()

    def on_mount(self) -> None:
        for name in PANES:
            pane = self.query_one(f"#pane-{name}")
            pane.border_title = f"{PANES.index(name) + 1} {PANE_TITLES[name]}"
        self.query_one("#job-filter", Input).display = False
        self._update_pane_bar(self.active_pane)
        self.query_one("#jobs", JobTable).focus()
        if self._live:
            self.start()

    def start(self) -> None:
        """Load everything once, then keep it fresh on timers."""
        if self._timers_started:
            return
        self._timers_started = True
        self.refresh_jobs()
        self.refresh_files()
        self.set_interval(JOBS_INTERVAL, self.refresh_jobs)
        self.set_interval(FILES_INTERVAL, self.refresh_files)
        self.set_interval(FLUSH_INTERVAL, self._flush_events)

    # -- panes ------------------------------------------------------------------
    def watch_active_pane(self, name: str) -> None:
        for pane_name in PANES:
            self.query_one(f"#pane-{pane_name}").set_class(pane_name == name, "-active")
        left = name in ("files", "jobs")
        self.query_one("#col-left").set_class(left, "-active")
        self.query_one("#col-right").set_class(not left, "-active")
        self._update_pane_bar(name)

    def _update_pane_bar(self, name: str) -> None:
        bar = "  ".join(
            f"[b reverse] {i} {PANE_TITLES[p]} [/]" if p == name else f" {i} {PANE_TITLES[p]} "
            for i, p in enumerate(PANES, start=1)
        )
        self.query_one("#pane-bar", Static).update(bar)

    def action_pane(self, name: str) -> None:
        self.active_pane = name
        self.query_one(f"#pane-{name} .pane-main").focus()

    def action_cycle_pane(self, step: int) -> None:
        index = (PANES.index(self.active_pane) + step) % len(PANES)
        self.action_pane(PANES[index])

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        node = event.widget
        while node is not None and node is not self:
            if node.has_class("pane") and node.id:
                self.active_pane = node.id.removeprefix("pane-")
                return
            node = node.parent  # type: ignore[assignment]

    # -- backend state ----------------------------------------------------------
    def watch_backend_ok(self, ok: bool) -> None:
        self.ftapp.set_backend_state(ok)

    async def call(self, what: str, make: Callable[[], Awaitable[T]]) -> T | None:
        """Run one API call; errors become notifications (and the header's state)."""
        try:
            result = await make()
        except APIConnectionError as exc:
            if self.backend_ok:
                self.notify(f"{what}: {exc}", title="backend unreachable", severity="error")
            self.backend_ok = False
            return None
        except APIError as exc:
            self.backend_ok = True
            self.notify(str(exc), title=what, severity="error", timeout=8)
            return None
        if not self.backend_ok:
            self.notify("connection restored", title="backend")
        self.backend_ok = True
        return result

    # -- jobs -------------------------------------------------------------------
    @work(group="jobs")
    @teardown_safe
    async def refresh_jobs(self, full: bool = False) -> None:
        """All jobs once, then the newest page plus any active job beyond it."""
        if self._jobs_busy:
            return
        self._jobs_busy = True
        try:
            client = self.ftapp.client
            if full or not self._jobs_loaded:

                async def load_all() -> tuple[dict[str, Any], dict[str, JobRow]]:
                    # Converted page by page as they arrive: converting 5,000 jobs
                    # after the last page blocked the UI for ~100 ms in one go.
                    jobs: dict[str, Any] = {}
                    rows: dict[str, JobRow] = {}
                    async for job in client.jobs.iter(page_size=100):
                        jobs[job.id] = job
                        rows[job.id] = job_row(job)
                    return jobs, rows

                loaded = await self.call("list jobs", load_all)
                if loaded is None:
                    return
                first = not self._jobs_loaded
                self._jobs, self._rows = loaded
                if first:
                    # Thousands of long-lived job objects would make every full
                    # garbage collection walk them (pauses of 100-400 ms at 5,000
                    # jobs); frozen objects are skipped by the collector.
                    gc.freeze()
                    # Not during the first paint: they would compete with it.
                    self.set_timer(WARM_DELAY, self._warm_plot_modules)
                self._jobs_loaded = True
            else:
                page = await self.call("list jobs", lambda: client.jobs.list(limit=100))
                if page is None:
                    return
                fresh = {job.id: job for job in page.data}
                stale = [
                    jid
                    for jid, job in self._jobs.items()
                    if jid not in fresh and job.status not in FINAL
                ]
                for jid in stale[:20]:
                    job = await self.call("refresh job", partial(client.jobs.retrieve, jid))
                    if job is not None:
                        fresh[jid] = job
                for job in fresh.values():
                    self._keep_job(job)
            self._show_jobs()
        finally:
            self._jobs_busy = False

    def _keep_job(self, job: Any) -> None:
        """Remember a job as the backend sent it; convert it only if it changed."""
        old = self._jobs.get(job.id)
        self._jobs[job.id] = job
        if old is None or old != job or job.id not in self._rows:
            row = job_row(job)
            if self._rows.get(job.id) != row:
                self._rows[job.id] = row

    def _show_jobs(self) -> None:
        table = self.query_one("#jobs", JobTable)
        if table.rows_pending and self._pending_select is None:
            # The first load is still going into the table chunk by chunk; a refresh
            # now would make every remaining chunk re-sort the table. The next
            # timer tick shows whatever changed meanwhile.
            return
        table.set_jobs(list(self._rows.values()), now=self.ftapp.now())
        if self._pending_select is not None and table.select_id(self._pending_select):
            self.selected_job_id = self._pending_select
            self._pending_select = None
        selected = table.selected_job_id
        if self.selected_job_id is None and selected is not None:
            self.selected_job_id = selected
        current = self._jobs.get(self.selected_job_id or "")
        if current is not None and current.status != self._detail_status:
            self.load_detail(current.id)

    @on(JobTable.JobSelected)
    def _job_selected(self, message: JobTable.JobSelected) -> None:
        self.selected_job_id = message.job_id

    def watch_selected_job_id(self, job_id: str | None) -> None:
        self.query_one("#events", EventLog).clear()
        self.query_one("#plots", MetricsPanel).clear()
        self._event_buffer.clear()
        self._metric_ids.clear()
        self._metrics = LiveMetrics()
        self._metrics_dirty = False
        self._results_loaded_for = None
        self._detail_status = None
        if job_id is None:
            self.query_one("#detail", KeyValueTable).set_items([])
            return
        self.follow_events(job_id)
        self.load_detail(job_id)

    @work(exclusive=True, group="detail")
    @teardown_safe
    async def load_detail(self, job_id: str) -> None:
        client = self.ftapp.client
        job = await self.call("job detail", lambda: client.jobs.retrieve(job_id))
        if job is None or job_id != self.selected_job_id:
            return
        self._keep_job(job)
        page = await self.call("checkpoints", lambda: client.jobs.checkpoints(job_id))
        checkpoints = list(page.data) if page is not None else []
        self._detail_status = job.status
        self.query_one("#detail", KeyValueTable).set_items(job_detail(job, checkpoints))
        self.query_one("#pane-detail").border_subtitle = job.status
        if job.status in FINAL and job.result_files and self._results_loaded_for != job_id:
            self.load_results(job_id, job.result_files[0])

    @work(exclusive=True, group="events")
    @teardown_safe
    async def follow_events(self, job_id: str) -> None:
        """Stream the job's events into the buffer; resume after a dropped connection.

        Restarting the follow replays events, but EventLog and the metrics buffer
        both drop ids they have seen, so nothing shows twice.
        """
        client = self.ftapp.client
        while job_id == self.selected_job_id:
            try:
                count = 0
                async for event in client.jobs.follow(job_id, poll_interval=1.0):
                    if job_id != self.selected_job_id:
                        return
                    self._event_buffer.append(event_row(event))
                    count += 1
                    if count % FLUSH_BATCH == 0:
                        # A catch-up batch (tens of thousands of events) arrives
                        # without a single await: let the UI breathe in between,
                        # and wait while the log is behind, so at most a few
                        # thousand converted events are held at a time.
                        await asyncio.sleep(0)
                        while len(self._event_buffer) > BUFFER_HIGH:
                            await asyncio.sleep(CATCH_UP_DELAY)
                            if job_id != self.selected_job_id:
                                return
                self.backend_ok = True
                return
            except APIConnectionError:
                self.backend_ok = False
            except APIError as exc:
                self.notify(str(exc), title="events", severity="error")
                return
            await asyncio.sleep(2.0)

    def _flush_events(self) -> None:
        """Move buffered events into the log (and metrics into the plots), in batches."""
        if self._event_buffer:
            # Bounded batches: a follow that starts on a job with 50,000 events hands
            # them over at once; one batch per frame keeps every frame short.
            rows = self._event_buffer[:FLUSH_BATCH]
            del self._event_buffer[:FLUSH_BATCH]
            if self._event_buffer and not self._catch_up_scheduled:
                # The next batch after a real pass of the event loop: a callback
                # queued with call_after_refresh can run in the same pass, and a
                # backlog of thousands of events then blocked for hundreds of ms.
                self._catch_up_scheduled = True
                self.set_timer(CATCH_UP_DELAY, self._catch_up)
            try:
                self.query_one("#events", EventLog).add_events(rows)
            except NoMatches:  # the app is closing
                return
            for row in rows:
                if row.type == "metrics" and row.data and row.id not in self._metric_ids:
                    self._metric_ids.add(row.id)
                    if self._metrics.add(row.data):
                        self._metrics_dirty = True
        if (
            self._metrics_dirty
            and not self._plot_busy
            and self._results_loaded_for is None
            and time.monotonic() - self._last_plot >= PLOT_INTERVAL
        ):
            self._metrics_dirty = False
            self._plot_busy = True  # one frame built at a time; later points wait
            self._last_plot = time.monotonic()
            self.plot_metrics(self._metrics.snapshot(), self.selected_job_id)

    def _catch_up(self) -> None:
        self._catch_up_scheduled = False
        self._flush_events()

    # A fixed description: by default Textual describes a worker by the repr() of
    # its arguments, and the repr of 25,000 metrics took ~20 ms of the UI thread.
    @work(exclusive=True, group="plot", thread=True, description="live metrics frame")
    def plot_metrics(self, columns: dict[str, Any], job_id: str | None) -> None:
        """Build the frame off the UI thread (the first one imports pandas and plotext)."""
        from fttui.results import frame_from_columns

        try:
            _preload_plot_modules()
            frame = frame_from_columns(columns, max_points=PLOT_POINTS)
        finally:
            self._plot_busy = False
        self.app.call_from_thread(self._show_metrics_frame, frame, job_id)

    @work(group="warm", thread=True)
    def _warm_plot_modules(self) -> None:
        """Import the chart modules in the background once the first screen is up."""
        _preload_plot_modules()

    def _show_metrics_frame(self, frame: Any, job_id: str | None) -> None:
        """Live curves, unless the selection moved or the results CSV already drew them."""
        if job_id == self.selected_job_id and self._results_loaded_for is None:
            with suppress(NoMatches):
                self.query_one("#plots", MetricsPanel).set_frame(frame)

    @work(exclusive=True, group="results")
    @teardown_safe
    async def load_results(self, job_id: str, file_id: str) -> None:
        """A finished job's curves come from its results CSV (the complete record)."""
        from fttui.results import ResultsError, read_results_csv

        client = self.ftapp.client
        with tempfile.TemporaryDirectory(prefix="fttui-") as tmp:
            path = Path(tmp) / "results.csv"
            done = await self.call("results file", lambda: client.files.download(file_id, path))
            if done is None and not path.exists():
                return
            try:
                frame = await asyncio.to_thread(_preload_plot_modules, read_results_csv, path)
            except ResultsError as exc:
                self.notify(str(exc), title="results file", severity="warning")
                return
        if job_id == self.selected_job_id:
            self._results_loaded_for = job_id
            self.query_one("#plots", MetricsPanel).set_frame(frame)

    # -- files ------------------------------------------------------------------
    @work(exclusive=True, group="files")
    @teardown_safe
    async def refresh_files(self) -> None:
        client = self.ftapp.client

        async def load_all() -> list[Any]:
            return [f async for f in client.files.iter()]

        files = await self.call("list files", load_all)
        if files is None:
            return
        self._files = files
        self.query_one("#files", FileTable).set_files([file_row(f) for f in files])
        usage = await self.call("usage", client.usage)
        quota = self.query_one("#quota", QuotaBar)
        if usage is not None:
            quota.used = usage.used_bytes
            quota.limit = usage.limit_bytes
        else:
            quota.used = sum(int(f.bytes or 0) for f in files)
            quota.limit = None

    # -- helpers for actions ----------------------------------------------------
    def selected_job(self) -> Any | None:
        job_id = self.selected_job_id
        if job_id is None:
            self.notify("select a job first (2 or Tab to the jobs pane)", severity="warning")
            return None
        return self._jobs.get(job_id)

    def selected_file_id(self) -> str | None:
        return self.query_one("#files", FileTable).selected_file_id

    # -- actions ----------------------------------------------------------------
    def action_refresh(self) -> None:
        self.refresh_jobs(full=True)
        self.refresh_files()
        if self.selected_job_id:
            self.load_detail(self.selected_job_id)

    def action_sort(self) -> None:
        self.query_one("#jobs", JobTable).action_cycle_sort()

    def action_filter(self) -> None:
        self.action_pane("jobs")
        box = self.query_one("#job-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#job-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one("#jobs", JobTable).filter_text = event.value

    @on(Input.Submitted, "#job-filter")
    def _filter_done(self) -> None:
        box = self.query_one("#job-filter", Input)
        box.display = bool(box.value)
        self.query_one("#jobs", JobTable).focus()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#job-filter", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            self.query_one("#jobs", JobTable).focus()
            event.stop()

    def action_toggle_follow(self) -> None:
        log = self.query_one("#events", EventLog)
        log.follow = not log.follow
        self.notify(f"follow {'on' if log.follow else 'off'}", timeout=2)

    def action_new_job(self) -> None:
        from fttui.screens.job_form import JobFormScreen

        self.app.push_screen(
            JobFormScreen(self.ftapp.client, org=self.ftapp.org), self._job_created
        )

    def action_clone_job(self) -> None:
        from fttui.screens.job_form import JobFormScreen

        job = self.selected_job()
        if job is None:
            return
        screen = JobFormScreen(self.ftapp.client, org=self.ftapp.org, clone_from=job)
        self.app.push_screen(screen, self._job_created)

    def _job_created(self, job_id: str | None) -> None:
        if job_id:
            self.notify(f"created {job_id}", title="new job")
            self._pending_select = job_id
            self.refresh_jobs(full=False)

    def action_cancel_job(self) -> None:
        from widgets import ConfirmDialog

        job = self.selected_job()
        if job is None:
            return
        if job.status in FINAL:
            self.notify(f"{job.id} is already {job.status}", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._cancel(job.id)

        self.app.push_screen(
            ConfirmDialog(f"Cancel job {job.id}?", f"model {job.model}, status {job.status}"),
            confirmed,
        )

    @work(group="actions")
    @teardown_safe
    async def _cancel(self, job_id: str) -> None:
        job = await self.call("cancel", lambda: self.ftapp.client.jobs.cancel(job_id))
        if job is not None:
            self._keep_job(job)
            self.notify(f"{job_id}: {job.status}", title="cancel")
            self._show_jobs()
            self.load_detail(job_id)

    def action_upload(self) -> None:
        from fttui.screens.upload import UploadScreen

        def uploaded(file_id: str | None) -> None:
            if file_id:
                self.refresh_files()

        self.app.push_screen(UploadScreen(self.ftapp.client), uploaded)

    def action_download(self) -> None:
        from fttui.screens.download import DownloadScreen

        job = self.selected_job()
        if job is None:
            return
        if not job.result_files:
            self.notify(f"{job.id} has no results file yet ({job.status})", severity="warning")
            return
        self.app.push_screen(DownloadScreen(self.ftapp.client, job.id, job.result_files[0]))

    def action_try_model(self) -> None:
        from fttui.screens.try_model import TryModelScreen

        job = self.selected_job()
        model = job.fine_tuned_model if job is not None else None
        if job is None:
            return
        if not model:
            self.notify(
                f"{job.id} has no fine-tuned model yet; trying its base model {job.model}",
                severity="warning",
            )
        self.app.push_screen(
            TryModelScreen(self.ftapp.client, model or job.model, training_file=job.training_file)
        )

    def action_preview(self) -> None:
        from fttui.screens.preview import PreviewScreen

        file_id = self.selected_file_id()
        if file_id is None:
            self.notify("select a file first (1 for the files pane)", severity="warning")
            return
        self.app.push_screen(PreviewScreen(self.ftapp.client, file_id))

    def action_delete(self) -> None:
        """`x` deletes what the active pane shows: a file, or a job's fine-tuned model."""
        from widgets import ConfirmDialog

        if self.active_pane == "files":
            file_id = self.selected_file_id()
            if file_id is None:
                self.notify("no file selected", severity="warning")
                return

            def delete_file(yes: bool | None) -> None:
                if yes:
                    self._delete_file(file_id)

            self.app.push_screen(
                ConfirmDialog(f"Delete file {file_id}?", "Its bytes are removed."), delete_file
            )
            return
        job = self.selected_job()
        if job is None:
            return
        model = job.fine_tuned_model
        if not model:
            self.notify(f"{job.id} has no fine-tuned model to delete", severity="warning")
            return

        def delete_model(yes: bool | None) -> None:
            if yes:
                self._delete_model(model)

        self.app.push_screen(
            ConfirmDialog(f"Delete model {model}?", "It can no longer be used or continued."),
            delete_model,
        )

    @work(group="actions")
    @teardown_safe
    async def _delete_file(self, file_id: str) -> None:
        if await self.call("delete file", lambda: self.ftapp.client.files.delete(file_id)):
            self.notify(f"deleted {file_id}", title="files")
            self.refresh_files()

    @work(group="actions")
    @teardown_safe
    async def _delete_model(self, model: str) -> None:
        if await self.call("delete model", lambda: self.ftapp.client.models.delete(model)):
            self.notify(f"deleted {model}", title="models")
