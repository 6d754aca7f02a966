"""Keys handled one at a time, in the order typed, each by the screen it was typed for.

Why: Textual routes a key the moment it arrives: the app hands it to the widget
focused *then* and goes on with the next key. A binding runs only when the key has
bubbled back up to the app, so when several keys arrive together (an SSH link
delivers a fast typist's keys in bursts) every key after `n` was already handed to
the jobs list before `n` opened the job form. They then bubbled up as commands of
the screen underneath or landed in whatever field the half-mounted form had
focused: `n Tab Tab Tab Tab 3 Tab 16 ...` switched the main screen to pane 3 and
put 16 into n_epochs instead of 3.

What: `KeyQueue` lets one key through at a time. After the app has routed a key,
a marker travels the key's path behind it (the widget it was given to, each
ancestor, the screen, the app: each posted to the next node's queue once the
previous node has handled everything before it, so it always trails the key and
whatever the key's handlers posted on the way). When the marker is back at the app
the key's binding has run (a marker that found messages queued behind it on the
way, or messages queued anywhere on the key's screen, goes round again: what the
key started may travel on as messages, like a pane asking its screen for a dialog);
if that pushed a screen, the next key waits until the new screen is mounted and has
focused its first field. Keys that arrive meanwhile are held and then routed in
order, as if typed slowly.

A screen that loads what its keys act on (the job form's model and file lists, a
clone's values) sets `holds_keys_until` (a `time.monotonic()` deadline, at most
`HOLD_MAX_S` ahead) and sets it to 0 once loaded: keys wait for it, so `n Enter tiny
Enter` chooses from the loaded list and nothing typed is overwritten by values
loaded after it. The deadline keeps a screen whose loading hangs answering keys.

A screen that must not act on keys typed before it was shown (a confirm for a
destructive action) sets `ignore_keys_before` (a `textual._time.get_time()` value);
keys stamped earlier are dropped there, never delivered.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import events

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode
    from textual.message_pump import MessagePump

#: How often a key whose marker has not come back is looked at: when the node the
#: marker waits on has closed (a dialog dismissed with the marker still queued on one
#: of its widgets), the marker is lost and the key counts as handled. A node that is
#: merely slow (a loaded machine) is waited for, however long it takes.
STALL_S = 0.25
#: Passes of the marker along a key's path at most (see `KeyQueue._step`).
MAX_PASSES = 4
#: The longest a screen holds keys while it loads (`holds_keys_until`).
HOLD_MAX_S = 10.0
#: How often a held screen is looked at again.
HOLD_POLL_S = 0.05


def _holds_keys(screen: DOMNode) -> bool:
    """Whether `screen` is still loading what its keys act on."""
    return time.monotonic() < getattr(screen, "holds_keys_until", 0.0)


def _queued_under(path: list[DOMNode]) -> bool:
    """Whether any widget of the screen on the key's path has messages queued."""
    from textual.screen import Screen

    screen = next((node for node in path if isinstance(node, Screen)), None)
    if screen is None or not screen.is_attached:
        return False
    return any(not node._message_queue.empty() for node in screen.walk_children())


