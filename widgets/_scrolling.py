"""Growing a scroll view without a layout pass of the whole screen.

Setting `virtual_size` (a layout reactive) makes Textual lay the screen out again,
and every scroll view on it then redraws its scrollbars, changed or not: with
the event log growing by a line per training step, both tables' scrollbars were
re-sent to the terminal each time (kilobytes per event over SSH). When the new
size leaves the scrollbars as they are (shown or hidden), only this view's own
scrollbars need to know; a layout pass is kept for when they appear or go.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widget import Widget


def set_virtual_size(view: ScrollView, size: Size) -> None:
    """Give `view` a new scrollable size, laying out the screen only when needed."""
    old = view.virtual_size
    if size == old:
        return
    width, height = view.container_size
    if (
        not view.is_mounted
        or not width
        or (old.width > width) != (size.width > width)
        or (old.height > height) != (size.height > height)
    ):
        view.virtual_size = size  # a scrollbar appears or goes: lay the screen out
        return
    view.set_reactive(Widget.virtual_size, size)
    if view.show_vertical_scrollbar:
        view.vertical_scrollbar.window_virtual_size = size.height
    if view.show_horizontal_scrollbar:
        view.horizontal_scrollbar.window_virtual_size = size.width
