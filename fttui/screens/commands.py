"""Command palette provider: every key-bound action, searchable by its description.

The list is built from the same BINDINGS the footer and the help screen show, so
the palette cannot drift from the keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


def palette_bindings() -> Iterator[tuple[Binding, str]]:
    """(binding, target) pairs: target "screen" for the main screen, "app" for the app."""
    from fttui.screens.main import MainScreen

    seen: set[str] = set()
    for binding in MainScreen.BINDINGS:
        assert isinstance(binding, Binding)
        if binding.action not in seen:
            seen.add(binding.action)
            yield binding, "screen"


class ActionsProvider(Provider):
    """Offers the main screen's actions (new job, cancel, upload, ...) in the palette."""

    def _commands(self) -> list[tuple[str, str, str]]:
        out = []
        for binding, _target in palette_bindings():
            out.append((binding.description, binding.action, binding.key_display or binding.key))
        return out

    async def _run(self, action: str) -> None:
        from fttui.screens.main import MainScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, MainScreen):
                await screen.run_action(action)
                return

    async def discover(self) -> Hits:
        for description, action, key in self._commands():
            yield DiscoveryHit(description, partial(self._run, action), help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for description, action, key in self._commands():
            score = matcher.match(description)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(description),
                    partial(self._run, action),
                    help=f"key: {key}",
                )
