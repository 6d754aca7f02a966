"""The Textual application behind `fttui`.

`run(args)` resolves the backend profile, starts the local server in the
background when it is the chosen backend (it keeps running after the app exits,
so training goes on when an SSH session drops), and runs `FtTuiApp`. Heavy
modules (pandas, plotext, the data checker) load only when a screen needs them,
so the first screen draws fast.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widget import Widget

from fttui._keys import KeyQueue
from fttui.backend import Backend, describe_error
from fttui.core.safe_text import safe_text
from fttui.messages import BackendAnswered, BackendFailed, JobEnded
from fttui.notify import notification_sequences
from fttui.palette import ActionsProvider
from fttui.panes.convert import job_suffix
from fttui.screens.main import MainScreen

if TYPE_CHECKING:
    from fttui.api import Client

#: The same problem is not shown again within this many seconds (a refresh timer
#: meeting the same error every 2 s must not bury the panes in toasts).
REPEAT_AFTER_S = 60.0
#: How often a local port held by another program is checked again.
PORT_RETRY_S = 5.0
#: How often the screen's state (marks, filter, sort, ...) is saved when it changed.
STATE_SAVE_S = 3.0


class FtTuiApp(App[int]):
    """Files, jobs, events and plots of one backend."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "fttui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012
    COMMANDS = App.COMMANDS | {ActionsProvider}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Keys"),
        Binding("ctrl+p", "command_palette", "Commands", show=False),
    ]

    def __init__(
        self,
        client: Client,
        *,
        org: str = "local",
        start_server: Callable[[], Awaitable[object]] | None = None,
        frozen_now: float | None = None,
        notifications: bool = True,
        state_path: Path | None = None,
    ) -> None:
        """`start_server` is awaited (in a worker) before the first load and raises
        `fttui.launcher.LauncherError` when no server answers; `frozen_now` pins the
        clock used for elapsed/ETA columns, for reproducible screenshots;
        `notifications` rings the bell and sends a desktop notification when a
        watched job ends (config.toml [tui] notifications; the palette toggles it);
        `state_path` is where the screen's marks, filter, sort, selection and layout
        are kept across restarts (`fttui.ui_state`; None: not kept)."""
        super().__init__()
        self.backend = Backend(client, org=org, frozen_now=frozen_now)
        self._start_server = start_server
        self._backend_note = ""
        self._shown: dict[str, float] = {}  # problem text -> when it was last shown
        self._delivered_to: dict[int, Widget | None] = {}  # id(key event) -> its widget
        self._keys = KeyQueue(self, self._route_key)
        self.notifications = notifications
        self._state_path = state_path
        self._saved_state: dict[str, object] | None = None

    @property
    def client(self) -> Client:
        return self.backend.client

    @property
    def backend_ok(self) -> bool:
        """Whether the backend answered the last call (the header says so when not)."""
        return self.backend.ok

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("main screen not mounted")

    # -- keys typed ahead of a focus change ------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        """Keys typed faster than the app reacts still reach the field they were meant for.

        Keys from the terminal go through `KeyQueue`: one at a time, each handled to
        completion (its binding run, a screen it opened mounted and focused) before
        the next is routed, so keys typed ahead of a dialog go to the dialog.

        Second line, for focus moved by something a key started off its path
        (a drop-down's overlay, a worker): Textual hands each key to the widget focused when the key arrives, but moves
        focus only after the message being handled. Keys that arrive together (a
        fast typist, or several keys in one SSH packet while the app was busy) all go
        to the old widget: after Tab out of a drop-down, the digits typed next went
        to the drop-down and were lost. A printable key that comes back unhandled
        from where it was delivered, with focus now elsewhere and no key binding
        for it there, is delivered again to the widget that has focus now.
        """
        if isinstance(event, events.Key):
            if not event.is_forwarded:
                # One key at a time, each to completion (see fttui._keys).
                await self._keys.key(event)
                return
            if self._typed_ahead(event):
                return
        await super().on_event(event)

    async def _route_key(self, event: events.Key) -> None:
        """Textual's own routing of a key from the terminal (`KeyQueue` calls it)."""
        self._delivered_to[id(event)] = self.focused
        while len(self._delivered_to) > 256:  # keys a widget consumed never return
            del self._delivered_to[next(iter(self._delivered_to))]
        await super().on_event(event)

    def _typed_ahead(self, event: events.Key) -> bool:
        target = self._delivered_to.pop(id(event), None)
        focused = self.focused
        if (
            target is None
            or focused is None
            or focused is target
            or not event.is_printable
            or event.key in self.screen.active_bindings
        ):
            return False
        focused._forward_event(events.Key(event.key, event.character))
        return True

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """A dialog's focused field is scrolled wholly into view. Textual scrolls only
        when the widget is off the screen, not when a dialog's scroll area cuts it.
        (The main screen's panes do not scroll as a whole: nothing to do there.) The
        dialog may be gone already (Escape pressed while focus moved): its widget has no
        screen then, and `Widget.screen` would raise."""
        widget = event.widget
        if widget.is_attached and any(isinstance(n, ModalScreen) for n in widget.ancestors):
            widget.scroll_visible(animate=False)

    def get_default_screen(self) -> MainScreen:
        state: dict[str, object] = {}
        if self._state_path is not None:
            from fttui.ui_state import load_state

            state, problem = load_state(self._state_path)
            if problem:
                self.call_later(self.notify, problem, title="layout", severity="warning")
        return MainScreen(self.backend, live=self._start_server is None, state=state)

    # -- the screen's state across restarts ------------------------------------------
    def save_ui_state(self) -> None:
        """Write the main screen's state when it changed (every few seconds, and on quit:
        a killed app or a dropped link loses at most the last seconds)."""
        if self._state_path is None:
            return
        try:
            state = self.main.ui_state()
        except (LookupError, NoMatches):
            return
        if state == self._saved_state:
            return
        from fttui.ui_state import save_state

        try:
            save_state(self._state_path, state)
        except OSError as exc:
            self._state_path = None  # said once; the app goes on without it
            self.notify(
                f"{exc.filename or 'state file'}: cannot be written ({exc.strerror}); "
                "the layout will not be kept",
                title="layout",
                severity="warning",
            )
            return
        self._saved_state = state

    async def action_quit(self) -> None:
        self.save_ui_state()
        await super().action_quit()

    def on_mount(self) -> None:
        # Modules, classes and styles live as long as the app: keep them out of
        # the garbage collector's full passes, which otherwise stall the UI.
        gc.freeze()
        self.theme = "textual-dark"
        self._update_subtitle()
        if self._state_path is not None:
            self.set_interval(STATE_SAVE_S, self.save_ui_state)
        if self._start_server is not None:
            self._boot()

    @work(group="boot")
    async def _boot(self) -> None:
        """Start (or find) the local server, then the panes' loading.

        A port held by another program is said once, with the fix, and checked
        again every few seconds (nothing is loaded from that program meanwhile);
        a server that fails to start is reported and the panes keep retrying.
        """
        from fttui.launcher import LauncherError, PortTakenError

        assert self._start_server is not None
        self._backend_note = "starting local server…"
        self._update_subtitle()
        said = False
        while True:
            try:
                await self._start_server()
            except PortTakenError as exc:
                if not said:
                    said = True
                    self.notify(str(exc), title="local server", severity="error", timeout=60)
                self._backend_note = "port taken by another program; waiting for it to go"
                self._update_subtitle()
                await asyncio.sleep(PORT_RETRY_S)
                continue
            except LauncherError:
                self._backend_note = "local server did not start; retrying"
                self.notify(
                    "the local server did not answer; see `fttui serve` output or its data "
                    "dir's server.log",
                    title="backend",
                    severity="error",
                    timeout=10,
                )
            else:
                self._backend_note = ""
                if said:
                    self.notify("the local server answers now", title="backend")
            break
        self._update_subtitle()
        self.main.start()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast of the app (`Widget.notify` calls this one): always plain text.

        Messages quote ids, names and error bodies a backend chose, so markup is
        never read from them (`markup` is accepted for Textual's signature and
        ignored: `Widget.notify` passes True by default, and then a server's
        `[@click=app.quit]` would become an action link) and control characters
        are shown (`safe_text`), not obeyed.
        """
        del markup
        super().notify(
            safe_text(message, multiline=True),
            title=safe_text(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    # -- a watched job ended ------------------------------------------------------------
    @on(JobEnded)
    def _job_ended(self, message: JobEnded) -> None:
        """A toast always; with notifications on, the bell and a desktop notification."""
        job = message.job
        suffix = job_suffix(job)
        name = f"{job.id} ({suffix})" if suffix else job.id
        what = f"{name} {job.status}"
        if job.status == "succeeded" and job.fine_tuned_model:
            what += f": {job.fine_tuned_model}"
        severity: SeverityLevel = "information" if job.status == "succeeded" else "warning"
        self.notify(what, title="job ended", severity=severity, timeout=10)
        if self.notifications:
            self.terminal_write(notification_sequences("fttui: job ended", what, os.environ))

    def terminal_write(self, data: str) -> None:
        """Write escape sequences of the app's own to the terminal (never a backend's
        text raw: see `fttui.notify`)."""
        if not self.is_headless and self._driver is not None:
            self._driver.write(data)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        state = "on" if self.notifications else "off"
        yield SystemCommand(
            f"Notifications: turn {'off' if self.notifications else 'on'}",
            f"now {state}: bell and desktop notification when a job ends "
            "(default in config.toml: [tui] notifications)",
            self.action_toggle_notifications,
        )

    def action_toggle_notifications(self) -> None:
        self.notifications = not self.notifications
        self.notify(f"job-end notifications {'on' if self.notifications else 'off'}", timeout=3)

    # -- the one path from a failed backend call to the user -----------------------
    @on(BackendFailed)
    def _backend_failed(self, message: BackendFailed) -> None:
        problem = describe_error(message.what, message.error)
        if problem.unreachable:
            if self.backend.ok:
                self.notify(problem.text, title=problem.title, severity="error")
            self._set_backend_ok(False)
            return
        self._set_backend_ok(True)
        now = time.monotonic()
        if now - self._shown.get(problem.text, -REPEAT_AFTER_S) >= REPEAT_AFTER_S:
            self._shown[problem.text] = now
            self.notify(problem.text, title=problem.title, severity="error", timeout=8)

    @on(BackendAnswered)
    def _backend_answered(self) -> None:
        if not self.backend.ok:
            self.notify("connection restored", title="backend")
        self._set_backend_ok(True)

    def _set_backend_ok(self, ok: bool) -> None:
        if ok != self.backend.ok:
            self.backend.ok = ok
            if ok:
                self._backend_note = ""
            self._update_subtitle()

    def _update_subtitle(self) -> None:
        parts = [self.client.label, self.backend.org]
        if self._backend_note:
            parts.append(self._backend_note)
        elif not self.backend.ok:
            parts.append("unreachable, retrying")
        # The label holds the backend's URL and the org may be a backend's name.
        self.sub_title = safe_text(" · ".join(parts))

    def action_help(self) -> None:
        from fttui.screens.help import HelpScreen, key_sections

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_sections(self.screen)))


def run(args: argparse.Namespace) -> int:
    """Entry point for `fttui` with no subcommand."""
    from fttui.api import Client
    from fttui.config import resolve_profile, tui_settings

    try:
        profile = resolve_profile(
            name=getattr(args, "profile", None),
            base_url=getattr(args, "base_url", None),
            api_key=getattr(args, "api_key", None),
            data_dir=getattr(args, "data_dir", None),
        )
        settings = tui_settings()
    except ValueError as exc:
        print(f"fttui: {safe_text(str(exc), multiline=True)}")
        return 2
    # Few retries: a refresh timer tries again soon anyway, and a backend that is
    # down should show as down within seconds, not after a long backoff.
    client = Client.from_profile(profile, max_retries=1)
    start_server: Callable[[], Awaitable[object]] | None = None
    if profile.kind == "local":
        from fttui.api import APIError
        from fttui.launcher import ensure_local_server

        async def answers() -> bool:
            try:
                health = await client.health()
            except APIError:
                return False
            return bool(health and health.get("status") == "ok")

        async def start() -> None:
            """Returns once a server answers (running already or started now); raises
            LauncherError (PortTakenError when another program holds the port)."""
            await ensure_local_server(profile, probe=answers)

        start_server = start
    org = profile.organization or ("local" if profile.kind == "local" else "default org")
    from fttui.ui_state import state_path

    app = FtTuiApp(
        client,
        org=org,
        start_server=start_server,
        notifications=settings.notifications,
        state_path=state_path(profile.name),
    )
    app.backend.prices = settings.prices
    result = app.run()
    return int(result or 0)
