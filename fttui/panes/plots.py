"""The Plots pane: loss, accuracy and classification curves of the selected job."""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult

from fttui.api import FINAL_JOB_STATUSES, FineTuningJob
from fttui.panes.base import Pane
from fttui.panes.convert import job_epochs, job_suffix
from fttui.results import LiveMetrics
from widgets import EventRow, MetricsPanel

#: A comparison that includes an active job is reloaded this often.
COMPARE_INTERVAL = 10.0
#: At most this many events are read to draw one compared job from its metrics.
COMPARE_EVENTS = 20_000
#: Live curves are rebuilt at most this often (each rebuild redraws the lines the
#: new points touch; the events pane hands points over every few seconds anyway).
PLOT_INTERVAL = 2.0
PLOT_POINTS = 1000  # per metric, for live curves (charts draw ~2 per column)

_plot_modules_ready = False


def preload_plot_modules(
    then: Callable[[Path], Any] | None = None, path: Path | None = None
) -> Any:
    """Import plotext and pandas (for the charts), then return `then(path)`; for a thread.

    Both are heavy (0.1-0.4 s each, plotext mostly building its own docs) and would
    block the UI thread for a whole frame if the first chart imported them; the
    pane warms them in a thread once the first screen is up, and the workers that
    fetch plot data import them first too. Their thousands of module-level objects
    live as long as the app, so they are then frozen out of the garbage
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


def _frame_from_metrics(build: Callable[[Any], Any], data: list[Any]) -> Any:
    preload_plot_modules()
    return build(data)


def compare_labels(jobs: Sequence[FineTuningJob]) -> list[str]:
    """What the legend calls each compared job: its suffix when that tells it apart,
    else the end of its id (with the suffix, if any, in front)."""
    suffixes = [job_suffix(j) for j in jobs]
    labels = []
    for job, suffix in zip(jobs, suffixes, strict=True):
        if suffix and suffixes.count(suffix) == 1:
            labels.append(str(suffix))
        else:
            tail = "…" + str(job.id)[-6:]
            labels.append(f"{suffix} {tail}" if suffix else tail)
    return labels


class PlotsPane(Pane):
    """Live curves from the metrics events the events pane passes on (`add_events`),
    then, once the job is finished, the curves of its results CSV (the complete
    record), which replace them."""

    NAME: ClassVar[str] = "plots"
    TITLE: ClassVar[str] = "Plots"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job_id: str | None = None
        self._metric_ids: set[str] = set()
        self._metrics = LiveMetrics()
        self._dirty = False
        self._busy = False
        self._results_for: str | None = None
        self._last_plot = 0.0
        self._started = False
        #: The jobs shown side by side (empty: the selected job alone).
        self.comparing: list[FineTuningJob] = []

    def compose(self) -> ComposeResult:
        self.panel = MetricsPanel(classes="pane-main")
        yield self.panel

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.set_interval(PLOT_INTERVAL / 4, self._maybe_plot)
            self.set_interval(COMPARE_INTERVAL, self._refresh_comparison)

    def warm(self, after: float = 0.0) -> None:
        """Import the chart modules in a thread, `after` seconds from now."""
        self.set_timer(after, self._warm)

    @work(group="warm", thread=True)
    def _warm(self) -> None:
        preload_plot_modules()

    # -- one job --------------------------------------------------------------------
    def show(self, job_id: str | None) -> None:
        """Plot another job (None: nothing)."""
        self.job_id = job_id
        self.panel.clear()
        self.panel.set_epochs(None)
        self._metric_ids.clear()
        self._metrics = LiveMetrics()
        self._dirty = False
        self._results_for = None

    def add_events(self, job_id: str, rows: Sequence[EventRow]) -> None:
        """Fold the metrics among these events into the live curves."""
        if job_id != self.job_id or self.comparing:
            return
        for row in rows:
            if row.type == "metrics" and row.data and row.id not in self._metric_ids:
                self._metric_ids.add(row.id)
                if self._metrics.add(row.data):
                    self._dirty = True

    def job_updated(self, job: FineTuningJob) -> None:
        """The job's epochs are marked; a finished job's curves come from its results
        CSV, once."""
        if not self.comparing and job.id == self.job_id:
            self.panel.set_epochs(job_epochs(job))
        if (
            not self.comparing
            and job.id == self.job_id
            and job.status in FINAL_JOB_STATUSES
            and job.result_files
            and self._results_for != job.id
        ):
            self.load_results(job.id, job.result_files[0])

    def _maybe_plot(self) -> None:
        if (
            not self.comparing
            and self._dirty
            and not self._busy
            and self._results_for is None
            and time.monotonic() - self._last_plot >= PLOT_INTERVAL
        ):
            self._dirty = False
            self._busy = True  # one frame built at a time; later points wait
            self._last_plot = time.monotonic()
            self._plot_live(self._metrics.snapshot(), self.job_id)

    # A fixed description: by default Textual describes a worker by the repr() of
    # its arguments, and the repr of 25,000 metrics took ~20 ms of the UI thread.
    @work(exclusive=True, group="plot", thread=True, description="live metrics frame")
    def _plot_live(self, columns: dict[str, Any], job_id: str | None) -> None:
        """Build the frame off the UI thread (the first one imports pandas and plotext)."""
        from fttui.results import frame_from_columns

        try:
            preload_plot_modules()
            frame = frame_from_columns(columns, max_points=PLOT_POINTS)
        finally:
            self._busy = False
        self.app.call_from_thread(self._show_live, frame, job_id)

    def _show_live(self, frame: Any, job_id: str | None) -> None:
        """Live curves, unless the selection moved or the results CSV already drew them."""
        if job_id == self.job_id and self._results_for is None and not self.comparing:
            self.panel.set_frame(frame)

    @work(exclusive=True, group="results")
    async def load_results(self, job_id: str, file_id: str) -> None:
        """Download the results CSV to a temporary file and plot it."""
        from fttui.results import ResultsError, read_results_csv

        client = self.backend.client
        with tempfile.TemporaryDirectory(prefix="fttui-") as tmp:
            path = Path(tmp) / "results.csv"
            done = await self.call("results file", lambda: client.files.download(file_id, path))
            if done is None and not path.exists():
                return
            try:
                frame = await asyncio.to_thread(preload_plot_modules, read_results_csv, path)
            except ResultsError as exc:
                self.notify(str(exc), title="results file", severity="warning")
                return
        if job_id == self.job_id and not self.comparing:
            self._results_for = job_id
            self.panel.set_frame(frame)

    # -- several jobs -----------------------------------------------------------------
    def compare(self, jobs: Sequence[FineTuningJob]) -> None:
        """Overlay the curves of `jobs` (two or more); an empty list goes back to the
        selected job alone."""
        self.comparing = list(jobs)
        if not jobs:
            # The selected job's curves come back as its events are replayed (the
            # screen follows it again) or from its results file.
            self.border_subtitle = ""
            self.show(self.job_id)
            return
        self.border_subtitle = f"comparing {len(jobs)} jobs"
        self._load_comparison(list(jobs))

    def jobs_changed(self, jobs: Mapping[str, FineTuningJob]) -> None:
        """Newer states of the compared jobs (a finished one now has its results file)."""
        if not self.comparing:
            return
        fresh = [jobs.get(job.id, job) for job in self.comparing]
        if any(new.status != old.status for new, old in zip(fresh, self.comparing, strict=True)):
            self.compare(fresh)

    def _refresh_comparison(self) -> None:
        if self.comparing and any(job.status not in FINAL_JOB_STATUSES for job in self.comparing):
            self._load_comparison(list(self.comparing))

    @work(exclusive=True, group="compare")
    async def _load_comparison(self, jobs: list[FineTuningJob]) -> None:
        """Each job's metrics: its results CSV once it has one, else its metrics
        events (a running job; OpenAI's jobs report their metrics that way too)."""
        runs = []
        labels = compare_labels(jobs)
        for job, label in zip(jobs, labels, strict=True):
            frame = await self._frame_of(job)
            if frame is not None:
                runs.append((label, frame))
        if [j.id for j in jobs] == [j.id for j in self.comparing]:
            self.panel.compare(runs)

    async def _frame_of(self, job: FineTuningJob) -> Any:
        from fttui.results import ResultsError, frame_from_metrics, read_results_csv

        client = self.backend.client
        if job.status in FINAL_JOB_STATUSES and job.result_files:
            with tempfile.TemporaryDirectory(prefix="fttui-") as tmp:
                path = Path(tmp) / "results.csv"
                file_id = job.result_files[0]
                if await self.call("results file", lambda: client.files.download(file_id, path)):
                    try:
                        return await asyncio.to_thread(preload_plot_modules, read_results_csv, path)
                    except ResultsError:
                        pass  # fall back to the metrics events
        metrics: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(COMPARE_EVENTS // 100):
            page = await self.call(
                "events", partial(client.jobs.events, job.id, after=after, limit=100)
            )
            if page is None:
                return None
            metrics += [e.data for e in page.data if e.type == "metrics" and e.data]
            if not page.has_more or not page.data:
                break
            after = page.data[-1].id
        return await asyncio.to_thread(_frame_from_metrics, frame_from_metrics, metrics)
