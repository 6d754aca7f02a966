"""`fttui export MODEL --format hf -o DIR`: take a model out of the local server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fttui.commands._backend import call
from fttui.commands._output import line

if TYPE_CHECKING:
    from fttui.api import Client

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    root.command("export", rich_help_panel="Models")(export_command)


def export_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="a fine-tuned (or base) model of the local server")],
    output: Annotated[Path, typer.Option("--output", "-o", help="directory to write")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="hf: merged safetensors + tokenizer + chat template; "
            "gguf: model.gguf + Ollama Modelfile",
        ),
    ] = "hf",
) -> None:
    """Export a model as a directory transformers (and vLLM, TGI) load.

    hf: the merged safetensors weights (LoRA adapters merged), config, tokenizer and
    chat template. gguf: model.gguf (llama.cpp, Ollama) and a Modelfile (`ollama
    create NAME -f DIR/Modelfile`), for models whose base came from a GGUF. Works against a local server on another machine too: the server
    sends the directory as a tar.

    Example: [bold]fttui export SmolLM2-135M-Instruct:ft-local:my-model -o ./my-model[/]
    """

    async def go(client: Client) -> Path:
        return await client.models.export(model, output, fmt)

    target = call(ctx, go, timeout=600.0)
    line(f"Exported {model} ({fmt}) to {target}")
