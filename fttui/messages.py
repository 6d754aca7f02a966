"""The named messages the panes post up to the main screen and the app.

Each pane owns its workers and timers and says what happened with one of these
(handled with `@on(...)`); nothing below the screen reaches into a sibling pane.
A pane that needs a dialog asks for it (the `...Wanted` messages): the main screen
opens the dialogs, so no pane imports `fttui.screens` (an import-linter contract).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from fttui.api import APIError, FileObject, FineTuningJob
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

    def __init__(self, jobs: Mapping[str, FineTuningJob]) -> None:
        super().__init__()
        self.jobs = jobs


class JobEnded(Message):
    """A job seen active in this session reached succeeded, failed or cancelled."""

    def __init__(self, job: FineTuningJob) -> None:
        super().__init__()
        self.job = job


class FilesLoaded(Message):
    """The files pane has a fresh list of files (API file objects)."""

    def __init__(self, files: Sequence[FileObject]) -> None:
        super().__init__()
        self.files = files


class DetailLoaded(Message):
    """The detail pane fetched `job` afresh (e.g. its result files are now known)."""

    def __init__(self, job: FineTuningJob) -> None:
        super().__init__()
        self.job = job


class EventsBatch(Message):
    """Events of `job_id` just added to the log, oldest first."""

    def __init__(self, job_id: str, rows: Sequence[EventRow]) -> None:
        super().__init__()
        self.job_id = job_id
        self.rows = rows


class JobFormWanted(Message):
    """Open the job form, empty or (`clone_from`) filled from a job."""

    def __init__(self, clone_from: FineTuningJob | None = None) -> None:
        super().__init__()
        self.clone_from = clone_from


class DownloadWanted(Message):
    """Open the download dialog for one of a job's result files."""

    def __init__(self, job_id: str, file_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.file_id = file_id


class TryModelWanted(Message):
    """Open Try model on `model` (prompts like those of `training_file`, if any; a
    prompt from `validation_file` on request)."""

    def __init__(
        self, model: str, training_file: str | None, validation_file: str | None = None
    ) -> None:
        super().__init__()
        self.model = model
        self.training_file = training_file
        self.validation_file = validation_file


class UploadWanted(Message):
    """Open the upload dialog."""


class PreviewWanted(Message):
    """Open the preview of a file's first lines."""

    def __init__(self, file_id: str) -> None:
        super().__init__()
        self.file_id = file_id


class EvalWanted(Message):
    """Open the evaluation of `model` against `against` (its base) on `file_id`
    (scored by `grader`, a reinforcement job's, when the file is a reinforcement file)."""

    def __init__(
        self,
        model: str,
        against: str | None,
        file_id: str | None,
        grader: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.against = against
        self.file_id = file_id
        self.grader = grader


class ExportWanted(Message):
    """Open the export of a fine-tuned model to a directory other tools load."""

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
