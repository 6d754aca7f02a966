"""A bare App that mounts the widgets under test, plus a helper to read what they draw."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.message import Message
from textual.widget import Widget


class Host(App[Any]):
    """Mounts the widgets made by `make` and records every message they post."""

    def __init__(self, make: Callable[[], list[Widget]], css: str = "") -> None:
        self._make = make
        self.CSS = css
        super().__init__()
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield from self._make()

    def on_job_table_job_selected(self, message: Message) -> None:
        self.messages.append(message)

    def on_file_table_file_selected(self, message: Message) -> None:
        self.messages.append(message)


def drawn_text(widget: Widget) -> str:
    """The text the widget shows right now (its visible lines, styles dropped)."""
    width, height = widget.size
    strips = widget.render_lines(Region(0, 0, width, height))
    return "\n".join(strip.text.rstrip() for strip in strips)
