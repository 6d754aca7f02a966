"""Cancel and pause as the run sees them: a signal, or the server's answer.

Cancel arrives as SIGTERM (the local runner, `ray job stop`) or in the server's answers
and polls (`Reports.action`, the only way it reaches a Ray worker, which no signal
reaches); pause only from the server. The engine asks between steps (`should_stop`)
and, for anything but a pause, also inside a validation pass (`should_abandon`).
"""

from __future__ import annotations

from types import FrameType

from fttui.train.client import Reports, ServerClient


class Stopped(Exception):
    """Raised to leave training when cancel or pause was requested."""


class Control:
    """Whether the run should stop, and why (a signal, the server, another rank)."""

    def __init__(self, client: ServerClient, reports: Reports | None) -> None:
        self.client = client
        self.reports = reports  # None on ranks other than 0: they hear only signals
        self.stop_flag = False
        self.stop_reason = "server"

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """The SIGTERM/SIGINT handler."""
        self.stop_flag = True
        self.stop_reason = "signal"

    def should_stop(self) -> bool:
        """Stop at the next step boundary: cancel, pause or a signal."""
        if self.stop_flag:
            return True
        return self.reports is not None and self.reports.action != "continue"

    def should_abandon(self) -> bool:
        """Stop at once, even mid-validation: anything but a pause (which completes the
        step it applied, so that its checkpoint continues exactly)."""
        return self.should_stop() and not self.pausing

    @property
    def pausing(self) -> bool:
        return self.reports is not None and self.reports.action == "pause"

    def check(self) -> None:
        if self.should_stop():
            raise Stopped

    def server_asked_stop(self) -> bool:
        """Whether the server asked for the stop (cancel or pause), else a signal or
        another rank did."""
        if self.reports is not None and self.reports.action in ("cancel", "pause"):
            return True
        answer = self.client.control()
        return answer is not None and answer.get("action") in ("cancel", "pause")
