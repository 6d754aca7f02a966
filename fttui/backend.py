"""What the app's panes and dialogs share about the backend, and how its errors read.

`Backend` is handed down from the app to the main screen, its panes and the
dialogs (instead of each reaching up to the app class, which would make the app
and its screens import each other). `describe_error` is the one place that turns
an `APIError` into the words a user sees, whether they end up in a notification
(through `messages.BackendFailed`, handled once by the app) or inside a dialog.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fttui.api import APIConnectionError, APIError, APIStatusError

if TYPE_CHECKING:
    from fttui.api import Client

__all__ = ["Backend", "Problem", "describe_error"]


@dataclass
class Backend:
    """The API client, the organisation shown in model names, and the clock.

    `frozen_now` pins the clock (elapsed/ETA columns, the form's model-name
    preview) for reproducible snapshots and screenshots. `ok` is whether the
    backend answered the last call; the app keeps it (and the header) up to date.
    """

    client: Client
    org: str = "local"
    frozen_now: float | None = None
    ok: bool = True
    #: The config's [prices] (model -> USD per 1M training tokens) over fttui's table.
    prices: dict[str, float] = field(default_factory=dict)
    #: The job form's last unsent values (`n` opens them again), kept for the session.
    draft: dict[str, Any] | None = None

    def now(self) -> float:
        return self.frozen_now if self.frozen_now is not None else time.time()


@dataclass(frozen=True)
class Problem:
    """A failed call as the user reads it: a title, one message, and whether the
    backend could not be reached at all (then the header says so, too)."""

    title: str
    text: str
    unreachable: bool = False


def describe_error(what: str, error: APIError) -> Problem:
    """The words for `error`, raised while doing `what` ("list jobs", "upload", ...).

    The API layer already reduces an error body to the server's own message (a
    non-JSON body to its status and a short first line), so this only decides
    the title and whether the backend is down.
    """
    if isinstance(error, APIConnectionError):
        return Problem("backend unreachable", f"{what}: {error}", unreachable=True)
    if isinstance(error, APIStatusError):
        return Problem(what, str(error))
    return Problem(what, str(error))
