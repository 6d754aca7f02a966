"""`fttui completion SHELL`: print the shell completion script for a named shell.

Typer's own `--install-completion` / `--show-completion` detect the running shell;
this names it, for a Dockerfile, a dotfiles repo or a shell Typer cannot detect.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["register"]


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def register(root: typer.Typer) -> None:
    @root.command("completion", rich_help_panel="Setup")
    def completion(
        ctx: typer.Context,
        shell: Annotated[Shell, typer.Argument(help="the shell to write the script for")],
    ) -> None:
        """Print the completion script for bash, zsh or fish.

        Example: [bold]fttui completion bash > ~/.local/share/bash-completion/completions/fttui[/]
        """
        from typer.completion import completion_init, show_callback

        completion_init()
        try:
            show_callback(ctx, ctx.command.params[0], shell.value)  # writes it, then exits
        except SystemExit as done:
            raise typer.Exit(int(done.code or 0)) from None
