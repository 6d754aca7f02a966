"""A job's event stream: append-only, de-duplicated, virtualised, follow mode.

A long job can produce tens of thousands of events (one metrics event per step).
Lines live in a bounded deque and only the visible lines are turned into strips
when drawn, so appending is O(batch) and drawing is O(screen), whatever the total.
"""

from __future__ import annotations

import textwrap
from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fttui.core.safe_text import safe_text
from widgets._format import clock_time
from widgets._scrolling import set_virtual_size
from widgets.rows import EventRow

_LEVELS = {"warn": "warn", "warning": "warn", "error": "error", "fatal": "error"}


def _level_of(event: EventRow) -> str:
    if event.type == "metrics":
        return "metrics"
    return _LEVELS.get(event.level.lower(), "info")


def _format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def wrap_text(text: str, width: int) -> list[str]:
    """`text` in pieces of at most `width` cells, broken between words where it can
    (a long id or path is broken inside), nothing left out."""
    if cell_len(text) <= width:
        return [text]
    if not text.isascii():  # wide characters: cut by cells
        return chop_cells(text, width) or [""]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False, tabsize=1) or [
        ""
    ]


def event_text(event: EventRow) -> str:
    """The text shown for an event: its message, or `k=v ...` for a bare metrics event."""
    if event.type == "metrics" and event.data and not event.message:
        return " ".join(f"{k}={_format_number(v)}" for k, v in event.data.items())
    return event.message


