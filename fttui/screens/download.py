"""`d`: save a job's results CSV where the user says, with progress."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from fttui.api import APIError, Client
from fttui.core.safe_text import safe_text
from fttui.messages import BackendFailed
from widgets import PathInput, TransferProgress


class DownloadScreen(ModalScreen[Path | None]):
    """Returns the path written, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, client: Client, job_id: str, file_id: str, directory: Path | None = None):
        super().__init__()
        self.client = client
        self.job_id = job_id
        self.file_id = file_id
        # The job id is a backend's: no path separators or controls in a file name.
        name = safe_text(job_id).replace("/", "_").replace("\\", "_")
        self.default = (directory or Path.cwd()) / f"{name}-results.csv"

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label(
                f"Download the results of {safe_text(self.job_id)}",
                classes="modal-title",
                markup=False,
            )
            yield Label(
                f"file {safe_text(self.file_id)} → path (Enter saves):",
                classes="modal-hint",
                markup=False,
            )
            yield PathInput(value=str(self.default), id="download-path")
            yield TransferProgress(id="download-progress")
            with Horizontal(classes="modal-buttons"):
                yield Button("Close", id="download-close")
                yield Button("Save (Enter)", id="download-go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#download-progress").display = False
        self.query_one("#download-path").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "download-go":
            self.save()
        else:
            self.action_close()

    @on(Input.Submitted, "#download-path")
    def _submitted(self) -> None:
        self.save()

    def action_close(self) -> None:
        self.dismiss(None)

    @work(exclusive=True, group="download")
    async def save(self) -> None:
        target = Path(self.query_one("#download-path", Input).value.strip()).expanduser()
        if target.is_dir():
            target = target / self.default.name
        if not target.parent.is_dir():
            self.notify(f"{target.parent}: no such directory", severity="error")
            return
        progress = self.query_one("#download-progress", TransferProgress)
        progress.display = True
        progress.set_label(f"saving {target.name}")
        try:
            await self.client.files.download(
                self.file_id, target, on_progress=progress.update_progress
            )
        except APIError as exc:
            self.post_message(BackendFailed("download", exc))
            return
        except OSError as exc:
            self.notify(f"{target}: {exc.strerror or exc}", title="download", severity="error")
            return
        self.notify(f"saved {target}", title="download")
        self.dismiss(target)
