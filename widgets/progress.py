"""Upload/download progress: label, bar, and "x MB / y MB, z MB/s"."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Label, ProgressBar

from fttui.core.safe_text import safe_text
from widgets._format import human_bytes


class TransferProgress(Widget):
    """Shows how far a streamed transfer is; call `update_progress(done, total)` often.

    The rate is measured from the first update, so a caller only reports byte counts.
    """

    DEFAULT_CSS = """
    TransferProgress {
        height: auto;
        layout: horizontal;
    }
    TransferProgress > #transfer-label { width: auto; max-width: 40%; margin-right: 1; }
    TransferProgress > ProgressBar { width: auto; }
    TransferProgress > #transfer-stats { width: 1fr; margin-left: 1; color: $foreground-muted; }
    """

    def __init__(
        self,
        label: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._label = safe_text(label)
        self._started: float | None = None
        self._done_at_start = 0
        self.done = 0
        self.total: int | None = None

    def compose(self) -> ComposeResult:
        yield Label(self._label, id="transfer-label", markup=False)
        yield ProgressBar(total=None, show_eta=False, id="transfer-bar")
        yield Label("", id="transfer-stats")

    def set_label(self, label: str) -> None:
        """Change what is being transferred (e.g. the file name: plain text)."""
        self._label = safe_text(label)
        self.query_one("#transfer-label", Label).update(self._label)

    @property
    def stats_text(self) -> str:
        """'x MB / y MB, z MB/s' for the latest update."""
        total = human_bytes(self.total) if self.total is not None else "?"
        text = f"{human_bytes(self.done)} / {total}"
        elapsed = time.monotonic() - self._started if self._started is not None else 0.0
        if elapsed > 0.05 and self.done > self._done_at_start:
            rate = (self.done - self._done_at_start) / elapsed
            text += f", {human_bytes(rate)}/s"
        return text

    def update_progress(self, done: int, total: int | None) -> None:
        """Record that `done` of `total` bytes (None: unknown) have been transferred."""
        if self._started is None:
            # The rate is measured from the first report, which is its baseline.
            self._started = time.monotonic()
            self._done_at_start = done
        self.done = done
        self.total = total
        self.query_one(ProgressBar).update(total=total, progress=done)
        self.query_one("#transfer-stats", Label).update(self.stats_text)

    def reset(self) -> None:
        """Start over for a new transfer (the rate clock restarts)."""
        self._started = None
        self._done_at_start = 0
        self.done = 0
        self.total = None
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#transfer-stats", Label).update("")
