"""The `fttui` command line: one module per command group, on Typer.

`fttui` alone starts the TUI without importing this package (see `fttui.cli`);
every other invocation comes here. Typer (on its vendored click) gives `--help`
for every command and shell completion for bash, zsh and fish
(`fttui --install-completion`, or `fttui completion bash|zsh|fish` to print a script).

How to add a subcommand: write `fttui/commands/<name>.py` with a module-level
`register(root: typer.Typer) -> None` that adds a command (`@root.command()`) or a
group (`root.add_typer(group, name=...)`), and add `"<name>"` to `COMMAND_MODULES`
below. Keep the module's top-level imports to `typer` and `fttui.commands._*`:
every command's module is imported to build `--help` and completion, so heavy
imports (httpx via `fttui.api`, torch, pandas) go inside the command function.
Give each command a docstring whose first line is its one-line summary, and an
"Example:" paragraph. Talk to the backend with `call(ctx, fn)` from
`fttui.commands._backend` (`async def fn(client: fttui.api.Client)`), never with
httpx; add the shared `--json` flag with `JsonFlag` and print `fttui.api.raw(obj)`
with `print_json` under it, Rich tables otherwise (`table`, `line`, `cell` pass
every untrusted string through `safe_text`). Fail with `fail(message, ExitCode.X)`
(one line on stderr, the shared exit code), never by letting an exception out.
The options `--profile`, `--base-url`, `--api-key` and `--data-dir` are global
(they may follow any command); do not reuse those names. Tests run the real
`fttui` process against the real server fixture: see tests/cli/.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from fttui import __version__
from fttui.commands._backend import Backend, hoist_global_options
from fttui.commands._output import CommandError, ExitCode, JsonFlag

__all__ = ["COMMAND_MODULES", "JsonFlag", "build_app", "main"]

#: The modules under fttui/commands/ that register commands, in `--help` order.
COMMAND_MODULES: tuple[str, ...] = (
    "serve",
    "prepare",
    "files",
    "jobs",
    "models",
    "try_model",
    "migrate",
    "completion",
    "eval",
    "export",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fttui {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    """The root command with every module's commands registered."""
    root = typer.Typer(
        name="fttui",
        help="Fine-tune language models from the terminal: the TUI when run alone, "
        "and commands for scripts.",
        no_args_is_help=False,
        invoke_without_command=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @root.callback()
    def _root(
        ctx: typer.Context,
        profile: Annotated[
            str | None, typer.Option(help="named profile from config.toml (default: local)")
        ] = None,
        base_url: Annotated[
            str | None, typer.Option(help="API base URL, e.g. https://api.openai.com/v1")
        ] = None,
        api_key: Annotated[
            str | None,
            typer.Option(help="API key (default: $OPENAI_API_KEY or the profile's)"),
        ] = None,
        data_dir: Annotated[
            str | None, typer.Option(help="local server data directory ($FTTUI_DATA_DIR)")
        ] = None,
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
        ] = False,
    ) -> None:
        ctx.obj = Backend(profile=profile, base_url=base_url, api_key=api_key, data_dir=data_dir)
        if ctx.invoked_subcommand is None:  # `fttui --profile x` reached here: the TUI
            import argparse

            from fttui.app import run

            raise typer.Exit(run(argparse.Namespace(**vars(ctx.obj))))

    for name in COMMAND_MODULES:
        importlib.import_module(f"fttui.commands.{name}").register(root)
    return root


def _say(prefix: str, message: str) -> None:
    from fttui.core.safe_text import safe_text

    sys.stdout.flush()
    print(f"{prefix}: {safe_text(message)}", file=sys.stderr, flush=True)


def _command_path(command: object, args: Sequence[str]) -> str:
    """`fttui jobs create` for the command words in `args` (for an error's prefix)."""
    path = ["fttui"]
    for token in args:
        commands = getattr(command, "commands", None)
        if not isinstance(commands, dict):
            break
        if token in commands:
            path.append(token)
            command = commands[token]
    return " ".join(path)


def main(argv: Sequence[str]) -> int:
    """Run one command line (without the program name); returns the exit code."""
    app = build_app()
    command = typer.main.get_command(app)
    names = frozenset(getattr(command, "commands", {}))
    args = hoist_global_options(argv, names)
    try:
        result = command.main(args=args, prog_name="fttui", standalone_mode=False)
    except CommandError as exc:
        _say(_command_path(command, args), exc.message)
        return int(exc.code)
    except typer.TyperException as exc:  # click's usage errors: bad flag, missing argument
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "fttui"
        hint = f" (see {where} --help)" if ctx is not None else ""
        _say(where, exc.format_message() + hint)
        return int(getattr(exc, "exit_code", ExitCode.BAD_INPUT))
    except (KeyboardInterrupt, typer.Abort):
        print("interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:  # `fttui jobs list | head`
        return int(ExitCode.OK)
    return int(result or 0)
