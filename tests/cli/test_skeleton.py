"""The command line's shared parts: global options, exit codes, completion, start-up."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fttui.commands._backend import hoist_global_options
from tests.cli.conftest import fttui
from tests.conftest import ServerProcess, free_port

COMMANDS = frozenset({"jobs", "serve", "files"})


def test_global_options_after_the_command_are_moved_in_front() -> None:
    assert hoist_global_options(["jobs", "list", "--profile", "openai", "--json"], COMMANDS) == [
        "--profile",
        "openai",
        "jobs",
        "list",
        "--json",
    ]
    assert hoist_global_options(["jobs", "get", "x", "--base-url=http://h/v1"], COMMANDS) == [
        "--base-url=http://h/v1",
        "jobs",
        "get",
        "x",
    ]
    # serve's --data-dir and --api-key are the server's own; after `--` nothing moves.
    serve = ["serve", "--data-dir", "/d", "--api-key", "k"]
    assert hoist_global_options(serve, COMMANDS) == serve
    literal = ["jobs", "get", "--", "--profile"]
    assert hoist_global_options(literal, COMMANDS) == literal


def test_errors_are_one_line_with_their_exit_code(server: ServerProcess) -> None:
    listed = fttui("jobs", "list", "--json", base_url=server.base_url)
    assert listed.code == 0, listed.err
    assert listed.json()["object"] == "list"

    unknown = fttui("jobs", "get", "ftjob-nope", base_url=server.base_url)
    assert unknown.code == 3
    assert "ftjob-nope" in unknown.err and len(unknown.err.strip().splitlines()) == 1

    down = fttui("jobs", "list", base_url=f"http://127.0.0.1:{free_port()}/v1")
    assert down.code == 4
    assert "cannot reach" in down.err and len(down.err.strip().splitlines()) == 1

    bad = fttui("jobs", "list", "--limit", "many", base_url=server.base_url)
    assert bad.code == 2
    assert "--limit" in bad.err and len(bad.err.strip().splitlines()) == 1
    for run in (unknown, down, bad):
        assert "Traceback" not in run.err

    profile = fttui("jobs", "list", "--profile", "nosuch")
    assert profile.code == 2 and "unknown profile 'nosuch'" in profile.err


@pytest.mark.parametrize(
    ("shell", "env", "expected"),
    [
        ("bash", {"COMP_WORDS": "fttui jo", "COMP_CWORD": "1"}, "jobs"),
        ("zsh", {"_TYPER_COMPLETE_ARGS": "fttui jobs "}, '"list":'),
        (
            "fish",
            {"_TYPER_COMPLETE_ARGS": "fttui jobs g", "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
            "get\t",
        ),
    ],
)
def test_shell_completion(shell: str, env: dict[str, str], expected: str) -> None:
    """What the installed completion script asks `fttui` for, answered per shell."""
    script = fttui("completion", shell)
    assert script.code == 0 and "_FTTUI_COMPLETE" in script.out
    answer = subprocess.run(
        [sys.executable, "-m", "fttui"],
        env={**os.environ, **env, "_FTTUI_COMPLETE": f"complete_{shell}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 0, answer.stderr
    assert expected in answer.stdout


def test_tui_start_does_not_import_the_command_line() -> None:
    """`fttui` alone goes straight to the TUI: Typer and the commands are never imported."""
    code = (
        "import sys; from fttui import cli; cli._tui_parser().parse_known_args([]); "
        "assert 'typer' not in sys.modules and 'fttui.commands' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _leaves(command: object, path: str) -> list[tuple[str, str]]:
    subs = getattr(command, "commands", None)
    if not subs:
        return [(path, getattr(command, "help", None) or "")]
    return [leaf for name, sub in subs.items() for leaf in _leaves(sub, f"{path} {name}")]


def test_every_command_has_an_example_of_itself_in_its_help() -> None:
    """--help shows an example per command: its docstring's `Example:` runs that command."""
    import re

    import typer

    from fttui.commands import build_app

    leaves = _leaves(typer.main.get_command(build_app()), "fttui")
    assert len(leaves) >= 20
    for path, text in leaves:
        example = re.search(r"Example:\s*(?:\[bold\])?([^\[\n]+)", text)
        assert example is not None, f"{path}: no Example: in its help"
        assert example.group(1).startswith(path + " "), f"{path}: example {example.group(1)!r}"
    shown = fttui("jobs", "create", "--help")
    assert shown.code == 0 and "Example: fttui jobs create -t train.jsonl" in shown.out
