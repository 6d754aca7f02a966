"""The jobs list: coloured status, ETA, sortable, filterable, stable under refresh."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from widgets._format import human_duration, short_time
from widgets._keyed_table import KeyedTable
from widgets.rows import JobRow

STATUS_STYLES: dict[str, str] = {
    "succeeded": "bold green",
    "failed": "bold red",
    "cancelled": "dim",
    "running": "bold yellow",
    "validating_files": "cyan",
    "queued": "cyan",
    "paused": "magenta",
}

#: Statuses whose elapsed/ETA cell changes with the clock.
ACTIVE = frozenset({"running", "queued", "validating_files", "paused"})


def status_text(status: str) -> Text:
    """A job status coloured as everywhere in the app (green ok, red failed...)."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def elapsed_text(job: JobRow, now: float) -> str:
    """The list's time column: how long a finished job took ('3m10s'); for a running
    job with an estimate the time left ('ETA 2m05s'), else how long it has run."""
    if job.finished_at is not None:
        return human_duration(job.finished_at - job.created_at)
    if job.status not in ACTIVE:
        return ""
    if job.status == "running" and job.estimated_finish is not None:
        left = job.estimated_finish - now
        return f"ETA {human_duration(left)}" if left > 0 else "ETA soon"
    return human_duration(now - job.created_at)


METHOD_SHORT = {"supervised": "SFT", "dpo": "DPO", "reinforcement": "RFT"}


def method_cell(method: str) -> str:
    """OpenAI's `method.type` as the table shows it: SFT, DPO, RFT (others as sent)."""
    return METHOD_SHORT.get(method, method)


def model_cell(row: JobRow) -> str:
    """The model, marked with the method when it is not supervised: `gpt-4o-mini (DPO)`
    (the filter matches either)."""
    if row.method == "supervised":
        return row.model
    return f"{row.model} ({'DPO' if row.method == 'dpo' else row.method})"


class JobTable(KeyedTable[JobRow]):
    """Jobs keyed by id; `set_jobs` updates only rows that changed.

    Sort with `s` (next column) and `S` (reverse) or by clicking a header; set
    `filter_text` to show only jobs whose id, model, status, fine-tuned model or
    suffix contain it. Posts `JobTable.JobSelected` when the job under the cursor
    changes (also after an update moves or removes it). `space` marks or unmarks
    the job under the cursor and posts `JobTable.MarksChanged` (runs to compare).
    """

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("status", "Status"),
        ("id", "ID"),
        ("suffix", "Suffix"),
        ("model", "Model"),
        ("method", "Method"),
        ("created", "Created"),
        ("elapsed", "Time"),
        ("tokens", "Tokens"),
        ("fine_tuned_model", "Fine-tuned"),
    )
    #: What a narrow table keeps (the rest is dropped from the end of this list): at
    #: 80 columns status, id, time (elapsed, ETA), suffix, model and tokens. Ids keep their end
    #: (`…a1b2c3d4`: where ids differ), names their start.
    KEEP_ORDER: ClassVar[tuple[str, ...]] = (
        "status",
        "id",
        "elapsed",
        "suffix",
        "model",
        "tokens",
        "method",
        "created",
        "fine_tuned_model",
    )
    SHRINK: ClassVar[dict[str, int]] = {  # noqa: RUF012 - read-only
        "id": 8,
        "suffix": 6,
        "model": 8,
        "fine_tuned_model": 12,
    }
    CLIP_HEAD: ClassVar[frozenset[str]] = frozenset({"id"})

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Mark job to compare", show=False),
    ]

    class MarksChanged(Message):
        """The marked jobs (`space`), in the order they were marked."""

        def __init__(self, job_ids: tuple[str, ...]) -> None:
            super().__init__()
            self.job_ids = job_ids

    def action_toggle_mark(self) -> None:
        key = self.selected_id
        if key is not None:
            self.toggle_mark(key)
            self.post_message(JobTable.MarksChanged(tuple(self.marked)))

    class JobSelected(Message):
        """The cursor is now on `job_id` (None: the table is empty)."""

        def __init__(self, job_id: str | None) -> None:
            super().__init__()
            self.job_id = job_id

    def set_jobs(self, rows: Sequence[JobRow], now: float | None = None) -> None:
        """Show exactly `rows` (the full list); `now` fixes the clock for ETAs (tests)."""
        self._set_rows(rows, time.time() if now is None else now)

    @property
    def selected_job_id(self) -> str | None:
        """Id of the job under the cursor."""
        return self.selected_id

    @property
    def jobs(self) -> dict[str, JobRow]:
        """All jobs last given to `set_jobs`, shown or filtered out, by id."""
        return dict(self._all)

    RIGHT_ALIGNED: ClassVar[frozenset[str]] = frozenset({"tokens"})

    def _row_cells(self, row: JobRow, now: float | None) -> tuple[str, ...]:
        clock = time.time() if now is None else now
        return (
            row.status,
            row.id,
            row.suffix or "",
            row.model,
            method_cell(row.method),
            short_time(row.created_at),
            elapsed_text(row, clock),
            f"{row.trained_tokens:,}" if row.trained_tokens is not None else "",
            row.fine_tuned_model or "",
        )

    def _cell_style(self, column: int, text: str) -> str:
        return STATUS_STYLES.get(text, "") if column == 0 else ""

    def _ticks(self, row: JobRow) -> bool:
        return row.status in ACTIVE

    def _clock_cells(self, row: JobRow, now: float | None) -> dict[int, str]:
        return {6: elapsed_text(row, time.time() if now is None else now)}

    def _sort_value(self, row: JobRow, column: str) -> Any:
        if column == "status":
            return row.status
        if column == "id":
            return row.id
        if column == "model":
            return row.model
        if column == "suffix":
            return row.suffix or ""
        if column == "method":
            return row.method
        if column == "fine_tuned_model":
            return row.fine_tuned_model or ""
        if column == "elapsed":
            end = row.finished_at if row.finished_at is not None else (self._now or time.time())
            return end - row.created_at
        if column == "tokens":
            return row.trained_tokens if row.trained_tokens is not None else -1
        return row.created_at

    def _haystack(self, row: JobRow) -> str:
        return "\n".join(
            (
                row.id,
                model_cell(row),
                row.status,
                row.fine_tuned_model or "",
                row.suffix or "",
            )
        )

    def _selected_message(self, key: str | None) -> Message:
        return JobTable.JobSelected(key)