class KeyQueue:
    """Serialises the app's raw keys; see the module docstring."""

    def __init__(self, app: App[Any], route: Callable[[events.Key], Awaitable[None]]) -> None:
        """`route(key)` hands one key on (Textual's own routing); it is awaited in the
        app's task, one key at a time."""
        self._app = app
        self._route = route
        self._held: deque[events.Key] = deque()
        self._in_flight: events.Key | None = None
        self._generation = 0  # which key a marker or a stall timer belongs to
        self._waiting_on: MessagePump | None = None  # where the marker is queued
        self._waiter: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self._in_flight is not None

    @property
    def held(self) -> int:
        """How many keys wait behind the one in flight."""
        return len(self._held)

    async def key(self, event: events.Key) -> None:
        """A key arrived from the terminal: routed now, or held behind the one in flight
        (or until the screen on top has mounted)."""
        if self._in_flight is not None or not self._screen_ready():
            self._held.append(event)
            if self._in_flight is None:
                self._start_waiting()
            return
        await self._send(event)

    async def _send(self, event: events.Key) -> None:
        app = self._app
        self._in_flight = event
        self._generation += 1
        generation = self._generation
        screen = app.screen
        if event.time < getattr(screen, "ignore_keys_before", float("-inf")):
            # Typed before this dialog was on screen: meant for what was there before.
            self._finished(generation)
            return
        target: DOMNode = app.focused or screen
        await self._route(event)
        path = list(target.ancestors_with_self)
        if path[-1] is not app:
            path.append(app)  # a widget removed meanwhile: the app still sees the key last
        self._step(path, 0, generation, False, 1)
        app.set_timer(STALL_S, partial(self._stalled, generation))

    def _step(
        self, path: list[DOMNode], index: int, generation: int, busy: bool, passes: int
    ) -> None:
        """Run on path[index - 1]'s task: that node has handled the key (and passed
        it up, if it did). Queue the marker behind it on the next node.

        What a key starts may travel on as messages (a pane asks for a dialog by
        posting a message up to its screen), so a marker that finds messages queued
        behind it on its way makes another pass along the path, up to `MAX_PASSES`."""
        if generation != self._generation:
            return
        if index:
            busy = busy or not path[index - 1]._message_queue.empty()
        if index == len(path):
            busy = busy or any(not node._message_queue.empty() for node in path)
            # A binding may ask another part of the screen to act (`u` with the jobs
            # list focused: the files pane posts that it wants the upload dialog, a
            # message that bubbles up to the screen off the key's path).
            busy = busy or _queued_under(path)
            if busy and passes < MAX_PASSES:
                self._step(path, 0, generation, False, passes + 1)
            else:
                self._finished(generation)
            return
        node = path[index]
        self._waiting_on = node
        if not node.call_later(self._step, path, index + 1, generation, busy, passes):
            self._step(path, index + 1, generation, busy, passes)  # a node that no longer runs

    def _stalled(self, generation: int) -> None:
        if generation != self._generation or self._in_flight is None:
            return
        node = self._waiting_on
        if node is not None and node.is_running and not (node._closing or node._closed):
            self._app.set_timer(STALL_S, partial(self._stalled, generation))
            return
        self._finished(generation)

    def _finished(self, generation: int) -> None:
        """The key has been handled (on the app's task): next key, once the screen
        on top is mounted."""
        if generation != self._generation:
            return
        self._generation += 1
        self._in_flight = None
        self._waiting_on = None
        if self._held:
            self._start_waiting()

    def _screen_ready(self) -> bool:
        screen = self._app.screen
        return screen.is_mounted and not _holds_keys(screen)

    def _start_waiting(self) -> None:
        """Hold the queue (a placeholder in flight) until the screen on top is mounted
        and has taken its first focus, then route the next held key."""
        self._in_flight = self._held[0]
        self._generation += 1
        generation = self._generation
        screen = self._app.screen

        async def when_ready() -> None:
            await screen._mounted_event.wait()
            # A screen focuses its first field from on_mount through the app's queue
            # (`Widget.focus` is a call_later on the app): behind that.
            self._app.call_later(self._next, generation)

        if screen.is_mounted and _holds_keys(screen):
            self._app.set_timer(HOLD_POLL_S, partial(self._next, generation))
        elif screen.is_mounted:
            self._app.call_later(self._next, generation)
        else:
            # Kept: the event loop holds tasks only weakly.
            self._waiter = asyncio.get_running_loop().create_task(when_ready())

    async def _next(self, generation: int) -> None:
        if generation != self._generation:
            return
        if not self._screen_ready():
            self._start_waiting()  # another screen was pushed meanwhile
            return
        event = self._held.popleft()
        await self._send(event)
