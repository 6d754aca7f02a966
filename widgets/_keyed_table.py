"""A DataTable whose rows are keyed by id and updated incrementally.

Jobs and files are polled every few seconds; rebuilding thousands of rows each time
would block the UI and lose the cursor. This base keeps the rows it shows, touches
only rows that changed, keeps the cursor on the same id and leaves the scroll
position alone. Subclasses say how a row becomes cells, sorts and matches a filter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

R = TypeVar("R")

# Above this many removals a full rebuild is cheaper than remove_row (O(rows) each).
_REBUILD_ABOVE = 64
# New rows beyond this many are added one chunk per frame (DataTable measures every
# new cell, about 0.1 ms each, so 5,000 rows at once would block for a second).
_CHUNK = 100


class KeyedTable(DataTable[Any], Generic[R]):
    """Shared machinery for JobTable and FileTable (not exported on its own)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "cursor_first", "First", show=False),
        Binding("G", "cursor_last", "Last", show=False),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
    ]

    #: (column key, header label) in display order; subclasses set it.
    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = ()

    sort_key: reactive[str] = reactive("")
    sort_reverse: reactive[bool] = reactive(False)
    filter_text: reactive[str] = reactive("")

    def __init__(
        self,
        *,
        sort_key: str = "created",
        sort_reverse: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, name=name, id=id, classes=classes)
        self._all: dict[str, R] = {}
        # id -> (row, cells) as currently shown in the table.
        self._shown: dict[str, tuple[R, tuple[Any, ...]]] = {}
        self._now: float | None = None
        self._last_selected: str | None = None
        self._pending: list[tuple[str, R]] = []
        self._pending_in_order = False
        self._drain_scheduled = False
        self.set_reactive(KeyedTable.sort_key, sort_key)
        self.set_reactive(KeyedTable.sort_reverse, sort_reverse)

    # -- hooks for subclasses -------------------------------------------------------
    def _cells(self, row: R, now: float | None) -> tuple[Any, ...]:
        raise NotImplementedError

    def _sort_value(self, row: R, column: str) -> Any:
        raise NotImplementedError

    def _haystack(self, row: R) -> str:
        raise NotImplementedError

    def _row_id(self, row: R) -> str:
        return str(row.id)  # type: ignore[attr-defined]

    def _selected_message(self, key: str | None) -> Any:
        raise NotImplementedError

    # -- public ---------------------------------------------------------------------
    @property
    def selected_id(self) -> str | None:
        """Id of the row under the cursor, or None when the table is empty."""
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return None if key.value is None else str(key.value)

    def row_ids(self) -> list[str]:
        """Ids of the shown rows, top to bottom (after filter and sort)."""
        return [str(row.key.value) for row in self.ordered_rows]

    def select_id(self, key: str) -> bool:
        """Move the cursor to the row with this id; False when it is not shown."""
        if key not in self._shown:
            return False
        self.move_cursor(row=self.get_row_index(key))
        return True

    def action_cursor_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_cursor_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def action_cycle_sort(self) -> None:
        """Sort by the next column (wrapping round)."""
        keys = [key for key, _ in self.COLUMNS]
        index = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.sort_key = keys[(index + 1) % len(keys)]

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    # -- machinery ------------------------------------------------------------------
    def on_mount(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(self._header(key, label), key=key)
        self._sync()

    def _header(self, key: str, label: str) -> Text:
        # The arrow slot is always reserved so the column width never jumps.
        arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_key else "  "
        return Text(label + arrow)

    def _relabel(self) -> None:
        for key, label in self.COLUMNS:
            column = self.columns.get(key)  # type: ignore[call-overload]
            if column is not None:
                column.label = self._header(key, label)
        self._update_count += 1
        self.refresh()

    def _sort_function(self) -> Callable[[Any], Any]:
        column = self.sort_key
        rows = self._all

        def key(row_id: Any) -> Any:
            # The "id" column's cell is the plain id string: look the row up by it.
            row_key = str(row_id)  # a Text cell: str() is its plain text
            return (self._sort_value(rows[row_key], column), row_key)

        return key

    def _set_rows(self, rows: Sequence[R], now: float | None) -> None:
        self._all = {self._row_id(r): r for r in rows}
        self._now = now
        self._sync()

    def _sync(self, resort: bool = False) -> None:
        """Make the table show `self._all` filtered and sorted, touching only changes."""
        if not self.columns:
            return  # not mounted yet: on_mount syncs
        selected = self.selected_id
        old_cursor_row = self.cursor_row
        scroll = (self.scroll_x, self.scroll_y)
        now = self._now
        needle = self.filter_text.strip().casefold()  # a reactive: read once, not per row
        visible = (
            {k: r for k, r in self._all.items() if needle in self._haystack(r).casefold()}
            if needle
            else self._all
        )
        gone = [key for key in self._shown if key not in visible]
        if len(gone) > _REBUILD_ABOVE:
            self.clear()
            self._shown.clear()
            gone = []
        for key in gone:
            self.remove_row(key)
            del self._shown[key]
        column_keys = [key for key, _ in self.COLUMNS]
        sort_key = self.sort_key  # a reactive: read once, not per row
        reorder = resort
        self._pending.clear()  # rows still queued from an earlier update are re-queued below
        new_rows: list[tuple[str, R]] = []
        for key, row in visible.items():
            old = self._shown.get(key)
            if old is None:
                new_rows.append((key, row))
                continue
            old_row, old_cells = old
            if old_row is row or old_row == row:
                if not self._ticks(row):
                    continue  # the common case, kept cheap: nothing to recompute
                # Same data, but some cells follow the clock: recompute only those.
                ticked = list(old_cells)
                for index, cell in self._clock_cells(row, now).items():
                    if cell != old_cells[index]:
                        self._update(key, column_keys[index], cell)
                        ticked[index] = cell
                        reorder = reorder or column_keys[index] == sort_key
                self._shown[key] = (row, tuple(ticked))
                continue
            cells = self._cells(row, now)
            if cells == old_cells and old_row == row:
                continue
            for index, (before, after) in enumerate(zip(old_cells, cells, strict=True)):
                if before != after:
                    self._update(key, column_keys[index], after)
            if self._sort_value(old_row, sort_key) != self._sort_value(row, sort_key):
                reorder = True
            self._shown[key] = (row, cells)
        in_order = False
        if len(new_rows) > _CHUNK:
            # Many new rows (first load, filter cleared): add them in sorted chunks, one
            # per frame, so the top of the list shows at once and the UI never stalls.
            order = self._sort_function()
            new_rows.sort(key=lambda item: order(item[0]), reverse=self.sort_reverse)
            # Into an empty table, sorted chunks appended in turn stay sorted: no
            # re-sort of the growing table per chunk (15 ms at 5,000 rows).
            in_order = not self._shown
            self._pending = new_rows[_CHUNK:]
            new_rows = new_rows[:_CHUNK]
        self._pending_in_order = in_order
        self._add(new_rows)
        if (new_rows and not in_order) or reorder:
            self.sort("id", key=self._sort_function(), reverse=self.sort_reverse)
        self._restore(selected, old_cursor_row, scroll)
        self._schedule_drain()

    async def _on_idle(self, event: events.Idle) -> None:
        """Measure new rows (DataTable does it when idle), then drop stale renders.

        DataTable widens its columns on idle but keeps the lines it rendered before
        with the old widths; a frame drawn between `add_row` and that idle pass
        would stay on screen with squeezed columns (seen under load). Clearing the
        render caches after a measuring pass redraws the visible rows once.
        """
        measuring = self._require_update_dimensions or bool(self._updated_cells)
        await super()._on_idle(event)
        if measuring:
            self._clear_caches()
            self.refresh()

    def _add(self, rows: list[tuple[str, R]]) -> None:
        now = self._now
        for key, row in rows:
            cells = self._cells(row, now)
            self.add_row(*cells, key=key)
            self._shown[key] = (row, cells)

    def _schedule_drain(self) -> None:
        if self._pending and not self._drain_scheduled:
            self._drain_scheduled = True
            self.call_after_refresh(self._drain)

    def _drain(self) -> None:
        """Add the next chunk of queued rows (after the screen has been drawn)."""
        self._drain_scheduled = False
        if not self._pending:
            return
        selected = self.selected_id
        old_cursor_row = self.cursor_row
        scroll = (self.scroll_x, self.scroll_y)
        chunk = self._pending[:_CHUNK]
        del self._pending[:_CHUNK]
        self._add([(key, row) for key, row in chunk if key not in self._shown])
        if not self._pending_in_order:
            self.sort("id", key=self._sort_function(), reverse=self.sort_reverse)
        self._restore(selected, old_cursor_row, scroll)
        self._schedule_drain()

    @property
    def rows_pending(self) -> int:
        """Rows from the last update not yet added (they go in chunk by chunk)."""
        return len(self._pending)

    def _update(self, key: str, column_key: str, cell: Any) -> None:
        """Update one cell; let the column grow but never re-measure it whole.

        DataTable's `update_width=True` re-measures every cell of the column when the
        new value is narrower (O(rows) per cell), so it is only asked to when the new
        value is wider, which is the cheap path. Columns never shrink on update.
        """
        column = self.columns.get(column_key)  # type: ignore[call-overload]
        width = cell.cell_len if isinstance(cell, Text) else len(str(cell))
        grow = column is not None and width > column.content_width
        self.update_cell(key, column_key, cell, update_width=grow)

    def _ticks(self, row: R) -> bool:
        """True when some of the row's cells depend on the clock (see `_clock_cells`)."""
        return False

    def _clock_cells(self, row: R, now: float | None) -> dict[int, Any]:
        """The clock-dependent cells of an unchanged row, by column index."""
        return {}

    def _restore(self, selected: str | None, old_row: int, scroll: tuple[float, float]) -> None:
        if self.row_count == 0:
            self._announce()
            return
        if selected is not None and selected in self._shown:
            index = self.get_row_index(selected)
        else:
            index = min(max(0, old_row), self.row_count - 1)
        if index != self.cursor_row:
            self.move_cursor(row=index, scroll=False)
        self.scroll_to(scroll[0], scroll[1], animate=False, immediate=True)
        self._announce()

    def _announce(self) -> None:
        """Post the selection message when the id under the cursor changed."""
        current = self.selected_id
        if current != self._last_selected:
            self._last_selected = current
            self.post_message(self._selected_message(current))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Read the cursor now, not the event's row: during an update the cursor
        # passes over intermediate rows, and only where it ends matters.
        self._announce()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key = key

    def watch_sort_key(self) -> None:
        self._resort()

    def watch_sort_reverse(self) -> None:
        self._resort()

    def watch_filter_text(self) -> None:
        self._sync()

    def _resort(self) -> None:
        if not self.columns:
            return
        self._relabel()
        self._sync(resort=True)
