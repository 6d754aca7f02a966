"""Command palette provider: every key-bound action, searchable by its description.

The commands are read at run time from the bindings active on the screen the
palette was opened from (its own, the focused widget's and the app's), so the
palette lists exactly what the keys do there, and cannot drift from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen

#: Actions that make no sense as a palette entry.
_SKIP = frozenset({"command_palette"})


def palette_commands(screen: Screen[object]) -> Iterator[tuple[Binding, DOMNode]]:
    """(binding, node it belongs to) for each described action active on `screen`."""
    seen: set[str] = set()
    # The screen's own keys first (the actions a user looks for), then the rest.
    active = sorted(screen.active_bindings.values(), key=lambda a: a.node is not screen)
    for item in active:
        binding = item.binding
        if not item.enabled or not binding.description or binding.action in _SKIP:
            continue
        if binding.action not in seen:
            seen.add(binding.action)
            yield binding, item.node


class ActionsProvider(Provider):
    """Offers the active screen's actions (new job, cancel, upload, ...) in the palette."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [
            (
                b.description,
                self.app.get_key_display(b),
                partial(self.app.run_action, b.action, node),
            )
            for b, node in palette_commands(self.screen)
        ]

    async def discover(self) -> Hits:
        for description, key, run in self._commands():
            yield DiscoveryHit(description, run, help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for description, key, run in self._commands():
            score = matcher.match(description)
            if score > 0:
                yield Hit(score, matcher.highlight(description), run, help=f"key: {key}")
