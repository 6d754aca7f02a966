"""`fttui prepare FILE`: the data check (and fixes) of the legacy guide's `prepare_data`."""

from __future__ import annotations

import argparse
from enum import StrEnum
from typing import Annotated

import typer

from fttui.commands._backend import backend

__all__ = ["register"]


class PrepareMethod(StrEnum):
    supervised = "supervised"
    dpo = "dpo"


_FIXES = (
    "to-jsonl, keys, prefix, separator, leading-space, stop, dedupe, drop-long, "
    "drop-invalid, split, to-chat, lowercase, all"
)


def register(root: typer.Typer) -> None:
    @root.command(rich_help_panel="Server and data")
    def prepare(
        ctx: typer.Context,
        file: Annotated[str, typer.Argument(help="training JSONL file")],
        validation: Annotated[
            str | None, typer.Option(help="validation JSONL file (checked for overlap)")
        ] = None,
        model: Annotated[
            str | None,
            typer.Option(
                help="the model you will train: its tokenizer counts the tokens and its "
                "limit applies (default: the default model, SmolLM2-135M-Instruct)"
            ),
        ] = None,
        n_epochs: Annotated[
            int, typer.Option("--n-epochs", help="epochs for the billed-token estimate")
        ] = 4,
        fix: Annotated[
            list[str] | None,
            typer.Option(metavar="FIX", help=f"apply a fix (repeatable): {_FIXES}"),
        ] = None,
        method: Annotated[
            PrepareMethod | None,
            typer.Option(help="the job's fine-tuning method: the file's format must fit it"),
        ] = None,
        split: Annotated[
            float | None, typer.Option(help="validation share for --fix split")
        ] = None,
        seed: Annotated[int, typer.Option(help="seed for the split")] = 0,
        output: Annotated[
            str | None, typer.Option("-o", "--output", help="output path prefix for fixed files")
        ] = None,
        json: Annotated[bool, typer.Option("--json", help="print a stable JSON report")] = False,
        show_trained: Annotated[
            int | None,
            typer.Option(
                "--show-trained",
                metavar="N",
                min=1,
                help="show the first N examples as the (local) model's chat template renders "
                "them, the trained tokens marked",
            ),
        ] = None,
    ) -> int:
        """Check (and fix) a JSONL training file. Exit code: 0 clean, 1 warnings, 2 errors.

        Example: [bold]fttui prepare train.jsonl --validation valid.jsonl --fix all[/];
        [bold]fttui prepare chat.jsonl --model qwen3 --show-trained 3[/] shows what is trained.
        """
        from fttui.core.models import DEFAULT_MODEL
        from fttui.data.prepare import main as prepare_main

        args = argparse.Namespace(
            file=file,
            validation=validation,
            # What a job created without a model trains (the server's default).
            model=model or DEFAULT_MODEL,
            n_epochs=n_epochs,
            fix=fix or [],
            method=method.value if method is not None else None,
            split=split,
            seed=seed,
            output=output,
            json=json,
            show_trained=show_trained,
            data_dir=backend(ctx).data_dir,
        )
        return prepare_main(args)
