"""What every pane of the main screen has in common.

A pane is a container widget that owns one part of the screen: its widgets, the
workers that fetch its data, its timers and its state. It tells the screen what
happened with the named messages of `fttui.messages`, and every backend call goes
through `Pane.call`, so a failure reaches the user by one path: a `BackendFailed`
message that the app turns into a notification (once) and the header's state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, TypeVar

from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget

from fttui.api import APIError
from fttui.backend import Backend
from fttui.messages import BackendAnswered, BackendFailed

T = TypeVar("T")


class Pane(Vertical):
    """Base of the five panes; subclasses set NAME and TITLE and compose their widgets."""

    DEFAULT_CLASSES = "pane"

    #: Short name used by the screen's pane switching ("files", "jobs", ...).
    NAME: ClassVar[str] = ""
    #: Shown in the pane's border and the narrow layout's pane bar.
    TITLE: ClassVar[str] = ""

    def __init__(self, backend: Backend) -> None:
        super().__init__(id=f"pane-{self.NAME}")
        self.backend = backend

    @property
    def main_widget(self) -> Widget:
        """The widget that takes focus when the pane is chosen (class `pane-main`)."""
        return self.query_one(".pane-main")

    def start(self) -> None:
        """Begin loading and refreshing (called once the backend is up)."""

    def confirm(self, title: str, body: str, then: Callable[[], object]) -> None:
        """Ask first (y / n); `then()` only on yes. Destructive actions go through here."""
        from widgets import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmDialog(title, body), answered)

    def tell(self, message: Message) -> None:
        """Post `message` up to the screen and the app, sent by this pane.

        Textual stamps a message with the message pump active when it is made and
        stops its bubbling at that sender. A pane method called from the screen's
        handler (or from a worker the screen started) would make the screen the
        sender, and a message for the app (`JobEnded`, `BackendFailed`) stopped
        there: a job that the detail pane saw end first never notified."""
        self.post_message(message.set_sender(self))

    async def call(self, what: str, make: Callable[[], Awaitable[T]]) -> T | None:
        """Await one API call; on failure post `BackendFailed` and return None."""
        try:
            result = await make()
        except APIError as exc:
            self.tell(BackendFailed(what, exc))
            return None
        if not self.backend.ok:
            self.tell(BackendAnswered())
        return result
