"""`?`: every key the app answers to, read from the live screen when it opens.

The sections come from the nodes on the screen behind it (the app, the screen,
each pane's list or log), so a key added to any of them shows here with no list
to keep in step.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, Static

#: Short key names, so that a key and what it does fit a column of 30 cells.
KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "space": "space",
    "shift+tab": "S-tab",
    "pageup": "pgup",
    "pagedown": "pgdn",
    "escape": "esc",
    "ctrl+p": "^p",
    "ctrl+s": "^s",
}


def _key_name(binding: Binding) -> str:
    return ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))


def bindings_of(node: DOMNode, *, own: bool = False) -> list[Binding]:
    """The bindings `node` answers to, its classes' BINDINGS merged as Textual does
    (`own`: only those the app's classes declare, not Textual's scrolling keys, which
    every list and log has and the help says once)."""
    merged: dict[str, Binding] = {}
    for cls in reversed(type(node).__mro__):
        if not isinstance(cls, type) or not issubclass(cls, DOMNode):
            continue
        if own and cls.__module__.split(".")[0] == "textual":
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
    for binding in bindings_of(node, own=True):
        if binding.system or not binding.description:
            continue  # Textual's own plumbing (ctrl+c's hint, ...), not a user's action
        _, name, params = parse_action(binding.action)
        if node.check_action(name, params) is False:
            continue
        rows.append((_key_name(binding), binding.description or binding.action))
    return rows


Rows = list[tuple[str, str]]

#: Two rows that read as one ("up, k / down, j  Up / down").
PAIRS: dict[tuple[str, str], str] = {
    ("Up", "Down"): "Up / down",
    ("Page up", "Page down"): "Page up / down",
    ("First", "Last"): "First / last",
    ("Sort", "Reverse sort"): "Sort / reverse",
}


def _paired(rows: Rows) -> Rows:
    """`rows` with the keys that do the same on one row ("up, k  Up"), then each
    pair of `PAIRS` on one row."""
    keys: dict[str, list[str]] = {}
    for key, description in rows:
        keys.setdefault(description, []).append(key)
    rows = [(", ".join(k), d) for d, k in keys.items()]
    out: Rows = []
    for key, description in rows:
        if out:
            pair = PAIRS.get((out[-1][1], description))
            if pair:
                out[-1] = (f"{out[-1][0]}/{key}".replace(", ", ","), pair)
                continue
        out.append((key, description))
    return out


def key_sections(screen: Screen[object]) -> list[tuple[str, Rows]]:
    """(section, [(key, description)]) for what `screen` shows now, read at run time
    and grouped by pane: the keys that work everywhere, those every list shares
    ("Lists"), then each pane's (its list's or log's own keys, and the screen's keys
    that the screen's `HELP_GROUPS` places there), then the dialogs'."""
    groups: dict[str, Any] = getattr(screen, "HELP_GROUPS", {})
    everywhere = _rows(screen.app)
    by_pane: dict[str, Rows] = {}
    for binding, row in _bound_rows(screen):
        _, action, _ = parse_action(binding.action)
        placed = groups.get(action, groups.get(binding.action, "everywhere"))
        if placed is None:
            continue  # said by a list's own key (the jobs' `s` is the lists' sort)
        for name in (placed,) if isinstance(placed, str) else placed:
            if name == "everywhere":
                everywhere.append(row)
            else:
                by_pane.setdefault(name, []).append(row)
    panes = []
    for pane in screen.query(".pane"):
        try:
            widget = pane.query_one(".pane-main")
        except NoMatches:
            continue
        title = str(pane.border_title or pane.id or "").lstrip("0123456789 ")
        name = str(getattr(pane, "NAME", "") or title)
        panes.append((title, by_pane.get(name, []), _rows(widget)))
    # What every list answers the same way is said once.
    counts: dict[tuple[str, str], int] = {}
    for _, _, own in panes:
        for row in dict.fromkeys(own):
            counts[row] = counts.get(row, 0) + 1
    shared = [row for row, count in counts.items() if count > 1]
    sections = [("Everywhere", _paired(_merged_pane_numbers(everywhere)))]
    sections.append(("Lists", [*_paired(shared), ("arrows", "Scroll a pane")]))
    for title, from_screen, own in panes:
        rows: Rows = []
        for key, description in from_screen + [r for r in own if r not in shared]:
            if key not in {k for k, _ in rows}:  # the screen's word for a key wins
                rows.append((key, description))
        if rows:
            sections.append((title, _paired(rows)))
    sections.append(
        (
            "Dialogs",
            [("esc", "Close the dialog"), ("^s", "Submit a form"), ("y / n", "Answer a question")],
        )
    )
    return sections


def _bound_rows(screen: Screen[object]) -> list[tuple[Binding, tuple[str, str]]]:
    """The screen's own bindings with their help rows (as `_rows` filters them)."""
    out = []
    for binding in bindings_of(screen, own=True):
        if binding.system or not binding.description:
            continue
        _, name, params = parse_action(binding.action)
        if screen.check_action(name, params) is False:
            continue
        out.append((binding, (_key_name(binding), binding.description)))
    return out


