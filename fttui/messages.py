"""The named messages the panes post up to the main screen and the app.

Each pane owns its workers and timers and says what happened with one of these
(handled with `@on(...)`); nothing below the screen reaches into a sibling pane.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from fttui.api import APIError
    from widgets import EventRow


class BackendFailed(Message):
    """A backend call failed; the app shows it (once) and updates the header."""

    def __init__(self, what: str, error: APIError) -> None:
        super().__init__()
        self.what = what
        self.error = error


class BackendAnswered(Message):
    """A call succeeded after the backend had been unreachable."""


class JobsLoaded(Message):
    """The jobs pane's view of every job changed (`jobs`: id -> API job object)."""

    def __init__(self, jobs: Mapping[str, Any]) -> None:
        super().__init__()
        self.jobs = jobs


class JobEnded(Message):
    """A job seen active in this session reached succeeded, failed or cancelled."""

    def __init__(self, job: Any) -> None:
        super().__init__()
        self.job = job


class FilesLoaded(Message):
    """The files pane has a fresh list of files (API file objects)."""

    def __init__(self, files: Sequence[Any]) -> None:
        super().__init__()
        self.files = files


class DetailLoaded(Message):
    """The detail pane fetched `job` afresh (e.g. its result files are now known)."""

    def __init__(self, job: Any) -> None:
        super().__init__()
        self.job = job


class EventsBatch(Message):
    """Events of `job_id` just added to the log, oldest first."""

    def __init__(self, job_id: str, rows: Sequence[EventRow]) -> None:
        super().__init__()
        self.job_id = job_id
        self.rows = rows
