"""The Events pane: the selected job's events as they arrive (follow mode)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult

from fttui.api import APIConnectionError, APIError
from fttui.messages import BackendAnswered, BackendFailed, EventsBatch
from fttui.panes.base import Pane
from fttui.panes.convert import event_row
from widgets import EventLog, EventRow

FLUSH_INTERVAL = 0.25
#: While a job streams, new events go into the log at most this often: each
#: addition scrolls the log, and a scroll redraws every line of it (2 KB a time at
#: 160 columns), which over SSH cost more than anything else on screen. The plots
#: follow the same beat (they take their points from what the log was given).
STREAM_INTERVAL = 3.0
FLUSH_BATCH = 200
CATCH_UP_DELAY = 0.01
BUFFER_HIGH = 2000
RETRY_DELAY = 2.0

EMPTY = "No job selected: its events show here. Press 2 for the jobs list."


class EventsPane(Pane):
    """Streams one job's events into an `EventLog`, in bounded batches.

    A follow that starts on a job with 50,000 events receives them at once; they
    wait in a buffer and go into the log at most FLUSH_BATCH per pass of the event
    loop, so every frame stays short. After each batch it posts `EventsBatch`
    (the plots pane takes the metrics from it).
    """

    NAME: ClassVar[str] = "events"
    TITLE: ClassVar[str] = "Events"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job_id: str | None = None
        self._buffer: list[EventRow] = []
        self._catch_up_scheduled = False
        self._started = False
        self._last_flush = 0.0

    def compose(self) -> ComposeResult:
        self.log_view = EventLog(empty_text=EMPTY, classes="pane-main")
        yield self.log_view

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.set_interval(FLUSH_INTERVAL, self._flush)

    def follow(self, job_id: str | None) -> None:
        """Show `job_id`'s events from the first (None: no job)."""
        self.job_id = job_id
        self.log_view.clear()
        self._buffer.clear()
        self._last_flush = 0.0
        if job_id is not None:
            self._follow(job_id)

    def toggle_follow(self) -> bool:
        log = self.log_view
        log.follow = not log.follow
        return log.follow

    @work(exclusive=True, group="events")
    async def _follow(self, job_id: str) -> None:
        """Stream the job's events into the buffer; resume after a dropped connection.

        Restarting the follow replays events, but the log and the plots both drop
        ids they have seen, so nothing shows twice.
        """
        client = self.backend.client
        while job_id == self.job_id:
            try:
                count = 0
                async for event in client.jobs.follow(job_id, poll_interval=1.0):
                    if job_id != self.job_id:
                        return
                    self._buffer.append(event_row(event))
                    count += 1
                    if count % FLUSH_BATCH == 0:
                        # A catch-up batch (tens of thousands of events) arrives
                        # without a single await: let the UI breathe in between,
                        # and wait while the log is behind, so at most a few
                        # thousand converted events are held at a time.
                        await asyncio.sleep(0)
                        while len(self._buffer) > BUFFER_HIGH:
                            await asyncio.sleep(CATCH_UP_DELAY)
                            if job_id != self.job_id:
                                return
                if not self.backend.ok:
                    self.tell(BackendAnswered())
                return
            except APIConnectionError as exc:
                # Retried here (the stream resumes where it stopped); the app shows
                # the backend as unreachable until some call succeeds again.
                self.tell(BackendFailed("events", exc))
            except APIError as exc:
                self.tell(BackendFailed("events", exc))
                return
            await asyncio.sleep(RETRY_DELAY)

    def _flush(self) -> None:
        """Move buffered events into the log, one bounded batch per call.

        The first events after a quiet spell go in at once; a steady trickle (one
        per training step) is gathered for STREAM_INTERVAL; a backlog (a follow
        catching up on a long job) goes in batch after batch without waiting.
        """
        if not self._buffer or self.job_id is None:
            return
        now = time.monotonic()
        if len(self._buffer) < FLUSH_BATCH and now - self._last_flush < STREAM_INTERVAL:
            return
        self._last_flush = now
        rows = self._buffer[:FLUSH_BATCH]
        del self._buffer[:FLUSH_BATCH]
        if self._buffer and not self._catch_up_scheduled:
            # The next batch after a real pass of the event loop: a callback queued
            # with call_after_refresh can run in the same pass, and a backlog of
            # thousands of events then blocked for hundreds of ms.
            self._catch_up_scheduled = True
            self.set_timer(CATCH_UP_DELAY, self._catch_up)
        self.log_view.add_events(rows)
        self.tell(EventsBatch(self.job_id, rows))

    def _catch_up(self) -> None:
        self._catch_up_scheduled = False
        self._last_flush = 0.0  # a backlog: the next batch without waiting
        self._flush()
