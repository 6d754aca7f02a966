"""`fttui files ...`: training files on the backend (the legacy guide's `files.*`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fttui.commands._backend import call
from fttui.commands._output import (
    ExitCode,
    JsonFlag,
    fail,
    line,
    print_json,
    table,
    timestamp,
)

if TYPE_CHECKING:
    from fttui.api import Client, FileObject

__all__ = ["register"]

app = typer.Typer(help="Upload, list, download and delete files.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="files", rich_help_panel="Fine-tuning")


def _file_row(f: FileObject) -> tuple[object, ...]:
    return (f.id, f.filename, f"{f.bytes:,}", f.purpose, f.status or "", timestamp(f.created_at))


_COLUMNS = ("id", "filename", "bytes", "purpose", "status", "created")


@app.command("upload")
def upload(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="the file to upload")],
    purpose: Annotated[str, typer.Option(help="fine-tune, batch, evals, ...")] = "fine-tune",
    json_out: JsonFlag = False,
) -> None:
    """Upload a file (with a progress bar on a terminal) and print its id.

    Uploading does not check the data; `fttui prepare FILE` does, and
    `fttui jobs create -t FILE` checks, uploads and starts a job in one go.

    Example: [bold]fttui files upload train.jsonl[/]
    """
    from fttui.api import raw
    from fttui.commands._progress import transfer_progress

    if not path.is_file():
        fail(f"{path}: no such file")

    async def go(client: Client) -> None:
        with transfer_progress(f"uploading {path.name}", path.stat().st_size) as progress:
            uploaded = await client.files.upload(path, purpose=purpose, on_progress=progress)
        if json_out:
            print_json(raw(uploaded))
        else:
            table(_COLUMNS, [_file_row(uploaded)])

    call(ctx, go, timeout=600.0)


@app.command("list")
def list_files(
    ctx: typer.Context,
    purpose: Annotated[str | None, typer.Option(help="only files of this purpose")] = None,
    json_out: JsonFlag = False,
) -> None:
    """List the files on the backend, every page.

    Example: [bold]fttui files list --purpose fine-tune[/]
    """
    from fttui.api import raw

    async def go(client: Client) -> None:
        files = [f async for f in client.files.iter(purpose=purpose)]
        if json_out:
            print_json({"object": "list", "data": [raw(f) for f in files]})
        else:
            table(_COLUMNS, map(_file_row, files))

    call(ctx, go)


@app.command("get")
def get_file(
    ctx: typer.Context,
    file_id: Annotated[str, typer.Argument(help="the file's id, e.g. file-abc123")],
    json_out: JsonFlag = False,
) -> None:
    """Show one file.

    Example: [bold]fttui files get file-abc123[/]
    """
    from fttui.api import raw

    async def go(client: Client) -> None:
        found = await client.files.retrieve(file_id)
        if json_out:
            print_json(raw(found))
        else:
            table(_COLUMNS, [_file_row(found)])
            if found.status_details:
                line("status details: ", found.status_details)

    call(ctx, go)


@app.command("download")
def download(
    ctx: typer.Context,
    file_id: Annotated[str, typer.Argument(help="the file's id")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="where to write it (default: its file name here)"),
    ] = None,
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Download a file's content (written whole or not at all).

    Example: [bold]fttui files download file-abc123 -o train.jsonl[/]
    """
    from fttui.commands._progress import transfer_progress

    async def go(client: Client) -> None:
        target = output
        if target is None:
            meta = await client.files.retrieve(file_id)
            from fttui.core.safe_text import find_unsafe

            # The backend's name for it, not trusted: no directory part, no controls.
            name = Path(meta.filename).name if meta.filename else ""
            if not name or name in (".", "..") or find_unsafe(name):
                name = Path(file_id).name
            target = Path(name)
        if target.exists() and not force:
            fail(f"{target} exists; pass --force to overwrite it or -o to choose another path")
        with transfer_progress(f"downloading {file_id}") as progress:
            written = await client.files.download(file_id, target, on_progress=progress)
        line("wrote ", str(written))

    call(ctx, go, timeout=600.0)


@app.command("delete")
def delete(
    ctx: typer.Context,
    file_id: Annotated[str, typer.Argument(help="the file's id")],
    json_out: JsonFlag = False,
) -> None:
    """Delete a file from the backend.

    Example: [bold]fttui files delete file-abc123[/]
    """
    from fttui.api import raw

    async def go(client: Client) -> None:
        result = await client.files.delete(file_id)
        if json_out:
            print_json(raw(result))
        elif result.deleted:
            line("deleted ", result.id)
        else:
            fail(f"the backend did not delete {result.id}", ExitCode.FAILURE)

    call(ctx, go)