class EventLog(ScrollView, can_focus=True):
    """Shows events in arrival order, each id once, coloured by level, each wrapped to
    the log's width (a message longer than the pane continues on the next rows,
    indented under its text, instead of being cut at the edge).

    `add_events` ignores ids it has already seen (a reconnecting stream may resend
    some). With `follow` on (the default; `f` toggles) the view sticks to the end;
    scrolling up turns it off, `G`/End turns it back on. Only the last `max_lines`
    lines are kept; older ones are counted and reported in a first line.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "First", show=False),
        Binding("G", "scroll_end", "Last", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "event-log--time",
        "event-log--info",
        "event-log--warn",
        "event-log--error",
        "event-log--metrics",
        "event-log--notice",
    }

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
        background: $surface;
        scrollbar-gutter: stable;
        overflow-x: hidden;
        overflow-y: auto;
    }
    EventLog > .event-log--time { color: $foreground-muted; }
    EventLog > .event-log--info { }
    EventLog > .event-log--warn { color: $warning; }
    EventLog > .event-log--error { color: $error; text-style: bold; }
    EventLog > .event-log--metrics { color: $foreground-muted; text-style: dim; }
    EventLog > .event-log--notice { color: $foreground-muted; text-style: italic; }
    """

    follow: reactive[bool] = reactive(True)
    #: Shown while the log is empty (e.g. which key selects a job).
    empty_text: reactive[str] = reactive("")

    def __init__(
        self,
        *,
        max_lines: int = 20_000,
        max_ids: int = 200_000,
        empty_text: str = "",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.set_reactive(EventLog.empty_text, empty_text)
        self.max_lines = max_lines
        # (time prefix, text, level) per line; the deque drops the oldest itself.
        self._lines: deque[tuple[str, str, str]] = deque(maxlen=max_lines)
        # The rows drawn: each line wrapped at `_wrap_at` cells, and how many rows
        # each line took (to drop a line's rows with it).
        self._rows: deque[tuple[str, str, str]] = deque()
        self._heights: deque[int] = deque()
        self._wrap_at = 0
        self._total_lines = 0
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._max_ids = max_ids
        self.event_count = 0

    # -- public ---------------------------------------------------------------------
    def add_events(self, rows: Iterable[EventRow]) -> int:
        """Append the events not seen before, in the given order; returns how many."""
        added = 0
        lines = self._lines
        for event in rows:
            if event.id in self._seen:
                continue
            self._remember(event.id)
            added += 1
            stamp = clock_time(event.created_at) + " "
            level = _level_of(event)
            # A server's message is data: controls shown (`\x1b[2J`), never obeyed.
            text = safe_text(event_text(event), multiline=True)
            for index, part in enumerate(text.split("\n")):
                prefix = stamp if index == 0 else " " * len(stamp)
                if len(lines) == lines.maxlen:
                    for _ in range(self._heights.popleft()):
                        self._rows.popleft()
                lines.append((prefix, part, level))
                wrapped = self._wrap(prefix, part, level)
                self._rows.extend(wrapped)
                self._heights.append(len(wrapped))
                self._total_lines += 1
        if not added:
            return 0
        self.event_count += added
        set_virtual_size(self, Size(self._wrap_at, self._line_count))
        if self.follow:
            # force: the scrollbar may not exist yet, which would veto the scroll.
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self.refresh()
        return added

    def clear(self) -> None:
        """Forget all events (e.g. another job was selected)."""
        self._lines.clear()
        self._rows.clear()
        self._heights.clear()
        self._seen.clear()
        self._seen_order.clear()
        self._total_lines = 0
        self.event_count = 0
        self.virtual_size = Size(0, 0)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    @property
    def dropped_lines(self) -> int:
        """Lines no longer kept because of `max_lines`."""
        return self._total_lines - len(self._lines)

    @property
    def lines(self) -> list[str]:
        """The kept lines as plain text (time prefix included), oldest first."""
        return [prefix + text for prefix, text, _ in self._lines]

    def has_seen(self, event_id: str) -> bool:
        """True when an event with this id was already added (and not yet forgotten)."""
        return event_id in self._seen

    def watch_empty_text(self) -> None:
        if not self._lines:
            self.refresh()

    # -- actions --------------------------------------------------------------------
    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_scroll_up(self) -> None:
        self.follow = False
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self.follow = False
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self.follow = False
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self.follow = True

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        # Reading back through the log with the wheel must not be yanked to the end.
        self.follow = False

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    # -- drawing --------------------------------------------------------------------
    @property
    def _line_count(self) -> int:
        """Rows to draw: the wrapped lines, and the notice of lines not kept."""
        return len(self._rows) + (1 if self.dropped_lines else 0)

    def _wrap(self, prefix: str, text: str, level: str) -> list[tuple[str, str, str]]:
        """One line's rows at the current width (one row until the width is known)."""
        if self._wrap_at <= 0:
            return [(prefix, text, level)]
        pieces = wrap_text(text, max(10, self._wrap_at - len(prefix)))
        indent = " " * len(prefix)
        return [(prefix if i == 0 else indent, piece, level) for i, piece in enumerate(pieces)]

    def on_resize(self, event: events.Resize) -> None:
        """Wrap every kept line again at the new width (a follow view stays at the end)."""
        width = self.scrollable_content_region.width
        if width == self._wrap_at or width <= 0:
            return
        self._wrap_at = width
        self._rows.clear()
        self._heights.clear()
        for line in self._lines:
            wrapped = self._wrap(*line)
            self._rows.extend(wrapped)
            self._heights.append(len(wrapped))
        set_virtual_size(self, Size(width, self._line_count))
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self.refresh()

    def _remember(self, event_id: str) -> None:
        self._seen.add(event_id)
        self._seen_order.append(event_id)
        if len(self._seen_order) > self._max_ids:
            self._seen.discard(self._seen_order.popleft())

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        dropped = self.dropped_lines
        if dropped:
            if index == 0:
                notice = f"… {dropped:,} earlier lines not kept"
                style = base + self.get_component_rich_style("event-log--notice")
                strip = Strip([Segment(notice, style)], cell_len(notice))
                return strip.crop_extend(scroll_x, scroll_x + width, base)
            index -= 1
        if index >= len(self._rows):
            hint = textwrap.wrap(self.empty_text, max(10, width - 1)) if not self._lines else []
            if index < len(hint):
                style = base + self.get_component_rich_style("event-log--notice")
                return Strip([Segment(hint[index], style)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        prefix, text, level = self._rows[index]
        # As few styled runs as look the same, since every run costs its escape
        # codes again on each redraw (and following a job redraws the whole log
        # as it scrolls): the padding takes the text's style (spaces look the same
        # in any colour), and a metrics line (most of a training log) is one run.
        text_style = base + self.get_component_rich_style(f"event-log--{level}")
        length = len(prefix) + cell_len(text)
        pad = " " * max(0, scroll_x + width - length)
        if level == "metrics":
            segments = [Segment(prefix + text + pad, text_style)]
        else:
            time_style = base + self.get_component_rich_style("event-log--time")
            segments = [Segment(prefix, time_style), Segment(text + pad, text_style)]
        return Strip(segments, length + len(pad)).crop(scroll_x, scroll_x + width)
