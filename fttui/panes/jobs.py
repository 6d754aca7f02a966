"""The Jobs pane: every job of the backend, refreshed every 2 s, with a filter box."""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Literal

from textual import events, on, work
from textual.app import ComposeResult
from textual.widgets import Input

from fttui.api import FINAL_JOB_STATUSES, FineTuningJob
from fttui.messages import (
    DownloadWanted,
    EvalWanted,
    ExportWanted,
    JobEnded,
    JobFormWanted,
    JobsLoaded,
    TryModelWanted,
)
from fttui.panes.base import Pane
from fttui.panes.convert import job_pausing, job_row
from widgets import JobRow, JobTable

JOBS_INTERVAL = 2.0
PAGE = 100
STALE_PER_REFRESH = 20

#: What `act` does to a job (the `client.jobs` method of that name).
JobVerb = Literal["cancel", "pause", "resume"]

EMPTY_NO_FILES = "No jobs yet. Press u to upload a training file (JSONL), then n to create a job."
EMPTY_WITH_FILES = "No jobs yet. Press n to create a fine-tuning job from an uploaded file."
EMPTY_FILTERED = "No job matches the filter. Press / and Esc to clear it."


class JobsPane(Pane):
    """Keeps the backend's jobs and shows them in a `JobTable`.

    The first load walks every page; later refreshes fetch the newest page plus
    any job it still knows as active (so a long-running job beyond the first page
    keeps updating). Posts `JobsLoaded` after a refresh that changed something and
    `JobEnded` when a job it saw active has finished.
    """

    NAME: ClassVar[str] = "jobs"
    TITLE: ClassVar[str] = "Jobs"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jobs: dict[str, FineTuningJob] = {}
        # Widget rows per job, rebuilt only for jobs whose data changed: the table
        # skips rows that are the same object, so a refresh of 5,000 unchanged jobs
        # costs a dictionary walk instead of 5,000 conversions.
        self._rows: dict[str, JobRow] = {}
        self._loaded = False
        self._busy = False
        self._pending_select: str | None = None
        self._ended: set[str] = set()  # ids JobEnded was posted for
        self._started = False
        self._files_count = 0
        #: Called once, after the first load (the screen warms the chart modules then).
        self.on_first_load: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        # Kept as attributes, not queried: a worker finishing while the app closes
        # may still touch them after they left the DOM, which is harmless.
        self.filter_box = Input(
            placeholder="filter jobs (Enter keeps, Esc clears)", id="job-filter"
        )
        self.table = JobTable(empty_text=EMPTY_NO_FILES, classes="pane-main")
        yield self.filter_box
        yield self.table

    @property
    def selected_job(self) -> FineTuningJob | None:
        """The job under the cursor, as the backend last sent it."""
        job_id = self.table.selected_job_id
        return self.jobs.get(job_id) if job_id is not None else None

    def on_mount(self) -> None:
        self.filter_box.display = bool(self.filter_box.value)  # a restored filter shows

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.refresh_jobs()
            self.set_interval(JOBS_INTERVAL, self.refresh_jobs)

    def files_known(self, count: int) -> None:
        """What the empty list suggests depends on whether a file is uploaded yet."""
        self._files_count = count
        self._update_empty()

    def _update_empty(self) -> None:
        table = self.table
        if table.filter_text.strip():
            table.empty_text = EMPTY_FILTERED
        else:
            table.empty_text = EMPTY_WITH_FILES if self._files_count else EMPTY_NO_FILES

    # -- loading ------------------------------------------------------------------
    @work(group="jobs")
    async def refresh_jobs(self, full: bool = False) -> None:
        """All jobs once, then the newest page plus any active job beyond it."""
        if self._busy:
            return
        self._busy = True
        try:
            if full or not self._loaded:
                await self._load_all()
            else:
                await self._load_recent()
        finally:
            self._busy = False

    async def _load_all(self) -> None:
        client = self.backend.client

        async def load_all() -> tuple[dict[str, FineTuningJob], dict[str, JobRow]]:
            # Converted page by page as they arrive: converting 5,000 jobs after
            # the last page blocked the UI for ~100 ms in one go.
            jobs: dict[str, FineTuningJob] = {}
            rows: dict[str, JobRow] = {}
            async for job in client.jobs.iter(page_size=PAGE):
                jobs[job.id] = job
                rows[job.id] = job_row(job)
            return jobs, rows

        loaded = await self.call("list jobs", load_all)
        if loaded is None:
            return
        first = not self._loaded
        # Also on the first load: a job created or shown in the detail pane while
        # the pages came in is already known, maybe as running.
        for job in loaded[0].values():
            self._notice_end(job)
        self.jobs, self._rows = loaded
        self._loaded = True
        if first:
            # Thousands of long-lived job objects would make every full garbage
            # collection walk them (pauses of 100-400 ms at 5,000 jobs); frozen
            # objects are skipped by the collector.
            gc.freeze()
            if self.on_first_load is not None:
                self.on_first_load()
        self._show(changed=True)

    async def _load_recent(self) -> None:
        client = self.backend.client
        page = await self.call("list jobs", lambda: client.jobs.list(limit=PAGE))
        if page is None:
            return
        fresh = {job.id: job for job in page.data}
        stale = [
            jid
            for jid, job in self.jobs.items()
            if jid not in fresh and job.status not in FINAL_JOB_STATUSES
        ]
        for jid in stale[:STALE_PER_REFRESH]:
            job = await self.call("refresh job", partial(client.jobs.retrieve, jid))
            if job is not None:
                fresh[jid] = job
        changed = False
        for job in fresh.values():
            changed = self.keep(job) or changed
        self._show(changed)

    def keep(self, job: FineTuningJob) -> bool:
        """Remember a job as the backend sent it; True when it is new or changed."""
        old = self.jobs.get(job.id)
        if old is not None and old == job and job.id in self._rows:
            return False
        if (
            old is not None
            and old.status in FINAL_JOB_STATUSES
            and job.status not in FINAL_JOB_STATUSES
        ):
            return False  # an answer sent before the job ended, arriving after
        self._notice_end(job)
        self.jobs[job.id] = job
        row = job_row(job)
        if self._rows.get(job.id) != row:
            self._rows[job.id] = row
        return True

    def _notice_end(self, job: FineTuningJob) -> None:
        """`JobEnded`, once per job, when a job this pane knew as active has ended."""
        old = self.jobs.get(job.id)
        if old is None or old.status in FINAL_JOB_STATUSES or job.status not in FINAL_JOB_STATUSES:
            return
        if job.id not in self._ended:
            self._ended.add(job.id)
            self.tell(JobEnded(job))

    def _show(self, changed: bool) -> None:
        table = self.table
        if table.rows_pending and self._pending_select is None:
            # The first load is still going into the table chunk by chunk; a refresh
            # now would make every remaining chunk re-sort the table. The next
            # timer tick shows whatever changed meanwhile.
            return
        # Every refresh: the elapsed/ETA cells of running jobs move with the clock.
        table.set_jobs(list(self._rows.values()), now=self.backend.now())
        if self._pending_select is not None and table.select_id(self._pending_select):
            self._pending_select = None
        if changed:
            self.tell(JobsLoaded(self.jobs))

    # -- changes made here --------------------------------------------------------
    def new_job(self, clone: bool = False) -> None:
        """Ask for the job form, empty or (`clone`) filled from the selected job."""
        source = self.selected_or_say() if clone else None
        if clone and source is None:
            return
        self.post_message(JobFormWanted(clone_from=source))

    def created(self, job: FineTuningJob | None) -> None:
        """The job form closed: `job` is the job it created (None when dismissed)."""
        if job is not None and not job.id:
            # Created (a 2xx), but the answer named no job: the list shows it next.
            self.notify("created; the server's answer did not say the job's id", title="new job")
            self.refresh_jobs(full=True)
        elif job is not None:
            self.notify(f"created {job.id}", title="new job")
            self.table.focus()  # the screen shows the pane that has focus
            self.add_created(job)

    def add_created(self, job: FineTuningJob) -> None:
        """A job created from the app: listed at once, selected, its events followed."""
        self._pending_select = job.id
        self.keep(job)
        self._show(changed=True)

    def selected_or_say(self) -> FineTuningJob | None:
        """The job under the cursor, or None after saying how to select one."""
        job = self.selected_job
        if job is None:
            self.notify("select a job first (2 or Tab to the jobs pane)", severity="warning")
        return job

    def cancel_selected(self) -> None:
        job = self.selected_or_say()
        if job is None:
            return
        if job.status in FINAL_JOB_STATUSES:
            self.notify(f"{job.id} is already {job.status}", severity="warning")
            return
        self.confirm(
            f"Cancel job {job.id}?",
            f"model {job.model}, status {job.status}",
            lambda: self.act("cancel", job.id),
        )

    def delete_selected_model(self) -> None:
        job = self.selected_or_say()
        if job is None:
            return
        model = job.fine_tuned_model
        if not model:
            self.notify(f"{job.id} has no fine-tuned model to delete", severity="warning")
            return
        self.confirm(
            f"Delete model {model}?",
            "It can no longer be used or continued.",
            lambda: self.delete_model(model),
        )

    def applies(self, verb: str) -> bool:
        """Whether `verb` ("pause", "resume") applies to the selected job: pause a
        running one, resume a paused one whose checkpoint is saved."""
        job = self.selected_job if self.is_mounted else None
        if job is None:
            return False
        if verb == "pause":
            return bool(job.status == "running")
        return bool(job.status == "paused") and not job_pausing(job)

    def act_on_selected(self, verb: JobVerb) -> None:
        job = self.selected_or_say()
        if job is not None:
            self.act(verb, job.id)

    def download_selected(self) -> None:
        """Ask for the download dialog for the selected job's results file."""
        job = self.selected_or_say()
        if job is None:
            return
        if not job.result_files:
            self.notify(f"{job.id} has no results file yet ({job.status})", severity="warning")
            return
        self.post_message(DownloadWanted(job.id, job.result_files[0]))

    def try_selected(self) -> None:
        """Ask for Try model on the selected job's fine-tuned model (its base model before)."""
        job = self.selected_or_say()
        if job is None:
            return
        model = job.fine_tuned_model
        if not model:
            self.notify(
                f"{job.id} has no fine-tuned model yet; trying its base model {job.model}",
                severity="warning",
            )
        self.post_message(
            TryModelWanted(model or job.model, job.training_file, job.validation_file)
        )

    def _tuned_or_say(self, what: str) -> FineTuningJob | None:
        """The selected job when it has a fine-tuned model, or None after saying why."""
        job = self.selected_or_say()
        if job is None:
            return None
        if not job.fine_tuned_model:
            self.notify(
                f"{job.id} has no fine-tuned model to {what} ({job.status})", severity="warning"
            )
            return None
        return job

    def evaluate_selected(self) -> None:
        """Ask for the evaluation of the selected job's fine-tuned model against its
        base model, on its validation file (its training file when it has none); before
        there is a fine-tuned model, of the base model alone (any model can be typed in)."""
        job = self.selected_or_say()
        if job is None:
            return
        file_id = job.validation_file or job.training_file
        if not job.validation_file:
            self.notify(
                f"{job.id} has no validation file: its training file is proposed (the model "
                "has seen it); name another file in the dialog",
                severity="warning",
            )
        # A reinforcement job's answers are scored by its own grader.
        grader = job.method_config.get("grader") if job.method_type == "reinforcement" else None
        grader = grader if isinstance(grader, dict) else None
        if job.fine_tuned_model:
            self.post_message(EvalWanted(job.fine_tuned_model, job.model, file_id, grader))
            return
        self.notify(
            f"{job.id} has no fine-tuned model yet; evaluating its base model {job.model}",
            severity="warning",
        )
        self.post_message(EvalWanted(job.model, None, file_id, grader))

    def export_selected(self) -> None:
        """Ask for the export of the selected job's fine-tuned model."""
        job = self._tuned_or_say("export")
        if job is not None and job.fine_tuned_model:
            self.post_message(ExportWanted(job.fine_tuned_model))

    @work(group="job-actions")
    async def act(self, verb: JobVerb, job_id: str) -> None:
        """`cancel`, `pause` or `resume` the job `job_id` (`client.jobs.<verb>`)."""
        jobs = self.backend.client.jobs
        method = {"cancel": jobs.cancel, "pause": jobs.pause, "resume": jobs.resume}[verb]
        job = await self.call(verb, partial(method, job_id))
        if job is not None:
            old = self.jobs.get(job_id)
            if old is not None:
                # OpenAI's answers to cancel/pause/resume carry only some of the job's
                # fields: what they say updates the job known, the rest stays.
                job = old.model_copy(update={k: v for k, v in job if k in job.model_fields_set})
            self.keep(job)
            self.notify(f"{job_id}: {job.status}", title=verb)
            self._show(changed=True)

    @work(group="job-actions")
    async def delete_model(self, model: str) -> None:
        if await self.call("delete model", lambda: self.backend.client.models.delete(model)):
            self.notify(f"deleted {model}", title="models")

    def select_when_shown(self, job_id: str) -> None:
        """Put the cursor on `job_id` once the table shows it (a restored selection)."""
        self._pending_select = job_id

    # -- filter -------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        """Filter the list by `text` (shown in the filter box, as if typed there)."""
        self.filter_box.value = text
        self.filter_box.display = bool(text)
        self.table.filter_text = text
        self._update_empty()

    def open_filter(self) -> None:
        box = self.filter_box
        box.display = True
        box.focus()

    @on(Input.Changed)
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.filter_text = event.value
        self._update_empty()

    @on(Input.Submitted)
    def _filter_done(self) -> None:
        self.filter_box.display = bool(self.filter_box.value)
        self.table.focus()

    def on_key(self, event: events.Key) -> None:
        box = self.filter_box
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            self.table.focus()
            event.stop()
