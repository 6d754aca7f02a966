"""Several jobs side by side: one column per job, rows that differ highlighted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from fttui.core.safe_text import safe_text


class CompareTable(VerticalScroll):
    """Field names down the left, one column per job; a row whose values are not all
    the same is drawn in the `compare-table--differs` style (bold, warning colour),
    so what changed between runs stands out. Values are plain text, controls shown.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"compare-table--differs"}

    DEFAULT_CSS = """
    CompareTable { height: 1fr; }
    /* The pane's width: Rich folds long values so every job's column shows. */
    CompareTable > #compare-body { width: 100%; height: auto; }
    CompareTable > .compare-table--differs { color: $warning; text-style: bold; }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._headers: list[str] = []
        self._rows: list[tuple[str, list[str]]] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="compare-body")

    def on_mount(self) -> None:
        self.query_one("#compare-body", Static).update(self._table())

    @property
    def headers(self) -> list[str]:
        return list(self._headers)

    @property
    def differing(self) -> list[str]:
        """Names of the rows whose values are not all the same."""
        return [name for name, values in self._rows if len(set(values)) > 1]

    def set_columns(
        self, headers: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]
    ) -> None:
        """`headers`: one per job; `rows`: (field, one value per job), in order."""
        new_headers = [safe_text(str(h)) for h in headers]
        new_rows = [(safe_text(str(n)), [safe_text(str(v)) for v in vs]) for n, vs in rows]
        if new_headers == self._headers and new_rows == self._rows:
            return
        self._headers, self._rows = new_headers, new_rows
        if self.is_mounted:
            self.query_one("#compare-body", Static).update(self._table())

    def _table(self) -> Table:
        table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, expand=False)
        table.add_column("", style="bold", no_wrap=True)
        for header in self._headers:
            table.add_column(Text(header, style="bold"), overflow="fold", max_width=40)
        differs = self.get_component_rich_style("compare-table--differs", partial=True)
        for name, values in self._rows:
            style = differs if len(set(values)) > 1 else ""
            table.add_row(Text(name), *(Text(v, style=style) for v in values))
        return table
