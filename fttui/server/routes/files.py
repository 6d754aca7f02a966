"""Files API: upload (streamed and checked), list, retrieve, content, delete.

Store calls never run on the event loop: plain `def` routes run in Starlette's
threadpool, and the one `async` route (the streamed upload) hands its store and
file-system work to a thread, so a slow SQLite write (busy timeout 30 s while a
trainer holds the write lock) never stalls every other request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from fttui.server.context import ServerContext, current_ctx
from fttui.server.errors import APIError, not_found
from fttui.server.request_schemas import UPLOAD_REQUEST
from fttui.server.serialize import file_object, list_page
from fttui.server.uploads import Received, quota_error, receive_upload
from fttui.store.db import ACTIVE_STATUSES, new_id

router = APIRouter()
Ctx = Annotated[ServerContext, Depends(current_ctx)]


def _store_upload(ctx: ServerContext, received: Received) -> dict[str, Any]:
    """Final quota check, rename into place and record (in a thread, under the upload lock)."""
    store, settings = ctx.store, ctx.settings
    room = settings.quota_bytes - store.total_bytes()
    if received.size > room:
        raise quota_error(room)
    file_id = new_id("file")
    rel = f"files/{file_id}"
    os.replace(received.tmp_path, store.data_dir / rel)
    try:
        return store.add_file(
            filename=received.filename,
            purpose=received.purpose,
            bytes=received.size,
            path=rel,
            meta=received.meta,
            file_id=file_id,
        )
    except BaseException:
        (store.data_dir / rel).unlink(missing_ok=True)
        raise


@router.post("/files", openapi_extra=UPLOAD_REQUEST)
async def upload_file(request: Request, ctx: Ctx) -> dict[str, Any]:
    store, settings = ctx.store, ctx.settings
    used = await asyncio.to_thread(store.total_bytes)
    received = await receive_upload(
        request,
        tmp_dir=store.tmp_dir,
        max_file_bytes=settings.max_file_bytes,
        room=settings.quota_bytes - used,
        max_line_bytes=settings.max_line_bytes,
    )
    try:
        async with ctx.upload_lock:
            row = await asyncio.to_thread(_store_upload, ctx, received)
    finally:
        received.tmp_path.unlink(missing_ok=True)
    return file_object(row)


@router.get("/files")
def list_files(
    ctx: Ctx,
    purpose: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    rows = ctx.store.list_files(
        purpose=purpose, after=after, limit=limit + 1, descending=order == "desc"
    )
    return list_page([file_object(r) for r in rows[:limit]], len(rows) > limit, empty_id="")


def _file(ctx: ServerContext, file_id: str) -> dict[str, Any]:
    row = ctx.store.get_file(file_id)
    if row is None:
        raise not_found("file", file_id, param="file_id")
    return row


@router.get("/files/{file_id}")
def retrieve_file(file_id: str, ctx: Ctx) -> dict[str, Any]:
    return file_object(_file(ctx, file_id))


@router.get("/files/{file_id}/content")
def file_content(file_id: str, ctx: Ctx) -> FileResponse:
    row = _file(ctx, file_id)
    path = ctx.store.file_path(row)
    if not path.exists():
        raise APIError(500, f"The bytes of file {file_id} are missing on disk", type="server_error")
    return FileResponse(path, media_type="application/octet-stream", filename=row["filename"])


@router.delete("/files/{file_id}")
def delete_file(file_id: str, ctx: Ctx) -> dict[str, Any]:
    _file(ctx, file_id)
    for job in ctx.store.list_jobs(statuses=ACTIVE_STATUSES):
        if file_id in (job["training_file"], job.get("validation_file")):
            raise APIError(
                409,
                f"File {file_id} is used by job {job['id']}, which is {job['status']}; "
                "cancel the job or wait for it to finish first",
                param="file_id",
                code="file_in_use",
            )
    with contextlib.suppress(FileNotFoundError):
        ctx.store.delete_file(file_id)
    return {"id": file_id, "object": "file", "deleted": True}
