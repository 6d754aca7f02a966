"""The Files pane: uploaded files and the storage quota, refreshed every 5 s."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult

from fttui.api import FileObject
from fttui.messages import FilesLoaded, PreviewWanted, UploadWanted
from fttui.panes.base import Pane
from fttui.panes.convert import file_row
from widgets import FileTable, QuotaBar, human_bytes

FILES_INTERVAL = 5.0
EMPTY = "No files yet. Press u to check and upload a JSONL training file."


class FilesPane(Pane):
    """Lists files with a quota bar (the server's count against its limit, or the
    sum of the listed files with an unknown limit when the backend does not say).
    Posts `FilesLoaded` after each refresh."""

    NAME: ClassVar[str] = "files"
    TITLE: ClassVar[str] = "Files"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.files: list[FileObject] = []
        self._started = False

    def compose(self) -> ComposeResult:
        self.quota = QuotaBar(id="quota")
        self.table = FileTable(empty_text=EMPTY, classes="pane-main")
        yield self.quota
        yield self.table

    @property
    def selected_file_id(self) -> str | None:
        return self.table.selected_file_id

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.refresh_files()
            self.set_interval(FILES_INTERVAL, self.refresh_files)

    @work(exclusive=True, group="files")
    async def refresh_files(self) -> None:
        client = self.backend.client

        async def load_all() -> list[FileObject]:
            return [f async for f in client.files.iter()]

        files = await self.call("list files", load_all)
        if files is None:
            return
        self.files = files
        self.table.set_files([file_row(f) for f in files])
        self.tell(FilesLoaded(files))
        usage = await self.call("usage", client.usage)
        quota = self.quota
        if usage is not None:
            quota.used = usage.used_bytes
            quota.limit = usage.limit_bytes
            # The local server's models and checkpoints: on its disk, not in the quota.
            quota.others_label = others_label(usage)
            quota.others = usage.artifact_bytes
            quota.refresh()
        else:
            quota.used = sum(int(f.bytes or 0) for f in files)
            quota.limit = None
            quota.others = None

    def upload(self) -> None:
        """Ask for the upload dialog (path, data check report, streamed upload)."""
        self.post_message(UploadWanted())

    def uploaded(self, file_id: str | None) -> None:
        """The upload dialog closed: list the new file, if one was uploaded."""
        if file_id:
            self.refresh_files()

    def preview_selected(self) -> None:
        """Ask for the preview of the selected file."""
        file_id = self.selected_file_id
        if file_id is None:
            self.notify("select a file first (1 for the files pane)", severity="warning")
            return
        self.post_message(PreviewWanted(file_id))

    def delete_selected(self) -> None:
        file_id = self.selected_file_id
        if file_id is None:
            self.notify("no file selected", severity="warning")
            return
        row = self.table.files.get(file_id)
        what = f"{row.filename} ({file_id})" if row is not None and row.filename else file_id
        self.confirm(f"Delete file {what}?", "Its bytes are removed.", lambda: self.delete(file_id))

    @work(group="file-actions")
    async def delete(self, file_id: str) -> None:
        if await self.call("delete file", lambda: self.backend.client.files.delete(file_id)):
            self.notify(f"deleted {file_id}", title="files")
            self.refresh_files()


def others_label(usage: Any) -> str:
    """What the quota line calls the models and checkpoints, with the jobs they belong
    to: `models/checkpoints of 2 jobs (largest ftjob-…1f2a 540.0 MB)`."""
    count = usage.jobs_on_disk
    if not count:
        return "models/checkpoints"
    label = f"models/checkpoints of {count} job{'s' if count != 1 else ''}"
    if usage.largest_jobs:
        top = usage.largest_jobs[0]
        label += f" (largest {top.id} {human_bytes(top.bytes)})"
    return label
