"""`fttui models ...`: base and fine-tuned models (the legacy guide's `models.delete`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from fttui.commands._backend import call
from fttui.commands._output import ExitCode, JsonFlag, fail, line, print_json, table, timestamp

if TYPE_CHECKING:
    from fttui.api import Client, Model

__all__ = ["register"]

app = typer.Typer(help="List, show and delete models.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models", rich_help_panel="Fine-tuning")


def _kind(model: Model) -> str:
    extra = (model.model_extra or {}).get("fttui")
    return str(extra.get("kind", "")) if isinstance(extra, dict) else ""


def _row(model: Model) -> tuple[object, ...]:
    return (model.id, model.owned_by, _kind(model), timestamp(model.created))


@app.command("list")
def list_models(
    ctx: typer.Context,
    fine_tuned: Annotated[
        bool, typer.Option("--fine-tuned", help="only models made by fine-tuning")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """List the models the backend offers.

    Example: [bold]fttui models list --fine-tuned[/]
    """
    from fttui.api import raw

    async def go(client: Client) -> None:
        models = await client.models.list()
        if fine_tuned:
            models = [m for m in models if _kind(m) == "fine-tuned" or m.id.startswith("ft:")]
        if json_out:
            print_json({"object": "list", "data": [raw(m) for m in models]})
        else:
            table(("id", "owned by", "kind", "created"), map(_row, models))

    call(ctx, go)


@app.command("get")
def get_model(
    ctx: typer.Context,
    model_id: Annotated[str, typer.Argument(help="the model's id")],
    json_out: JsonFlag = False,
) -> None:
    """Show one model.

    Example: [bold]fttui models get ft:gpt-4o-mini-2024-07-18:my-org::abc123[/]
    """
    from fttui.api import raw

    async def go(client: Client) -> None:
        model = await client.models.retrieve(model_id)
        if json_out:
            print_json(raw(model))
        else:
            table(("id", "owned by", "kind", "created"), [_row(model)])

    call(ctx, go)


@app.command("delete")
def delete_model(
    ctx: typer.Context,
    model_id: Annotated[str, typer.Argument(help="the fine-tuned model's id")],
    json_out: JsonFlag = False,
) -> None:
    """Delete a fine-tuned model (legacy: models.delete). Base models cannot be deleted.

    Example: [bold]fttui models delete ft:gpt-4o-mini-2024-07-18:my-org::abc123[/]
    """
    from fttui.api import raw

    async def go(client: Client) -> None:
        result = await client.models.delete(model_id)
        if json_out:
            print_json(raw(result))
        elif result.deleted:
            line("deleted ", result.id)
        else:
            fail(f"the backend did not delete {result.id}", ExitCode.FAILURE)

    call(ctx, go)
