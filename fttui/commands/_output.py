"""What every command prints, and the exit codes scripts rely on.

Two outputs, one rule each:

- Humans get Rich tables and lines on stdout. Every string that came from a
  backend or a data file (ids, names, messages, completions) goes through
  `safe_text` and is drawn as plain `Text`, never as markup, exactly as the TUI
  does (`cell`, `line`).
- `--json` prints the API object exactly as the backend sent it (`fttui.api.raw`),
  through `safe_json`: the same data, with no raw control character in the bytes.

Errors are one line on stderr, `fttui <command>: <message>`, and a distinct exit
code (`ExitCode`); never a traceback.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "ExitCode",
    "JsonFlag",
    "CommandError",
    "cell",
    "console",
    "err_console",
    "fail",
    "line",
    "print_json",
    "table",
    "timestamp",
]


class ExitCode(enum.IntEnum):
    """Exit codes of every `fttui` subcommand (`fttui prepare` keeps its own 0/1/2)."""

    OK = 0
    #: The backend refused the request for another reason (409 conflict, 5xx, ...).
    FAILURE = 1
    #: Bad input: a flag value, a missing or invalid file, a data check error, a 400.
    BAD_INPUT = 2
    #: The job, file or model named does not exist (404).
    NOT_FOUND = 3
    #: The backend could not be reached (connection refused, DNS, timeout).
    UNREACHABLE = 4
    #: A followed job ended `failed`.
    JOB_FAILED = 5
    #: A followed job ended `cancelled`.
    JOB_CANCELLED = 6
    #: The API key is missing or not allowed (401, 403).
    AUTH = 7
    #: Interrupted with Ctrl-C.
    INTERRUPTED = 130


#: The shared `--json` flag: `json_out: JsonFlag = False` in a command's signature.
JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="print the API object exactly as the backend sent it, as JSON"),
]


class CommandError(Exception):
    """Raised anywhere in a command: printed as one line, exits with `code`."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, code: ExitCode = ExitCode.BAD_INPUT) -> NoReturn:
    """Stop the command with one line on stderr and `code`."""
    raise CommandError(message, code)


_consoles: dict[str, Console] = {}


def console() -> Console:
    """The stdout console (made on first use: commands that print JSON never pay for Rich)."""
    if "out" not in _consoles:
        from rich.console import Console

        _consoles["out"] = Console(highlight=False, soft_wrap=True)
    return _consoles["out"]


def err_console() -> Console:
    """The stderr console: progress bars, notices, warnings."""
    if "err" not in _consoles:
        from rich.console import Console

        _consoles["err"] = Console(stderr=True, highlight=False, soft_wrap=True)
    return _consoles["err"]


def print_json(body: Any) -> None:
    """`body` as indented JSON on stdout: exact data, controls as \\uXXXX escapes."""
    from fttui.core.safe_text import safe_json

    sys.stdout.write(safe_json(body, indent=2) + "\n")
    sys.stdout.flush()


def cell(value: object, style: str = "") -> Text:
    """One table cell or line part from untrusted text: controls shown, no markup."""
    from rich.text import Text

    from fttui.core.safe_text import safe_text

    return Text("" if value is None else safe_text(str(value)), style=style)


def line(*parts: object, multiline: bool = False, stderr: bool = False) -> None:
    """Print a line made of trusted `Text`/str parts and untrusted values.

    A `Text` is printed as it is (built by fttui); anything else passes `safe_text`.
    """
    from rich.text import Text

    from fttui.core.safe_text import safe_text

    out = Text()
    for part in parts:
        if isinstance(part, Text):
            out.append_text(part)
        else:
            out.append(safe_text("" if part is None else str(part), multiline=multiline))
    (err_console() if stderr else console()).print(out)


def table(
    columns: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None
) -> None:
    """A Rich table; every cell passes `safe_text` (a `Text` cell is kept as built)."""
    from rich.table import Table
    from rich.text import Text

    tab = Table(title=title, title_justify="left", box=None, header_style="bold")
    for column in columns:
        tab.add_column(column, overflow="fold")
    for row in rows:
        tab.add_row(*(v if isinstance(v, Text) else cell(v) for v in row))
    console().print(tab)


def timestamp(seconds: int | float | None) -> str:
    """A Unix time as `2026-12-04 10:10:18` UTC ("" when absent)."""
    if not seconds:
        return ""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