def _merged_pane_numbers(rows: Rows) -> Rows:
    """ "1 Files pane" ... "5 Plots pane" as one row: "1-5  Files, Jobs, ... pane"."""
    numbered = [(k, d) for k, d in rows if k.isdigit() and d.endswith(" pane")]
    if len(numbered) < 3:
        return rows
    keys = [int(k) for k, _ in numbered]
    names = "/".join(d.removesuffix(" pane") for _, d in numbered)
    merged = (f"{min(keys)}-{max(keys)}", names)
    first = rows.index(numbered[0])
    rest = [r for r in rows if r not in numbered]
    return [*rest[:first], merged, *rest[first:]]


#: The narrowest a column of keys is laid out.
COLUMN_WIDTH = 34


def layout(sections: list[tuple[str, Rows]], width: int, height: int) -> list[Rows]:
    """The sections' rows (a section's title as a row with an empty key) flowed into
    columns of `height` rows, at most as many as `width` holds: whole sections to a
    column where they fit so, else continued in the next column. When even that is
    too short the columns grow and the body scrolls."""
    blocks: list[Rows] = [[("", title), *items] for title, items in sections if items]
    most = max(1, width // COLUMN_WIDTH)
    columns: list[Rows] = [[]]
    for block in blocks:
        if columns[-1] and len(columns[-1]) + len(block) > height:
            columns.append([])
        columns[-1].extend(block)
    if len(columns) <= most:
        return columns
    flat = [row for block in blocks for row in block]
    per = max(height, -(-len(flat) // most))
    columns = [[]]
    for row in flat:
        if len(columns[-1]) >= per:
            # A title never ends a column: it moves on with its first key.
            moved = [columns[-1].pop()] if columns[-1] and not columns[-1][-1][0] else []
            columns.append(moved)
        columns[-1].append(row)
    return columns


def matches(row: tuple[str, str], needle: str) -> bool:
    return needle in row[0].casefold() or needle in row[1].casefold()


def filtered(sections: list[tuple[str, Rows]], text: str) -> list[tuple[str, Rows]]:
    """Only the rows whose key or description holds `text` (a section's whole rows
    when its title does); sections left empty go."""
    needle = text.strip().casefold()
    if not needle:
        return sections
    out = []
    for title, rows in sections:
        kept = rows if needle in title.casefold() else [r for r in rows if matches(r, needle)]
        if kept:
            out.append((title, kept))
    return out


class HelpScreen(ModalScreen[None]):
    """The keys, grouped by pane, laid out in as many columns as fit, so that at
    80x24 they are one screen; `/` filters them. Escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
        Binding("slash", "filter", "Filter keys"),
    ]

    #: The keys' body, not the filter: q and ? close the help until `/` is pressed.
    AUTO_FOCUS = ".modal-body"

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections
        self.shown: list[Rows] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_subtitle = "Escape closes · ctrl+p: the command palette"
            with Horizontal(id="help-top"):
                yield Label("Keys", classes="modal-title")
                yield Input(placeholder="/ filters the keys (a key or a word)", id="help-filter")
            with VerticalScroll(classes="modal-body"):
                yield Static(id="help-keys")

    @property
    def keys_view(self) -> Static:
        """The table of keys."""
        return self.query_one("#help-keys", Static)

    def on_resize(self) -> None:
        self.call_after_refresh(self._lay_out)

    @on(Input.Changed, "#help-filter")
    def _filter_changed(self) -> None:
        self._lay_out()

    @on(Input.Submitted, "#help-filter")
    def _filter_done(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_filter(self) -> None:
        self.query_one("#help-filter", Input).focus()

    def _lay_out(self) -> None:
        body = self.query_one(VerticalScroll)
        width, height = body.scrollable_content_region.size
        if width <= 0 or height <= 0:
            return
        text = self.query_one("#help-filter", Input).value
        sections = filtered(self.sections, text)
        self.shown = layout(sections, width, height)
        grid = Table.grid(padding=(0, 2), expand=True)
        for _ in self.shown:
            grid.add_column(ratio=1)
        grid.add_row(*(_column(rows) for rows in self.shown))
        if not sections:
            self.keys_view.update(Text(f"No key matches {text!r}."))
            return
        self.keys_view.update(grid)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


def _column(rows: Rows) -> Group:
    """One column: each section's title, then its keys in a table of its own (a long
    key elsewhere does not push this section's descriptions off the column)."""
    parts: list[Any] = []
    table: Table | None = None
    for key, description in rows:
        if not key:
            parts.append(Text(description, style="bold underline"))
            table = None
            continue
        if table is None:
            table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
            table.add_column("key", style="bold cyan", no_wrap=True)
            table.add_column("action", no_wrap=True, overflow="ellipsis")
            parts.append(table)
        table.add_row(key, description)
    return Group(*parts)
