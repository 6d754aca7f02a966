"""A yes/no modal: the one place destructive actions (cancel, delete) ask first."""

from __future__ import annotations

from typing import ClassVar

from textual._time import get_time
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from fttui.core.safe_text import safe_text


class ConfirmDialog(ModalScreen[bool]):
    """Ask `title` / `body`; dismisses with True (y, enter) or False (n, escape).

    Keys typed before the dialog was on screen never answer it (`ignore_keys_before`,
    read by the app's key queue): a `y` or Enter typed ahead, meant for the screen
    underneath, must not confirm a cancel or a delete the user has not seen.

    Push it with `app.push_screen(ConfirmDialog(...), callback)` or
    `await app.push_screen_wait(...)` from a worker. Title and body are plain
    text: they quote ids and names a server chose, so no markup is read from
    them and control characters are shown (`safe_text`), not obeyed.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Yes"),
        Binding("enter", "confirm", "Yes", show=False),
        Binding("n", "cancel", "No"),
        Binding("escape", "cancel", "No", show=False),
    ]

    DEFAULT_CSS = """
    ConfirmDialog {
        align: center middle;
        background: $background 60%;
    }
    ConfirmDialog > #confirm-box {
        width: auto;
        min-width: 40;
        max-width: 90%;
        height: auto;
        max-height: 90%;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    ConfirmDialog #confirm-title { text-style: bold; width: 100%; }
    ConfirmDialog #confirm-scroll { height: auto; max-height: 60vh; margin: 1 0; }
    ConfirmDialog #confirm-body { width: auto; max-width: 100%; }
    ConfirmDialog #confirm-buttons { height: auto; width: 100%; align-horizontal: right; }
    ConfirmDialog Button { margin-left: 1; min-width: 10; }
    """

    def __init__(
        self, title: str, body: str = "", *, yes_label: str = "Yes (y)", no_label: str = "No (n)"
    ) -> None:
        super().__init__()
        self.title_text = safe_text(title)
        self.body_text = safe_text(body, multiline=True)
        self.yes_label = yes_label
        self.no_label = no_label
        #: Keys stamped before this (Textual's clock) are dropped: every key that
        #: arrived before the dialog was mounted was typed ahead of it.
        self.ignore_keys_before = float("inf")

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(self.title_text, id="confirm-title", markup=False)
            if self.body_text:
                # A long body scrolls; the buttons below it always fit (80x24).
                with VerticalScroll(id="confirm-scroll", can_focus=False):
                    yield Static(self.body_text, id="confirm-body", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button(self.no_label, id="confirm-no")
                yield Button(self.yes_label, id="confirm-yes", variant="warning")

    def on_mount(self) -> None:
        # Enter presses the focused button, so it confirms unless the user tabbed to "No".
        self.query_one("#confirm-yes", Button).focus()
        # Mounted: drawn with the next frame. (Set when the box is first shown, a key
        # typed while the screen showed the question could still come in earlier
        # than the box's own Show message and be dropped.)
        self.ignore_keys_before = get_time()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
