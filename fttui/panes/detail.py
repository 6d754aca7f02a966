"""The Job detail pane: the selected job as resolved by the backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget

from fttui.api import FineTuningJob
from fttui.core.safe_text import safe_text
from fttui.messages import DetailLoaded
from fttui.panes.base import Pane
from fttui.panes.convert import job_detail
from widgets import CompareTable, KeyValueTable

EMPTY = [("", "No job selected. Press 2 for the jobs list, n to create a job.")]


class DetailPane(Pane):
    """Hyperparameters as resolved, files, names, times, result files, error and
    checkpoints of one job; fetched when the selection changes and again whenever
    the jobs list reports a new status for it. Posts `DetailLoaded`."""

    NAME: ClassVar[str] = "detail"
    TITLE: ClassVar[str] = "Job detail"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job_id: str | None = None
        self._status: str | None = None
        self.compare_table: CompareTable | None = None

    def compose(self) -> ComposeResult:
        self.table = KeyValueTable(EMPTY, classes="pane-main")
        yield self.table

    @property
    def comparing(self) -> bool:
        return self.compare_table is not None and self.compare_table.display

    @property
    def main_widget(self) -> Widget:
        return self.compare_table if self.compare_table and self.comparing else self.table

    def compare(self, jobs: Sequence[FineTuningJob], labels: Sequence[str]) -> None:
        """Show `jobs` side by side (rows that differ highlighted); none: back to one."""
        comparing = bool(jobs)
        if self.compare_table is None:
            if not comparing:
                return
            # Made the first time it is needed: one widget fewer to draw at start-up.
            self.compare_table = CompareTable()
            self.mount(self.compare_table)
        self.compare_table.display = comparing
        self.table.display = not comparing
        if not comparing:
            self.border_subtitle = ""
            self.reload()
            return
        self.border_subtitle = f"comparing {len(jobs)} jobs"
        details = [dict(job_detail(job)) for job in jobs]
        fields = list(dict.fromkeys(k for d in details for k in d))
        self.compare_table.set_columns(
            labels, [(field, [d.get(field, "-") for d in details]) for field in fields]
        )

    def show(self, job_id: str | None) -> None:
        """Show another job (None: nothing selected)."""
        self.job_id = job_id
        self._status = None
        if job_id is None:
            self.table.set_items(EMPTY)
            self.border_subtitle = ""
            return
        self.load(job_id)

    def job_changed(self, job: FineTuningJob | None) -> None:
        """The jobs list has news of `job`; reload when its status moved on."""
        if self.comparing:
            return
        if job is not None and job.id == self.job_id and job.status != self._status:
            self.load(job.id)

    def reload(self) -> None:
        if self.job_id is not None:
            self.load(self.job_id)

    @work(exclusive=True, group="detail")
    async def load(self, job_id: str) -> None:
        client = self.backend.client
        job = await self.call("job detail", lambda: client.jobs.retrieve(job_id))
        if job is None or job_id != self.job_id:
            return
        page = await self.call("checkpoints", lambda: client.jobs.checkpoints(job_id))
        if job_id != self.job_id:
            return
        checkpoints = list(page.data) if page is not None else []
        self._status = job.status
        self.table.set_items(job_detail(job, checkpoints))
        if self.comparing:
            return
        # A border title is read as markup: the backend's status goes in as Content.
        self.border_subtitle = Content(safe_text(job.status))
        self.tell(DetailLoaded(job))
