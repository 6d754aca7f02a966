"""`E`: export a fine-tuned model of the local server as a directory other tools load.

`hf`: the merged safetensors weights (LoRA adapters merged), config, tokenizer and
chat template, which transformers, vLLM and TGI load; `gguf`: model.gguf and an
Ollama Modelfile, for models whose base came from a GGUF. The server sends the
directory as a tar (`client.models.export`, the same call as `fttui export`), so it
works against a local server on another machine too. OpenAI keeps its models: there
the dialog says so instead of asking.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from fttui.api import APIError, Client
from fttui.backend import describe_error
from fttui.core.safe_text import safe_text
from widgets import PathInput

FORMATS = [
    ("hf: safetensors directory (transformers, vLLM)", "hf"),
    ("gguf: model.gguf + Ollama Modelfile", "gguf"),
]


def default_directory(model: str, parent: Path | None = None) -> Path:
    """`./<model name made safe for a directory name>`."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.") or "model"
    return (parent or Path.cwd()) / name


class ExportScreen(ModalScreen[Path | None]):
    """Returns the directory written, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "export", "Export"),
    ]

    def __init__(self, client: Client, model: str, directory: Path | None = None) -> None:
        super().__init__()
        self.client = client
        self.model = model
        self.default = default_directory(model, directory)
        #: The directory written by the last export (None before one).
        self.written: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label(f"Export {safe_text(self.model)}", classes="modal-title", markup=False)
            yield Label("format", classes="modal-hint")
            yield Select(FORMATS, value="hf", allow_blank=False, id="export-format")
            yield Label("directory to write (Enter exports):", classes="modal-hint")
            yield PathInput(value=str(self.default), id="export-path")
            yield Label("", id="export-status", classes="modal-hint")
            with Horizontal(classes="modal-buttons"):
                yield Button("Close", id="export-close")
                yield Button("Export (ctrl+s)", id="export-go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#export-path").focus()

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#export-status", Label).update(Text(safe_text(text), style=style))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export-go":
            self.action_export()
        else:
            self.action_close()

    @on(Input.Submitted, "#export-path")
    def _submitted(self) -> None:
        self.action_export()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_export(self) -> None:
        self.export()

    @work(exclusive=True, group="export")
    async def export(self) -> None:
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            self._status("name the directory to write", "red")
            return
        target = Path(raw).expanduser()
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            self._status(f"{target}: exists and is not an empty directory", "red")
            return
        if not target.parent.is_dir():
            self._status(f"{target.parent}: no such directory", "red")
            return
        await self.client.detect()
        if not self.client.is_local:
            self._status("export needs fttui's local server: this backend keeps its models", "red")
            return
        fmt = str(self.query_one("#export-format", Select).value)
        self._status(f"exporting {self.model} ({fmt}) …")
        # Merging and sending a model takes longer than the app's quick calls allow.
        try:
            async with self.client.with_options(timeout=600.0, max_retries=2) as client:
                await client.models.export(self.model, target, fmt)
        except APIError as exc:
            self._status(describe_error("export", exc).text, "red")
            return
        except OSError as exc:
            self._status(f"{target}: {exc.strerror or exc}", "red")
            return
        self.written = target
        names = sorted(p.name for p in target.iterdir())
        self._status(f"exported to {target}: {', '.join(names)}", "green")
        self.notify(f"exported {self.model} to {target}", title="export")
