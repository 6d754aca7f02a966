"""The `fttui` console script: the TUI by default, commands for scripts otherwise.

`fttui` alone (or with only the backend options) starts the TUI through a small
argparse parser, so start-up pays for neither Typer nor any command; every other
command line goes to `fttui.commands` (Typer), whose command modules import their
implementation lazily (`serve` does not pay for Textual, `jobs list` not for FastAPI).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

_BACKEND_OPTIONS = ("--profile", "--base-url", "--api-key", "--data-dir")


def _tui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fttui", add_help=False, allow_abbrev=False)
    for option in _BACKEND_OPTIONS:
        parser.add_argument(option)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "_FTTUI_COMPLETE" not in os.environ:  # a shell asking for completions: Typer's
        parsed, rest = _tui_parser().parse_known_args(args)
        if not rest:
            from fttui.app import run

            return run(parsed)
    from fttui.commands import main as run_command

    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
