"""A Select that keeps up with keys typed faster than the screen redraws.

Textual moves focus after the message being handled (`focus()` is deferred), so
keys that arrive together, as they do from a fast typist over SSH (one packet,
several keys), all go to the widget focused before the first of them: Down,
Enter, Tab went to the closed Select instead of its drop-down. And when the
drop-down closes, the Select focuses itself again from a message that arrives
later still: by then Tab had moved on, focus was pulled back, and the digits
typed next were lost. Here the drop-down takes focus at once when it opens, and
the Select takes focus back only while it (or its drop-down) still has it.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.widgets import Select
from textual.widgets._select import SelectCurrent, SelectOverlay


class _Overlay(SelectOverlay):
    """The drop-down list; it takes focus at once when it opens (the keys already
    queued behind the one that opened it are meant for it)."""

    def focus(self, scroll_visible: bool = True) -> _Overlay:
        self.screen.set_focus(self, scroll_visible=scroll_visible)
        return self


class FormSelect(Select[Any]):
    """`Select` that hands typed keys to where the user meant them."""

    def compose(self) -> ComposeResult:
        yield SelectCurrent(self.prompt)
        yield _Overlay(type_to_search=self._type_to_search).data_bind(compact=Select.compact)

    @on(SelectOverlay.UpdateSelection)
    def _update_selection_keeping_focus(self, event: SelectOverlay.UpdateSelection) -> None:
        event.stop()
        event.prevent_default()  # instead of Select's own handler, which refocuses
        value = self._options[event.option_index][1]
        if value != self.value:
            self.value = value
        if self.has_focus_within:
            self.screen.set_focus(self)
        self.expanded = False

    @on(SelectOverlay.Dismiss)
    def _dismiss_keeping_focus(self, event: SelectOverlay.Dismiss) -> None:
        event.stop()
        event.prevent_default()
        self.expanded = False
        if not event.lost_focus and self.has_focus_within:
            self.screen.set_focus(self)
