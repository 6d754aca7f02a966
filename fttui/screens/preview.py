"""`p`: the first lines of an uploaded file, fetched with a ranged read.

The bytes are a backend's (or a data file's): shown as plain text with control
characters made visible (`safe_text`), never obeyed by the terminal.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from fttui.api import APIError, Client
from fttui.backend import describe_error
from fttui.core.safe_text import safe_text

PREVIEW_BYTES = 65536
PREVIEW_LINES = 40


class PreviewScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,p", "close", "Close")]

    def __init__(self, client: Client, file_id: str) -> None:
        super().__init__()
        self.client = client
        self.file_id = file_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label(
                f"Preview of {safe_text(self.file_id)}", classes="modal-title", markup=False
            )
            with VerticalScroll(id="preview-scroll", classes="modal-body"):
                yield Static("loading …", id="preview-text", markup=False)
            yield Label("Escape closes", classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one("#preview-scroll").focus()
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)

    @work(exclusive=True)
    async def load(self) -> None:
        text = self.query_one("#preview-text", Static)
        try:
            head = await self.client.files.head(self.file_id, max_bytes=PREVIEW_BYTES)
        except APIError as exc:
            text.update(
                safe_text(
                    describe_error(f"could not read {self.file_id}", exc).text, multiline=True
                )
            )
            return
        lines = head.decode("utf-8", errors="replace").splitlines()
        shown = lines[:PREVIEW_LINES]
        more = "" if len(lines) <= PREVIEW_LINES and len(head) < PREVIEW_BYTES else "\n…"
        text.update(
            "\n".join(f"{i:>4}  {safe_text(line)}" for i, line in enumerate(shown, 1)) + more
        )
