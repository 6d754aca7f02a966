"""`u`: check a JSONL file, show the report, then upload it with a progress bar.

The check runs in a thread (it tokenises every example) so the screen stays live;
the upload streams from disk through the API layer, which reports progress. On the
local server the report is followed by what is trained: the first examples rendered by
the model's own chat format with the trained tokens marked and counted
(`fttui.data.preview`, as `fttui prepare --show-trained` prints them).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from fttui.api import APIError, Client
from fttui.core.safe_text import safe_text
from fttui.messages import BackendFailed
from widgets import ConfirmDialog, PathInput, TransferProgress

if TYPE_CHECKING:
    from fttui.data.report import Report

#: Uploaded files the check compares a new file with (the newest first).
OVERLAP_FILES = 3
#: The model the upload check counts with against OpenAI, per file format.
OPENAI_CHECK_MODELS = {
    "chat": "gpt-4o-mini-2024-07-18",
    "preference": "gpt-4o-mini-2024-07-18",
    "reinforcement": "o4-mini-2025-04-16",
}
#: How many examples the trained-token preview shows.
PREVIEW_EXAMPLES = 2


def sniff_format(path: Path) -> str | None:
    """The format of a JSONL file's first example (chat, preference, reinforcement or
    prompt_completion), from its keys; None when the first line is not an object."""
    import json

    try:
        with open(path, "rb") as fh:
            for raw in fh:
                if raw.strip():
                    line = json.loads(raw)
                    break
            else:
                return None
    except (OSError, ValueError):
        return None
    if not isinstance(line, dict):
        return None
    if "input" in line and "preferred_output" in line:
        return "preference"
    messages = line.get("messages")
    if isinstance(messages, list):
        last = messages[-1] if messages else {}
        ends_with_user = isinstance(last, dict) and last.get("role") == "user"
        return "reinforcement" if ends_with_user else "chat"
    return "prompt_completion" if "prompt" in line else None


class UploadScreen(ModalScreen[str | None]):
    """Returns the uploaded file's id, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "upload", "Upload"),
    ]

    def __init__(
        self, client: Client, path: str = "", *, prices: dict[str, float] | None = None
    ) -> None:
        super().__init__()
        self.client = client
        #: The config's [prices] over fttui's table (the cost line against OpenAI).
        self.prices = prices or {}
        self._sniffed: str | None = None
        self.initial_path = path
        self.report: Report | None = None
        self.checked_path: Path | None = None
        self.uploading = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label("Upload a training or validation file", classes="modal-title")
            with VerticalScroll(classes="modal-body", id="upload-body"):
                yield Label("JSONL path (Tab completes, Enter checks):", classes="modal-hint")
                yield PathInput(value=self.initial_path, id="upload-path")
                yield Static("", id="upload-report", classes="report")
            yield TransferProgress(id="upload-progress")
            with Horizontal(classes="modal-buttons"):
                yield Button("Close", id="upload-close")
                yield Button("Check (Enter)", id="upload-check")
                yield Button("Upload (ctrl+s)", id="upload-go", variant="primary", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#upload-progress").display = False
        self.query_one("#upload-report").display = False
        self.query_one("#upload-path").focus()

    @property
    def check_model(self) -> str:
        """The model whose tokenizer and context limit the check applies.

        On the local server that is its default model (its own tokenizer and
        2048-token context), so lengths are checked as the trainer will check them;
        elsewhere davinci-002 (cl100k_base, 16,384 tokens), the checker's default.
        """
        if self.client.is_local:
            from fttui.core.models import DEFAULT_MODEL

            return DEFAULT_MODEL
        # OpenAI: a model that trains on this kind of file (a chat file is not
        # billed at davinci-002's price nor counted with its tokenizer).
        return OPENAI_CHECK_MODELS.get(self._sniffed or "", "davinci-002")

    def _path(self) -> Path:
        return Path(self.query_one("#upload-path", Input).value.strip()).expanduser()

    @on(Input.Submitted, "#upload-path")
    def _submitted(self) -> None:
        self.check()

    @on(Input.Changed, "#upload-path")
    def _changed(self) -> None:
        self.query_one("#upload-go", Button).disabled = True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "upload-check":
            self.check()
        elif event.button.id == "upload-go":
            self.action_upload()
        elif event.button.id == "upload-close":
            self.action_close()

    def action_close(self) -> None:
        if not self.uploading:
            self.dismiss(None)

    def _show(self, renderable: RenderableType) -> None:
        report = self.query_one("#upload-report", Static)
        report.display = True
        report.update(renderable)

    @work(exclusive=True, group="check")
    async def check(self) -> None:
        import asyncio

        from fttui.data import check_file

        await self.client.detect()
        path = self._path()
        if not path.is_file():
            self._show(Text(safe_text(f"{path}: no such file"), style="red"))
            return
        self._show(Text(safe_text(f"checking {path} …")))
        self._sniffed = sniff_format(path)
        try:
            report = await asyncio.to_thread(check_file, path, model=self.check_model)
        except (OSError, ValueError) as exc:
            self._show(Text(safe_text(f"{path}: {exc}", multiline=True), style="red"))
            return
        self.report = report
        self.checked_path = path
        from rich.console import Group

        parts: list[RenderableType] = [report.to_rich()]
        if self.client.is_local:
            from fttui.data.preview import render_previews, trained_preview

            model = self.check_model
            shown = await asyncio.to_thread(trained_preview, path, model, None, PREVIEW_EXAMPLES)
            if isinstance(shown, str):
                trained = Text(safe_text(shown), style="dim")
            else:
                trained = render_previews(model, shown, plain=False)
            parts += [Text(""), trained]
        else:
            from fttui.core.prices import cost_line

            method = "reinforcement" if report.format == "reinforcement" else "supervised"
            line = cost_line(
                report.model, report.tokens_per_epoch, report.n_epochs, method=method,
                overrides=self.prices,
            )  # fmt: skip
            parts.append(Text(safe_text(line), style="yellow"))
        self._show(Group(*parts))
        # The second file of a pair: examples it shares with one already uploaded.
        shared = await self._shared_with_uploaded(path, report.format)
        if shared:
            parts.append(Text(safe_text("\n".join(shared)), style="yellow"))
            self._show(Group(*parts))
        go = self.query_one("#upload-go", Button)
        go.disabled = False
        go.focus()

    async def _shared_with_uploaded(self, path: Path, fmt: str | None) -> list[str]:
        """For each of the newest fine-tune files already uploaded (OVERLAP_FILES, each
        up to OVERLAP_MAX_BYTES, of this file's format where the backend says), the
        examples this file shares with it: count and line numbers on both sides. A
        validation file must share none with its training file."""
        import asyncio
        import tempfile

        from fttui.data.overlap import OVERLAP_MAX_BYTES, find_overlap

        try:
            files = [f async for f in self.client.files.iter()]
        except APIError:
            return []
        candidates = []
        for f in sorted(files, key=lambda f: -(f.created_at or 0)):
            known = getattr(f, "fttui", None)
            their_fmt = known.get("format") if isinstance(known, dict) else None
            if f.purpose != "fine-tune" or (f.bytes or 0) > OVERLAP_MAX_BYTES:
                continue
            if fmt and their_fmt and their_fmt != fmt:
                continue
            candidates.append(f)
        said: list[str] = []
        with tempfile.TemporaryDirectory(prefix="fttui-") as tmp:
            for f in candidates[:OVERLAP_FILES]:
                other = Path(tmp) / f.id
                try:
                    await self.client.files.download(f.id, other)
                    found = await asyncio.to_thread(find_overlap, other, path)
                except (APIError, OSError):
                    continue
                if found.count:
                    name = str(f.filename or f.id)
                    said.append(
                        f"{found.count} example{'s' if found.count != 1 else ''} also in "
                        f"{name} ({f.id}): {found.lines_text(name, path.name)}. Training "
                        "and validation files must share none (the job would fail)."
                    )
        return said

    def action_upload(self) -> None:
        if self.checked_path is None or self.report is None or self.uploading:
            self.notify("check the file first (Enter)", severity="warning")
            return
        errors = self.report.errors
        if errors:

            def answer(yes: bool | None) -> None:
                if yes:
                    self.upload()

            self.app.push_screen(
                ConfirmDialog(
                    f"The check found {len(errors)} error(s). Upload anyway?",
                    "Training may fail or learn the wrong thing; `fttui prepare --fix` can fix many.",
                ),
                answer,
            )
            return
        self.upload()

    @work(exclusive=True, group="upload")
    async def upload(self) -> None:
        assert self.checked_path is not None
        path = self.checked_path
        progress = self.query_one("#upload-progress", TransferProgress)
        progress.display = True
        progress.set_label(f"uploading {path.name}")
        self.uploading = True
        self.query_one("#upload-go", Button).disabled = True
        try:
            uploaded = await self.client.files.upload(
                path, purpose="fine-tune", on_progress=progress.update_progress
            )
        except APIError as exc:
            self.post_message(BackendFailed("upload", exc))
            self.query_one("#upload-go", Button).disabled = False
            return
        finally:
            self.uploading = False
        self.notify(f"uploaded {path.name} as {uploaded.id}", title="upload")
        self.dismiss(uploaded.id)
