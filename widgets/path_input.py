"""An Input that completes filesystem paths from the directory listing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.suggester import Suggester
from textual.widgets import Input


class PathSuggester(Suggester):
    """Suggests the first entry (sorted; directories get a trailing '/') that
    extends what was typed. `~` is expanded only for the lookup, so the text the
    user typed is kept as typed."""

    def __init__(self, *, include_hidden: bool = False) -> None:
        # No cache: the directory may change between keystrokes (a file just written).
        super().__init__(use_cache=False, case_sensitive=True)
        self.include_hidden = include_hidden

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        head, sep, prefix = value.rpartition(os.sep)
        directory = Path(os.path.expanduser((head or os.sep) if sep else "."))
        try:
            names = sorted(entry.name for entry in os.scandir(directory))
        except OSError:
            return None
        show_hidden = self.include_hidden or prefix.startswith(".")
        for name in names:
            if (
                name.startswith(prefix)
                and name != prefix
                and (show_hidden or not name.startswith("."))
            ):
                completed = value[: len(value) - len(prefix)] + name
                if (directory / name).is_dir():
                    completed += os.sep
                return completed
        if prefix and prefix in names and (directory / prefix).is_dir():
            return value + os.sep
        return None


class PathInput(Input):
    """Input with path completion: the suggestion shows greyed; Tab or → accepts it.

    Tab only accepts when there is a suggestion; otherwise it moves focus as usual,
    so the widget never traps the keyboard.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "accept_suggestion", "Complete", show=False),
    ]

    def __init__(
        self,
        value: str | None = None,
        placeholder: str = "path/to/file.jsonl",
        *,
        include_hidden: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(
            value=value,
            placeholder=placeholder,
            suggester=PathSuggester(include_hidden=include_hidden),
            name=name,
            id=id,
            classes=classes,
        )

    def action_accept_suggestion(self) -> None:
        """Accept the shown completion, or move focus on when there is none."""
        if self._suggestion and self._suggestion != self.value:
            self.value = self._suggestion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()
