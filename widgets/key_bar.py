"""The footer: the keys that work right now, from the screen's own BINDINGS.

Textual's Footer builds a widget per key (a dozen, each styled by CSS) and rebuilds
them all whenever focus or the screen stack changes; on `fttui`'s start-up that was
a tenth of the time to the first screen. This draws the same keys as one line of
text, recomputed only when the bindings change, so it stays as true as the
BINDINGS (and the help screen) it is built from. Clicking a key presses it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.widget import Widget


class KeyBar(Widget):
    """One line of `key description` pairs for the active bindings with `show=True`."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description"}

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        background: $footer-background;
        color: $footer-foreground;
        & > .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self._keys: tuple[tuple[str, str, str], ...] = ()  # (key, shown as, description)
        self._spans: list[tuple[int, int, str]] = []  # (start, end, key) as drawn

    @property
    def keys(self) -> list[tuple[str, str]]:
        """(key as shown, description) of every key on the bar, left to right."""
        return [(display, description) for _, display, description in self._keys]

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Any) -> None:
        keys = self._active_keys()
        if keys != self._keys:
            self._keys = keys
            self.refresh()

    def _active_keys(self) -> tuple[tuple[str, str, str], ...]:
        shown: list[tuple[str, str, str]] = []
        seen_actions: set[str] = set()
        palette: tuple[str, str, str] | None = None
        for _, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.key == self.app.COMMAND_PALETTE_BINDING:
                if self.app.ENABLE_COMMAND_PALETTE and enabled:
                    palette = (binding.key, self.app.get_key_display(binding), "Commands")
                continue
            if not binding.show or not enabled or binding.action in seen_actions:
                continue
            seen_actions.add(binding.action)
            shown.append((binding.key, self.app.get_key_display(binding), binding.description))
        if palette is not None:
            shown.append(palette)
        return tuple(shown)

    #: Keys pinned to the right edge, always shown however narrow the bar: the help
    #: (`?`, where every other key is listed) and the command palette.
    PINNED: ClassVar[frozenset[str]] = frozenset({"question_mark"})

    def render(self) -> Text:
        """The keys left to right, as many as fit whole (then "…"); help and the
        command palette's key pinned to the right edge."""
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        pinned_keys = self.PINNED | {self.app.COMMAND_PALETTE_BINDING}
        keys = [k for k in self._keys if k[0] not in pinned_keys]
        pinned = [k for k in self._keys if k[0] in pinned_keys]

        def pair(display: str, description: str) -> Text:
            return Text.assemble(
                (f" {display} ", key_style), (f"{description} ", description_style)
            )

        tail = Text(no_wrap=True, end="")
        tail_spans: list[tuple[int, int, str]] = []
        for key, display, description in pinned:
            start = tail.cell_len
            tail.append_text(pair(display, description))
            tail_spans.append((start, tail.cell_len, key))
        room = max(0, self.size.width - tail.cell_len) if pinned else self.size.width
        text = Text(no_wrap=True, end="")
        self._spans = []
        for index, (key, display, description) in enumerate(keys):
            item = pair(display, description)
            last = index == len(keys) - 1
            if text.cell_len + item.cell_len + (0 if last else 1) > room and self.size.width:
                text.append("…")
                break
            start = text.cell_len
            text.append_text(item)
            self._spans.append((start, text.cell_len, key))
        if pinned:
            text.pad_right(max(0, room - text.cell_len))
            offset = text.cell_len
            self._spans += [(offset + a, offset + b, k) for a, b, k in tail_spans]
            text.append_text(tail)
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
