"""Dataset checks and fixes for JSONL fine-tuning files, with offline token counting.

`check_file(path, validation=..., model=..., n_epochs=...)` streams a file and returns a
`Report` (issues with line numbers, token statistics, `.to_json()`, `.to_rich()`);
`fttui prepare` is its command line, the server and the TUI call it before uploads.
"""

from fttui.data.check import check_file
from fttui.data.report import FileStats, Issue, Report

__all__ = ["FileStats", "Issue", "Report", "check_file"]
