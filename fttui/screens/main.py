"""The main screen: the five panes laid out, switched between, and the user's actions.

At 120 columns and more the panes sit in two columns; below that only the active
pane shows (number keys and Tab switch), so the app stays usable at 80x24. The
panes (`fttui.panes`) own their data, workers and timers; this screen routes their
messages to each other and turns keys into actions (most open a dialog).

Adding a key: a `Binding` below (it then shows in the key bar when `show=True`,
in `?` and in the command palette) and an `action_<name>` method; a job verb of
the API (cancel, pause, resume: `panes.jobs.JobVerb`) is
`self.jobs.act_on_selected("<verb>")`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.events import DescendantFocus
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Static

from fttui.backend import Backend
from fttui.messages import (
    DetailLoaded,
    DownloadWanted,
    EvalWanted,
    EventsBatch,
    ExportWanted,
    FilesLoaded,
    JobFormWanted,
    JobsLoaded,
    PreviewWanted,
    TryModelWanted,
    UploadWanted,
)
from fttui.panes import DetailPane, EventsPane, FilesPane, JobsPane, Pane, PlotsPane
from fttui.panes.plots import compare_labels
from widgets import JobTable, KeyBar

WARM_DELAY = 2.0


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
        # Shown (here, in `?` and the palette) only for a job they apply to: see check_action.
        Binding("P", "pause_job", "Pause job"),
        Binding("R", "resume_job", "Resume job"),
        Binding("u", "upload", "Upload"),
        Binding("d", "download", "Download results"),
        Binding("t", "try_model", "Try model"),
        Binding("x", "delete", "Delete"),
        Binding("p", "preview", "Preview file", show=False),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("s", "sort", "Sort jobs", show=False),
        Binding("slash", "filter", "Filter jobs"),
        Binding("f", "toggle_follow", "Follow events", show=False),
        Binding("e", "evaluate", "Evaluate model", show=False),
        Binding("E", "export_model", "Export model", show=False),
    ]

    #: Where `?` lists a key of this screen: the pane (NAME) or panes it acts on;
    #: "everywhere" (the default) for the others, None for one a list's own key says.
    HELP_GROUPS: ClassVar[dict[str, str | tuple[str, ...] | None]] = {
        "new_job": "jobs",
        "clone_job": "jobs",
        "cancel_job": "jobs",
        "pause_job": "jobs",
        "resume_job": "jobs",
        "download": "jobs",
        "try_model": "jobs",
        "filter": "jobs",
        "sort": None,
        "upload": "files",
        "preview": "files",
        "delete": ("files", "jobs"),
        "toggle_follow": "events",
    }

    #: The jobs list has focus from the first frame. With Textual's default ("*") the
    #: files list took it first and `on_mount` moved it: blur, focus and the pane
    #: switch each redrew, frames the user waited through at start-up.
    AUTO_FOCUS = "JobTable"

    active_pane: reactive[str] = reactive("jobs")
    selected_job_id: reactive[str | None] = reactive(None, init=False)

    def __init__(
        self, backend: Backend, *, live: bool = True, state: Mapping[str, Any] | None = None
    ) -> None:
        """`live=False` mounts the panes without loading (the app calls `start()`
        once the local server answers); `state` is what `ui_state()` returned when
        the app last closed (restored once mounted, the job parts once jobs load)."""
        super().__init__()
        self.backend = backend
        self._live = live
        self._state = dict(state or {})

    # -- layout and typed access to the panes -----------------------------------
    def compose(self) -> ComposeResult:
        self._set_breakpoint_class()
        self.files = FilesPane(self.backend)
        self.jobs = JobsPane(self.backend)
        self.detail = DetailPane(self.backend)
        self.events = EventsPane(self.backend)
        self.plots = PlotsPane(self.backend)
        # Shown from the start (narrow layouts hide the other panes), so AUTO_FOCUS
        # finds its table focusable before the first frame.
        self.jobs.add_class("-active")
        yield Header()
        yield Static(id="pane-bar")
        with Container(id="panes"):
            with Vertical(id="col-left", classes="column -active"):
                yield self.files
                yield self.jobs
            with Vertical(id="col-right", classes="column"):
                yield self.detail
                yield self.events
                yield self.plots
        yield KeyBar()

    def _set_breakpoint_class(self) -> None:
        """The layout's class (`-wide` / `-narrow`) from the start.

        Textual sets a screen's breakpoint class on its first Resize, after a
        first layout and paint made without it: every pane was laid out twice
        before the jobs showed (at 160x48 a ~50 ms pass on this host, the worst
        lag of the start-up). The same rule as Textual's, applied before the
        first layout."""
        breakpoints = self.HORIZONTAL_BREAKPOINTS or self.app.HORIZONTAL_BREAKPOINTS or []
        width = self.app.size.width
        chosen = next(
            (name for edge, name in sorted(breakpoints, reverse=True) if width >= edge), None
        )
        self.update_classes({name: name == chosen for _, name in breakpoints}, animate=False)

    @property
    def panes(self) -> list[Pane]:
        return [self.files, self.jobs, self.detail, self.events, self.plots]

    def on_mount(self) -> None:
        for number, pane in enumerate(self.panes, start=1):
            pane.border_title = f"{number} {pane.TITLE}"
        # The chart modules load in a thread once the jobs are in, not during the
        # first paint.
        self.jobs.on_first_load = self._first_jobs
        self._update_pane_bar(self.active_pane)
        self.jobs.table.focus()  # a no-op unless AUTO_FOCUS could not focus it
        self._restore_layout()
        if self._live:
            self.start()

    def _first_jobs(self) -> None:
        """The jobs are in: the chart modules warm in a thread; the selected job and
        the marks of the last session come back (those that still exist)."""
        self.plots.warm(after=WARM_DELAY)
        state, self._state = self._state, {}
        table = self.jobs.table
        marks = [i for i in _strings(state.get("marks")) if i in self.jobs.jobs]
        for job_id in marks:
            table.toggle_mark(job_id)
        if marks:
            self.post_message(JobTable.MarksChanged(tuple(table.marked)))
        selected = state.get("selected_job")
        if isinstance(selected, str) and selected in self.jobs.jobs:
            self.jobs.select_when_shown(selected)

    # -- what survives a restart (fttui.ui_state) ----------------------------------
    def ui_state(self) -> dict[str, Any]:
        """Marks, filter, sort, selected job, pane and views, as JSON-able values."""
        jobs, files = self.jobs.table, self.files.table
        panel = self.plots.panel
        pending = self._state  # not applied yet (no jobs loaded): kept as it was
        return {
            "active_pane": self.active_pane,
            "selected_job": self.selected_job_id or pending.get("selected_job"),
            "marks": list(jobs.marked) or _strings(pending.get("marks")),
            "jobs_filter": jobs.filter_text,
            "jobs_sort": [jobs.sort_key, jobs.sort_reverse],
            "files_sort": [files.sort_key, files.sort_reverse],
            "file_ids": files.ids_shown,
            "plots": {"smooth": panel.smooth, "log": panel.log_y, "full_names": panel.full_names},
        }

    def _restore_layout(self) -> None:
        """What needs no job list: pane, filter, sorts, columns, plot views."""
        state = self._state
        for table, key in ((self.jobs.table, "jobs_sort"), (self.files.table, "files_sort")):
            sort = state.get(key)
            if (
                isinstance(sort, list)
                and len(sort) == 2
                and sort[0] in table.columns
                and isinstance(sort[1], bool)
            ):
                table.sort_key, table.sort_reverse = sort
        text = state.get("jobs_filter")
        if isinstance(text, str) and text.strip():
            self.jobs.set_filter(text)
        if state.get("file_ids") is True:
            self.files.table.show_column("id")
        views = state.get("plots")
        if isinstance(views, dict):
            self.plots.panel.set_view(
                smooth=views.get("smooth") is True,
                log_y=views.get("log") is True,
                full_names=views.get("full_names") is True,
            )
        pane = state.get("active_pane")
        if pane in {p.NAME for p in self.panes} and pane != self.active_pane:
            self.action_pane(str(pane))

    def start(self) -> None:
        """Load everything once, then keep it fresh (each pane on its own timers)."""
        for pane in self.panes:
            pane.start()

    # -- switching panes ---------------------------------------------------------
    def watch_active_pane(self, name: str) -> None:
        for pane in self.panes:
            pane.set_class(name == pane.NAME, "-active")
        left = name in ("files", "jobs")
        self.query_one("#col-left").set_class(left, "-active")
        self.query_one("#col-right").set_class(not left, "-active")
        self._update_pane_bar(name)

    def _update_pane_bar(self, name: str) -> None:
        bar = "  ".join(
            f"[b reverse] {i} {p.TITLE} [/]" if name == p.NAME else f" {i} {p.TITLE} "
            for i, p in enumerate(self.panes, start=1)
        )
        self.query_one("#pane-bar", Static).update(bar)

    def action_pane(self, name: str) -> None:
        self.active_pane = name
        next(p for p in self.panes if name == p.NAME).main_widget.focus()

    def action_cycle_pane(self, step: int) -> None:
        names = [p.NAME for p in self.panes]
        self.action_pane(names[(names.index(self.active_pane) + step) % len(names)])

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        for pane in event.widget.ancestors_with_self:
            if isinstance(pane, Pane):
                self.active_pane = pane.NAME
                return

    # -- what the panes report ---------------------------------------------------
    @on(JobTable.JobSelected)
    def _job_selected(self, message: JobTable.JobSelected) -> None:
        self.selected_job_id = message.job_id

    def watch_selected_job_id(self, job_id: str | None) -> None:
        self.detail.show(job_id)
        self.events.follow(job_id)
        self.plots.show(job_id)
        self.refresh_bindings()  # pause/resume depend on the selected job's status

    @on(JobsLoaded)
    def _jobs_loaded(self, message: JobsLoaded) -> None:
        if self.selected_job_id is not None:
            self.detail.job_changed(message.jobs.get(self.selected_job_id))
        self.plots.jobs_changed(message.jobs)
        self.refresh_bindings()

    @on(JobTable.MarksChanged)
    def _marks_changed(self, message: JobTable.MarksChanged) -> None:
        """Two marked jobs or more: plots overlaid, detail side by side."""
        jobs = [self.jobs.jobs[i] for i in message.job_ids if i in self.jobs.jobs]
        if len(jobs) >= 2:
            self.detail.compare(jobs, compare_labels(jobs))
            self.plots.compare(jobs)
        elif self.plots.comparing:
            self.detail.compare([], [])
            self.plots.compare([])
            self.events.follow(self.selected_job_id)  # its curves come back with its events
        if len(jobs) == 1:
            self.notify("marked; mark another job (space) to compare them", timeout=3)

    @on(DetailLoaded)
    def _detail_loaded(self, message: DetailLoaded) -> None:
        self.jobs.keep(message.job)
        self.plots.job_updated(message.job)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Pause and resume show (key bar, `?`, palette) only for a job they apply to."""
        if action in ("pause_job", "resume_job"):
            verb = action.removesuffix("_job")
            return self.is_mounted and any(p.applies(verb) for p in self.query(JobsPane))
        return True

    @on(EventsBatch)
    def _events_batch(self, message: EventsBatch) -> None:
        self.plots.add_events(message.job_id, message.rows)

    @on(FilesLoaded)
    def _files_loaded(self, message: FilesLoaded) -> None:
        self.jobs.files_known(len(message.files))

    # -- the dialogs the panes ask for (imported when first opened) ---------------
    @on(JobFormWanted)
    def _open_job_form(self, message: JobFormWanted) -> None:
        from fttui.screens.job_form import JobFormScreen

        form = JobFormScreen(self.backend, clone_from=message.clone_from)
        self.app.push_screen(form, self.jobs.created)

    @on(DownloadWanted)
    def _open_download(self, message: DownloadWanted) -> None:
        from fttui.screens.download import DownloadScreen

        self.app.push_screen(DownloadScreen(self.backend.client, message.job_id, message.file_id))

    @on(TryModelWanted)
    def _open_try_model(self, message: TryModelWanted) -> None:
        from fttui.screens.try_model import TryModelScreen

        screen = TryModelScreen(
            self.backend.client,
            message.model,
            training_file=message.training_file,
            validation_file=message.validation_file,
        )
        self.app.push_screen(screen)

    @on(EvalWanted)
    def _open_eval(self, message: EvalWanted) -> None:
        from fttui.screens.evaluate import EvalScreen

        screen = EvalScreen(
            self.backend.client,
            message.model,
            against=message.against,
            file=message.file_id,
            grader=message.grader,
        )
        self.app.push_screen(screen)

    @on(ExportWanted)
    def _open_export(self, message: ExportWanted) -> None:
        from fttui.screens.export import ExportScreen

        self.app.push_screen(ExportScreen(self.backend.client, message.model))

    @on(UploadWanted)
    def _open_upload(self, _: UploadWanted) -> None:
        from fttui.screens.upload import UploadScreen

        screen = UploadScreen(self.backend.client, prices=self.backend.prices)
        self.app.push_screen(screen, self.files.uploaded)

    @on(PreviewWanted)
    def _open_preview(self, message: PreviewWanted) -> None:
        from fttui.screens.preview import PreviewScreen

        self.app.push_screen(PreviewScreen(self.backend.client, message.file_id))

    # -- actions -----------------------------------------------------------------
    def action_refresh(self) -> None:
        self.jobs.refresh_jobs(full=True)
        self.files.refresh_files()
        self.detail.reload()

    def action_sort(self) -> None:
        self.jobs.table.action_cycle_sort()

    def action_filter(self) -> None:
        self.action_pane("jobs")
        self.jobs.open_filter()

    def action_toggle_follow(self) -> None:
        self.notify(f"follow {'on' if self.events.toggle_follow() else 'off'}", timeout=2)

    def action_new_job(self) -> None:
        self.jobs.new_job()

    def action_clone_job(self) -> None:
        self.jobs.new_job(clone=True)

    def action_cancel_job(self) -> None:
        self.jobs.cancel_selected()

    def action_pause_job(self) -> None:
        """The trainer checkpoints at the next step and stops; `R` resumes from there."""
        self.jobs.act_on_selected("pause")

    def action_resume_job(self) -> None:
        self.jobs.act_on_selected("resume")

    def action_upload(self) -> None:
        self.files.upload()

    def action_download(self) -> None:
        self.jobs.download_selected()

    def action_try_model(self) -> None:
        self.jobs.try_selected()

    def action_evaluate(self) -> None:
        """The selected job's fine-tuned model against its base, on its validation file."""
        self.jobs.evaluate_selected()

    def action_export_model(self) -> None:
        """The selected job's fine-tuned model as a directory transformers loads."""
        self.jobs.export_selected()

    def action_preview(self) -> None:
        self.files.preview_selected()

    def action_delete(self) -> None:
        """`x` deletes what the active pane shows: a file, or a job's fine-tuned model."""
        if self.active_pane == "files":
            self.files.delete_selected()
        else:
            self.jobs.delete_selected_model()


def _strings(value: Any) -> list[str]:
    """`value` if it is a list of strings, else nothing (a hand-edited state file)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return []
