"""`?`: every key the app answers to, read from the live screen when it opens.

The sections come from the nodes on the screen behind it (the app, the screen,
each pane's list or log), so a key added to any of them shows here with no list
to keep in step.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


def _key_name(binding: Binding) -> str:
    names = {"question_mark": "?", "slash": "/", "space": "space"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def bindings_of(node: DOMNode) -> list[Binding]:
    """The bindings `node` answers to, its classes' BINDINGS merged as Textual does."""
    merged: dict[str, Binding] = {}
    for cls in reversed(type(node).__mro__):
        if not isinstance(cls, type) or not issubclass(cls, DOMNode):
            continue
        if not vars(cls).get("_inherit_bindings", True):  # `class X(W, inherit_bindings=False)`
            merged.clear()
        for item in vars(cls).get("BINDINGS", ()):
            binding = item if isinstance(item, Binding) else Binding(*item)
            merged[binding.key] = binding
    return list(merged.values())


def _rows(node: DOMNode) -> list[tuple[str, str]]:
    """`node`'s keys and what they do now; an action its `check_action` turns off
    (False) is left out, as Textual leaves it out of the active bindings."""
    rows = []
    for binding in bindings_of(node):
        if binding.system or not binding.description:
            continue  # Textual's own plumbing (ctrl+c's hint, ...), not a user's action
        _, name, params = parse_action(binding.action)
        if node.check_action(name, params) is False:
            continue
        rows.append((_key_name(binding), binding.description or binding.action))
    return rows


def key_sections(screen: Screen[object]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(key, description)]) for what `screen` shows now, read at run time:
    the app's keys, the screen's, then those of each pane's list or log (a
    container with the `pane` class, titled by its border, whose `.pane-main`
    widget takes the keys)."""
    sections = [("Everywhere", _rows(screen.app)), ("Main screen", _rows(screen))]
    for pane in screen.query(".pane"):
        try:
            widget = pane.query_one(".pane-main")
        except NoMatches:
            continue
        rows = _rows(widget)
        if rows:
            title = str(pane.border_title or pane.id or "")
            sections.append((title.lstrip("0123456789 "), rows))
    sections.append(
        (
            "Dialogs",
            [
                ("escape", "close the dialog"),
                ("ctrl+s", "submit a form"),
                ("y / n", "answer a confirmation"),
            ],
        )
    )
    return sections


class HelpScreen(ModalScreen[None]):
    """A table of keys; Escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("action")
        for section, items in self.sections:
            table.add_row(f"[b]{section}[/b]", "")
            for key, description in items:
                table.add_row(key, description)
            table.add_row("", "")
        with Vertical(classes="modal-box"):
            yield Label("Keys", classes="modal-title")
            with VerticalScroll(classes="modal-body"):
                yield Static(table, id="help-keys")
            yield Label("Escape closes · ctrl+p opens the command palette", classes="modal-hint")

    @property
    def keys_view(self) -> Static:
        """The table of keys."""
        return self.query_one("#help-keys", Static)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
