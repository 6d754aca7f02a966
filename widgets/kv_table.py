"""Two-column key/value view for job detail (hyperparameters, files, error...)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from fttui.core.safe_text import safe_text

#: The widest a key is drawn (longer ones end in an ellipsis).
KEY_WIDTH = 32


class KeyValueTable(VerticalScroll):
    """Keys in a bold left column, values wrapped on the right; scrolls when long.

    Keys and values are plain text (never markup) with control characters shown
    (`safe_text`), so an error message from a server shows exactly as sent and
    can neither style nor drive the terminal.
    """

    DEFAULT_CSS = """
    KeyValueTable { height: 1fr; }
    KeyValueTable > #kv-body { width: 100%; height: auto; }
    """

    def __init__(
        self,
        items: Sequence[tuple[str, str]] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._items: list[tuple[str, str]] = list(items)

    def compose(self) -> ComposeResult:
        yield Static(self._table(), id="kv-body")

    @property
    def items(self) -> list[tuple[str, str]]:
        """The pairs currently shown."""
        return list(self._items)

    def set_items(self, items: Sequence[tuple[str, str]]) -> None:
        """Replace the shown pairs (no-op when unchanged, so polling does not flicker)."""
        new = [(str(k), str(v)) for k, v in items]
        if new == self._items:
            return
        self._items = new
        # `query`, not `query_one`: while the app closes a worker may still bring a job's
        # detail after the body is gone, and NoMatches in a worker ends the app (seen in
        # CI: tests/tui/test_ui_state.py, the detail pane's load finishing after `q`).
        for body in self.query("#kv-body").results(Static):
            body.update(self._table())

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2), expand=True)
        # A key longer than KEY_WIDTH (a backend's own hyperparameter or metadata name)
        # ends in an ellipsis: it must never push the values off the pane.
        table.add_column(style="bold", no_wrap=True, max_width=KEY_WIDTH, overflow="ellipsis")
        table.add_column(ratio=1, overflow="fold")
        for key, value in self._items:
            table.add_row(Text(safe_text(key)), Text(safe_text(value, multiline=True)))
        return table
