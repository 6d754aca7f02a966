"""Dataset checks and fixes for JSONL fine-tuning files, with offline token counting.

`check_file(path, validation=..., model=..., n_epochs=...)` streams a file and returns a
`Report` (issues with line numbers, token statistics, `.to_json()`, `.to_rich()`);
`fttui prepare` is its command line, the TUI calls it before uploads.

`fttui.data.contract` (what a valid example is) is imported by the server and the
trainer too, so this package imports its heavier modules (rich, tiktoken) only when
one of the names below is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fttui.data.check import check_file
    from fttui.data.report import FileStats, Issue, Report

__all__ = ["FileStats", "Issue", "Report", "check_file"]


def __getattr__(name: str) -> Any:
    if name == "check_file":
        from fttui.data.check import check_file

        return check_file
    if name in ("FileStats", "Issue", "Report"):
        from fttui.data import report

        return getattr(report, name)
    raise AttributeError(f"module 'fttui.data' has no attribute {name!r}")
