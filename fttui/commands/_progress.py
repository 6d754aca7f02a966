"""A transfer progress bar on stderr (stdout stays for results and `--json`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fttui.commands._output import err_console

if TYPE_CHECKING:
    from fttui.api.files import ProgressCallback

__all__ = ["transfer_progress"]


@contextmanager
def transfer_progress(label: str, total: int | None = None) -> Iterator[ProgressCallback]:
    """Yields `on_progress(done, total)` for `fttui.api` uploads and downloads.

    Rich draws the bar only on a terminal; in a pipe or a CI log nothing is drawn.
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )
    from rich.text import Text

    from fttui.core.safe_text import safe_text

    if not err_console().is_terminal:
        yield lambda done, size: None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console(),
        transient=True,
    )
    task = progress.add_task(Text(safe_text(label)).plain, total=total)

    def update(done: int, size: int | None) -> None:
        progress.update(task, completed=done, total=size)

    with progress:
        yield update
