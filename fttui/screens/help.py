"""`?`: every key the app answers to, read from the BINDINGS themselves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


def _key_name(binding: Binding) -> str:
    names = {"question_mark": "?", "slash": "/", "shift+tab": "shift+tab"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def key_sections() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(section, [(key, description)]) for the app, the main screen and each list widget."""
    from fttui.app import FtTuiApp
    from fttui.screens.main import MainScreen
    from widgets import EventLog, FileTable, JobTable

    def rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
        out = []
        for b in bindings:
            if isinstance(b, Binding):
                out.append((_key_name(b), b.description or b.action))
            else:
                out.append((str(b[0]), str(b[-1])))
        return out

    yield "Everywhere", rows(FtTuiApp.BINDINGS)
    yield "Main screen", rows(MainScreen.BINDINGS)
    yield "Jobs list", rows(JobTable.BINDINGS)
    yield "Files list", rows(FileTable.BINDINGS)
    yield "Events", rows(EventLog.BINDINGS)
    yield (
        "Dialogs",
        [
            ("escape", "close the dialog"),
            ("ctrl+s", "submit a form"),
            ("y / n", "answer a confirmation"),
        ],
    )


class HelpScreen(ModalScreen[None]):
    """A table of keys; Escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("action")
        for section, items in key_sections():
            table.add_row(f"[b]{section}[/b]", "")
            for key, description in items:
                table.add_row(key, description)
            table.add_row("", "")
        with Vertical(classes="modal-box"):
            yield Label("Keys", classes="modal-title")
            with VerticalScroll():
                yield Static(table)
            yield Label("Escape closes · ctrl+p opens the command palette", classes="modal-hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
