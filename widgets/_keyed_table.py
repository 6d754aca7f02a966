"""A table of rows keyed by id, updated incrementally and drawn line by line.

Jobs and files are polled every few seconds; with 5,000 jobs Textual's DataTable
was the app's slowest part: it re-rendered every visible cell through Rich after
any change (about 100 ms for a 160-column pane), measured every new cell the same
way, and kept some twenty Python objects per row, which made the garbage
collector's full passes take 100-250 ms. This table keeps each row as a tuple of
strings (invisible to the collector), grows its column widths as rows arrive,
sorts ids rather than rows, and draws only the visible rows, each cached as one
strip until that row, the widths or the styles change. An update costs
O(changed rows) plus a sort; a frame costs O(visible rows).

The cursor stays on the same id across updates; the scroll position is left
alone. Subclasses say how a row becomes cells, sorts and matches a filter.

Cells come from a backend (ids, names, model ids) and are drawn as raw segments,
which bypass Rich's own handling: every cell passes `safe_text` here, once per
changed row, so a control sequence in a file name shows as `\x1b[2J` instead of
clearing the user's screen.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fttui.core.safe_text import safe_text
from widgets._scrolling import set_virtual_size

R = TypeVar("R")

# Rows whose cells are not known yet are measured this many per frame (a first
# load of 5,000 jobs would otherwise format every cell in one blocking step).
_MEASURE_CHUNK = 500
# Drawn rows kept; far more than any screen shows.
_STRIP_CACHE_MAX = 512
#: Drawn in a marked row's first column.
MARK = "●"


def _width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def _clip(text: str, room: int, *, keep_end: bool = False) -> str:
    """`text` cut to `room` cells with "…" where it was cut (its start, `keep_end`)."""
    if room <= 1:
        return "…"[:room]
    if keep_end:
        cut = text[-(room - 1) :]
        while _width(cut) > room - 1:
            cut = cut[1:]
        return "…" + cut
    cut = text[: room - 1]
    while _width(cut) > room - 1:
        cut = cut[:-1]
    return cut + "…"


@dataclass
class Column:
    """One column: its key, header label (with the sort arrow) and content width."""

    key: str
    label: Text
    width: int
    right: bool = False


class KeyedTable(ScrollView, Generic[R], can_focus=True):
    """Shared machinery for JobTable and FileTable (not exported on its own)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "cursor_first", "First", show=False),
        Binding("end,G", "cursor_last", "Last", show=False),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keyed-table--header",
        "keyed-table--cursor",
        "keyed-table--even-row",
        "keyed-table--empty",
    }

    DEFAULT_CSS = """
    KeyedTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        overflow: auto auto;
        &:focus {
            background-tint: $foreground 5%;
            & > .keyed-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .keyed-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .keyed-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .keyed-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .keyed-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .keyed-table--empty {
            color: $foreground-muted;
            text-style: italic;
        }
        & > .keyed-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    #: (column key, header label) in display order; subclasses set it.
    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: Keys of right-aligned columns (numbers).
    RIGHT_ALIGNED: ClassVar[frozenset[str]] = frozenset()
    #: Column keys, most needed first: when the columns do not fit the table's width,
    #: the last ones are dropped first (after the shrinkable ones have shrunk). Empty:
    #: every column always shows (the table scrolls sideways instead).
    KEEP_ORDER: ClassVar[tuple[str, ...]] = ()
    #: Shrinkable columns and the fewest characters of content they keep; a cell cut
    #: short ends in "…" (`CLIP_HEAD` columns keep their end instead: ids differ there).
    SHRINK: ClassVar[dict[str, int]] = {}  # noqa: RUF012 - read-only
    CLIP_HEAD: ClassVar[frozenset[str]] = frozenset()
    #: Columns not shown until asked for (`show_column`), e.g. the files' ids.
    HIDDEN: ClassVar[frozenset[str]] = frozenset()

    sort_key: reactive[str] = reactive("")
    sort_reverse: reactive[bool] = reactive(False)
    filter_text: reactive[str] = reactive("")
    #: Shown under the header while no row is (what to press to get some).
    empty_text: reactive[str] = reactive("")

    def __init__(
        self,
        *,
        sort_key: str = "created",
        sort_reverse: bool = True,
        empty_text: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._all: dict[str, R] = {}
        self._seen: dict[str, R] = {}  # each row as last synced, to spot changes
        self._cells: dict[str, tuple[str, ...]] = {}  # rows measured so far: plain strings
        self._unmeasured: list[str] = []
        self._measure_scheduled = False
        self._order: list[str] = []  # shown ids, top to bottom
        self._index: dict[str, int] | None = None  # id -> position in _order, built lazily
        self._now: float | None = None
        self._cursor = 0
        self._last_selected: str | None = None
        # id -> (cursor, parity, focus), its drawn line, the style that fills the rest.
        self._strips: dict[str, tuple[tuple[Any, ...], Strip, Style]] = {}
        self._widths_version = 0  # bumped whenever a column widens
        self._fitted: tuple[tuple[Any, ...], list[int]] | None = None  # (inputs, widths)
        #: Ids of marked rows, in the order they were marked (see `toggle_mark`).
        self.marked: dict[str, None] = {}
        #: Keys of the columns not drawn (see `show_column`).
        self.hidden: frozenset[str] = self.HIDDEN
        self.set_reactive(KeyedTable.empty_text, empty_text)
        self.set_reactive(KeyedTable.sort_key, sort_key)
        self.set_reactive(KeyedTable.sort_reverse, sort_reverse)
        self.columns: dict[str, Column] = {
            key: Column(key, Text(label), 0, key in self.RIGHT_ALIGNED)
            for key, label in self.COLUMNS
        }
        self._relabel()

    # -- hooks for subclasses -------------------------------------------------------
    def _row_cells(self, row: R, now: float | None) -> tuple[str, ...]:
        """The row's cells as plain text, in COLUMNS order (made safe by the caller)."""
        raise NotImplementedError

    def _cell_style(self, column: int, text: str) -> str:
        """A style for one cell (e.g. a coloured status); "" for the table's own."""
        return ""

    def _sort_value(self, row: R, column: str) -> Any:
        raise NotImplementedError

    def _haystack(self, row: R) -> str:
        raise NotImplementedError

    def _row_id(self, row: R) -> str:
        return str(row.id)  # type: ignore[attr-defined]

    def _selected_message(self, key: str | None) -> Any:
        raise NotImplementedError

    def _ticks(self, row: R) -> bool:
        """True when some of the row's cells depend on the clock (see `_clock_cells`)."""
        return False

    def _clock_cells(self, row: R, now: float | None) -> dict[int, str]:
        """The clock-dependent cells of an unchanged row, by column index."""
        return {}

    # -- public ---------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        """Rows shown (after the filter)."""
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        """Index of the row under the cursor (0 when the table is empty)."""
        return self._cursor

    @property
    def selected_id(self) -> str | None:
        """Id of the row under the cursor, or None when the table is empty."""
        return self._order[self._cursor] if self._order else None

    @property
    def rows_pending(self) -> int:
        """Rows whose cells are still to be measured (they go in chunk by chunk)."""
        return len(self._unmeasured)

    def row_ids(self) -> list[str]:
        """Ids of the shown rows, top to bottom (after filter and sort)."""
        return list(self._order)

    def get_row(self, key: str) -> tuple[Text, ...]:
        """The cells of the row with this id, styled as drawn."""
        cells = self._cells_for(key)
        return tuple(Text(text, style=self._cell_style(i, text)) for i, text in enumerate(cells))

    def get_row_index(self, key: str) -> int:
        """Position of the row with this id among the shown rows (KeyError if hidden)."""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self._order)}
        return self._index[key]

    def select_id(self, key: str) -> bool:
        """Move the cursor to the row with this id; False when it is not shown."""
        try:
            index = self.get_row_index(key)
        except KeyError:
            return False
        self.move_cursor(index)
        return True

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        """Put the cursor on row index `row` (clamped) and announce the change."""
        if not self._order:
            self._cursor = 0
            self._announce()
            return
        row = min(max(0, row), len(self._order) - 1)
        if row != self._cursor:
            self._refresh_row(self._cursor)
            self._cursor = row
            self._refresh_row(row)
        if scroll:
            self._scroll_cursor_into_view()
        self._announce()

    def toggle_mark(self, key: str) -> bool:
        """Mark the row with this id, or unmark it; True when it is now marked."""
        if key in self.marked:
            del self.marked[key]
        else:
            self.marked[key] = None
        with contextlib.suppress(KeyError):
            self._refresh_row(self.get_row_index(key))
        return key in self.marked

    def clear_marks(self) -> None:
        for key in list(self.marked):
            self.toggle_mark(key)

    # -- actions --------------------------------------------------------------------
    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._page_rows)

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._page_rows)

    def action_cursor_first(self) -> None:
        """Home / g: the first row, scrolled back to the first column."""
        self.scroll_to(x=0, animate=False, immediate=True)
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        """End / G: the last row, scrolled back to the first column."""
        self.scroll_to(x=0, animate=False, immediate=True)
        self.move_cursor(len(self._order) - 1)

    def action_cycle_sort(self) -> None:
        """Sort by the next column shown (wrapping round)."""
        keys = [c.key for c, w in zip(self.columns.values(), self._widths(), strict=True) if w]
        index = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.sort_key = keys[(index + 1) % len(keys)]

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    # -- updates --------------------------------------------------------------------
    def _set_rows(self, rows: Sequence[R], now: float | None) -> None:
        self._all = {self._row_id(r): r for r in rows}
        self._now = now
        self._sync()

    def _sync(self, resort: bool = False) -> None:
        """Show `self._all` filtered and sorted; recompute cells only where rows changed."""
        selected = self.selected_id
        needle = self.filter_text.strip().casefold()
        rows = self._all
        shown = (
            [k for k, r in rows.items() if needle in self._haystack(r).casefold()]
            if needle
            else list(rows)
        )
        for key in [k for k in self._seen if k not in rows]:
            del self._seen[key]
            self._cells.pop(key, None)
            self._strips.pop(key, None)
        reorder = resort or len(shown) != len(self._order)
        sort_key = self.sort_key
        now = self._now
        widths_before = self._widths_version
        changed: list[str] = []
        grow: list[tuple[str, ...]] = []
        for key, row in rows.items():
            old = self._seen.get(key)
            self._seen[key] = row
            if old is None:
                continue  # new: sorted in below, measured in chunks or when drawn
            measured = self._cells.get(key)
            if old is row or old == row:
                if measured is None or not self._ticks(row):
                    continue  # the common case, kept cheap: nothing to recompute
                ticked = self._clock_cells(row, now)
                cells = tuple(
                    safe_text(ticked[i]) if i in ticked else text for i, text in enumerate(measured)
                )
                reorder = reorder or (sort_key == "elapsed" and cells != measured)
            else:
                reorder = reorder or self._sort_value(old, sort_key) != self._sort_value(
                    row, sort_key
                )
                if measured is None:
                    continue
                cells = self._safe_cells(row, now)
            if cells != measured:
                self._cells[key] = cells
                self._strips.pop(key, None)
                grow.append(cells)
                changed.append(key)
        self._grow(grow)
        if not reorder:
            # Same number of rows: the same ones, unless some were swapped for others.
            reorder = any(key not in rows for key in self._order) or (
                needle != "" and set(shown) != set(self._order)
            )
        if reorder:
            shown.sort(key=self._sort_function(), reverse=self.sort_reverse)
            reorder = shown != self._order  # a resort that moved nothing redraws nothing
            self._order = shown
            self._index = None
        # Rows on screen are measured now; only the rest wait for the chunked timer
        # (listing the visible rows as pending too kept `rows_pending` above zero and
        # started a timer with nothing to do: at start-up it fired frames later).
        self._measure_visible()
        self._unmeasured = [k for k in self._order if k not in self._cells]
        self._schedule_measure()
        self._update_virtual_size()
        self._restore(selected)
        if reorder or self._widths_version != widths_before:
            self.refresh()
            return
        # Nothing moved: redraw the changed rows on screen only. Over SSH a refresh
        # of the whole table (every 2 s) re-sent its region, scrollbars included.
        top = int(self.scroll_y)
        for key in changed:
            try:
                index = self.get_row_index(key)
            except KeyError:  # filtered out
                continue
            if top <= index < top + self._page_rows:
                self._refresh_row(index)

    def _sort_function(self) -> Callable[[str], Any]:
        column = self.sort_key
        rows = self._all
        value = self._sort_value

        def key(row_id: str) -> Any:
            return (value(rows[row_id], column), row_id)

        return key

    def _safe_cells(self, row: R, now: float | None) -> tuple[str, ...]:
        """The row's cells with every control character shown, never obeyed."""
        # The check is inlined: almost every cell is printable and stays as it is.
        return tuple(
            text if text.isprintable() else safe_text(text) for text in self._row_cells(row, now)
        )

    def _cells_for(self, key: str) -> tuple[str, ...]:
        """The row's cells, measuring it now if it was not yet."""
        cells = self._cells.get(key)
        if cells is None:
            cells = self._cells[key] = self._safe_cells(self._all[key], self._now)
            self._grow([cells])
        return cells

    def _grow(self, rows: list[tuple[str, ...]]) -> None:
        """Widen columns to fit these cells (columns never shrink on update)."""
        if not rows:
            return
        changed = False
        for column, texts in zip(self.columns.values(), zip(*rows, strict=True), strict=True):
            widest = max(_width(text) for text in texts)
            if widest > column.width:
                column.width = widest
                changed = True
        if changed:
            self._widths_version += 1
            self._strips.clear()
            self._update_virtual_size()
            self.refresh()

    def _measure_visible(self) -> None:
        """Measure the rows on screen at once, so the first frame has their widths."""
        top = int(self.scroll_y)
        for key in self._order[top : top + max(self._page_rows, 40) + 1]:
            self._cells_for(key)

    def _schedule_measure(self) -> None:
        if self._unmeasured and not self._measure_scheduled:
            self._measure_scheduled = True
            # A timer, not call_after_refresh: the next chunk must wait for a real
            # pass of the event loop (and a frame), not run in the same one.
            self.set_timer(0.01, self._measure_chunk)

    def _measure_chunk(self) -> None:
        """Measure the next chunk of rows (after the screen has been drawn)."""
        self._measure_scheduled = False
        chunk = self._unmeasured[:_MEASURE_CHUNK]
        del self._unmeasured[:_MEASURE_CHUNK]
        for key in chunk:
            if key in self._all:
                self._cells_for(key)
        self._schedule_measure()

    def _restore(self, selected: str | None) -> None:
        if not self._order:
            self._cursor = 0
            self._announce()
            return
        if selected is not None:
            try:
                self._cursor = self.get_row_index(selected)
            except KeyError:
                self._cursor = min(self._cursor, len(self._order) - 1)
        else:
            self._cursor = min(self._cursor, len(self._order) - 1)
        self._announce()

    def _announce(self) -> None:
        """Post the selection message when the id under the cursor changed."""
        current = self.selected_id
        if current != self._last_selected:
            self._last_selected = current
            self.post_message(self._selected_message(current))

    # -- sorting and filtering ------------------------------------------------------
    def _relabel(self) -> None:
        for key, label in self.COLUMNS:
            # Only the sorted column holds an arrow: two cells per column more would
            # cost a narrow table a column.
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_key else ""
            self.columns[key].label = Text(label + arrow)
        self._strips.clear()
        self._update_virtual_size()
        self.refresh()

    def watch_sort_key(self) -> None:
        self._relabel()
        self._sync(resort=True)

    def watch_sort_reverse(self) -> None:
        self._relabel()
        self._sync(resort=True)

    def watch_filter_text(self) -> None:
        self._sync(resort=True)

    @lru_cache(maxsize=8)  # noqa: B019 - a few (text, width) pairs per table, for its life
    def _wrapped(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(text, max(10, width - 2))

    def _empty_lines(self, width: int) -> list[str]:
        return self._wrapped(self.empty_text, width) if self.empty_text else []

    def watch_empty_text(self) -> None:
        if not self._order:
            self.refresh()

    # -- drawing --------------------------------------------------------------------
    @property
    def _page_rows(self) -> int:
        """Data rows that fit on screen under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _natural_widths(self) -> list[int]:
        """Each column's full width: content, the label, one space either side."""
        return [max(c.width, c.label.cell_len) + 2 for c in self.columns.values()]

    def _widths(self) -> list[int]:
        """Each column's width on screen (0: dropped), fitted to the table's width."""
        room = self.scrollable_content_region.width if self.is_mounted else 0
        key = (
            room,
            self._widths_version,
            tuple(c.label.plain for c in self.columns.values()),
            self.hidden,
        )
        if self._fitted is not None and self._fitted[0] == key:
            return self._fitted[1]
        widths = self._fit(room)
        self._fitted = (key, widths)
        return widths

    def _fit(self, room: int) -> list[int]:
        """Shrink the shrinkable columns, then drop the least needed, until the
        columns fit `room` cells (or only the first two are left)."""
        keys = list(self.columns)
        natural = [
            0 if k in self.hidden else width
            for k, width in zip(keys, self._natural_widths(), strict=True)
        ]
        if not self.KEEP_ORDER or room <= 0 or sum(natural) <= room:
            return natural
        least = [self.columns[k].label.cell_len + 2 for k in keys]
        smallest = [
            max(least[i], self.SHRINK[k] + 2) if k in self.SHRINK else natural[i]
            for i, k in enumerate(keys)
        ]
        smallest = [min(a, b) for a, b in zip(smallest, natural, strict=True)]
        shown = set(keys) - self.hidden
        droppable = [k for k in reversed(self.KEEP_ORDER) if k in shown]
        while len(shown) > 2 and droppable:
            if sum(smallest[i] for i, k in enumerate(keys) if k in shown) <= room:
                break
            shown.discard(droppable.pop(0))
        widths = [natural[i] if k in shown else 0 for i, k in enumerate(keys)]
        excess = sum(widths) - room
        # The least needed columns are cut short first (an id stays whole longest).
        slack = [
            keys.index(k)
            for k in reversed(self.KEEP_ORDER)
            if k in shown and widths[keys.index(k)] > smallest[keys.index(k)]
        ]
        for i in slack:
            if excess <= 0:
                break
            cut = min(excess, widths[i] - smallest[i])
            widths[i] -= cut
            excess -= cut
        return widths

    def show_column(self, key: str, show: bool = True) -> None:
        """Draw the column `key` (or, with `show=False`, leave it out)."""
        hidden = self.hidden - {key} if show else self.hidden | {key}
        if hidden != self.hidden:
            self.hidden = hidden
            self._strips.clear()
            self._update_virtual_size()
            self.refresh()

    def on_resize(self) -> None:
        self._strips.clear()
        self._update_virtual_size()

    def _update_virtual_size(self) -> None:
        set_virtual_size(self, Size(sum(self._widths()), len(self._order) + 1))

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + self._page_rows:
            self.scroll_to(y=self._cursor - self._page_rows + 1, animate=False, immediate=True)

    def _refresh_row(self, index: int) -> None:
        if 0 <= index < len(self._order):
            self.refresh_line(index + 1)  # virtual lines: refresh_line subtracts the scroll

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def on_focus(self) -> None:
        self._strips.clear()

    def on_blur(self) -> None:
        self._strips.clear()

    def _line(
        self,
        cells: Sequence[str],
        styles: Sequence[Style | None],
        base: Style,
        over: Style | None,
        mark: str = " ",
    ) -> Strip:
        """One row: each cell padded to its column, `over` (the cursor) on top of all;
        `mark` takes the first cell's leading space (a marked row shows a dot there)."""
        segments = []
        widths = self._widths()
        for index, (column, width, text, style) in enumerate(
            zip(self.columns.values(), widths, cells, styles, strict=True)
        ):
            if width == 0:
                continue  # dropped: the table is too narrow for it
            if _width(text) > width - 2:
                text = _clip(text, width - 2, keep_end=column.key in self.CLIP_HEAD)
            pad = " " * (width - 1 - _width(text))
            lead = mark if index == 0 else " "
            body = pad + text + " " if column.right else lead + text + pad
            cell = base + style if style else base
            segments.append(Segment(body, cell + over if over else cell))
        return Strip(segments, sum(widths))

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            header = base + self.get_component_rich_style("keyed-table--header")
            labels = [c.label.plain for c in self.columns.values()]
            strip = self._line(labels, [None] * len(labels), header, None)
            return strip.crop_extend(scroll_x, scroll_x + width, header)
        index = scroll_y + y - 1
        if index >= len(self._order):
            hint = self._empty_lines(width) if not self._order else []
            if index < len(hint):
                style = base + self.get_component_rich_style("keyed-table--empty")
                return Strip([Segment(" " + hint[index], style)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        key = self._order[index]
        cursor = index == self._cursor
        marked = key in self.marked
        flags = (cursor, index % 2, self.has_focus, marked, tuple(self._widths()))
        cached = self._strips.get(key)
        if cached is not None and cached[0] == flags:
            _, strip, fill = cached
        else:
            fill = base
            if index % 2 == 0:
                fill = fill + self.get_component_rich_style("keyed-table--even-row")
            over = self.get_component_rich_style("keyed-table--cursor") if cursor else None
            cells = self._cells_for(key)
            styles = [
                Style.parse(s) if (s := self._cell_style(i, text)) else None
                for i, text in enumerate(cells)
            ]
            strip = self._line(cells, styles, fill, over, MARK if marked else " ")
            if over is not None:
                fill = fill + over
            if len(self._strips) >= _STRIP_CACHE_MAX:
                self._strips.clear()
            self._strips[key] = (flags, strip, fill)
        return strip.crop_extend(scroll_x, scroll_x + width, fill)

    # -- mouse ----------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        """A header click sorts by that column (again: reverses); a row click selects."""
        if event.y == 0:
            x = event.x + int(self.scroll_x)
            for column, width in zip(self.columns.values(), self._widths(), strict=True):
                if x < width:
                    if column.key == self.sort_key:
                        self.sort_reverse = not self.sort_reverse
                    else:
                        self.sort_key = column.key
                    return
                x -= width
            return
        self.move_cursor(int(self.scroll_y) + event.y - 1, scroll=False)
