"""The internal trainer API (`/internal/v1/jobs/{job_id}/...`), authenticated per job.

Only trainers call these routes, with `Authorization: Bearer <per-job token>` (the
server's API key does not open them, and they do not accept it). Everything that
touches SQLite or the disk is a plain `def` route, which FastAPI runs in its thread
pool, so a trainer never blocks the event loop; the streamed upload is the one
`async` route and hands each megabyte to a thread. Protocol: docs/cluster.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import FileResponse
from starlette.requests import ClientDisconnect

from fttui.server import trainer_service as svc
from fttui.server.context import ServerContext, get_ctx

PREFIX = "/internal/v1/jobs"
router = APIRouter(prefix=PREFIX + "/{job_id}", include_in_schema=False)
Ctx = Annotated[ServerContext, Depends(get_ctx)]
_CHUNK = 1 << 20


def _job(ctx: ServerContext, job_id: str, request: Request) -> dict[str, Any]:
    return svc.authorize(ctx.store, job_id, request.headers.get("authorization"))


@router.get("/spec")
def spec(job_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    job = _job(ctx, job_id, request)
    svc.check_trainer_version(ctx.store, job, request.headers.get(svc.VERSION_HEADER))
    return svc.job_spec(ctx.store, ctx.registry(), job)


@router.get("/control")
def control(job_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    return svc.control(_job(ctx, job_id, request))


@router.post("/reports")
def reports(
    job_id: str, request: Request, ctx: Ctx, body: Annotated[Any, Body()] = None
) -> dict[str, Any]:
    job = _job(ctx, job_id, request)
    return svc.apply_reports(ctx.store, job, body, keep_checkpoints=ctx.settings.keep_checkpoints)


@router.get("/files/{file_id}")
def job_file(job_id: str, file_id: str, request: Request, ctx: Ctx) -> FileResponse:
    path, filename = svc.job_file(ctx.store, _job(ctx, job_id, request), file_id)
    return FileResponse(path, media_type="application/octet-stream", filename=filename)


@router.get("/source-model/{name}")
def source_model_file(job_id: str, name: str, request: Request, ctx: Ctx) -> FileResponse:
    path: Path = svc.source_model_file(ctx.store, _job(ctx, job_id, request), name)
    return FileResponse(path, media_type="application/octet-stream")


@router.get("/checkpoints/{step}/{name}")
def checkpoint_file(job_id: str, step: int, name: str, request: Request, ctx: Ctx) -> FileResponse:
    """A file of one of this job's checkpoints: a resumed trainer's starting point."""
    path = svc.checkpoint_file(ctx.store, _job(ctx, job_id, request), step, name)
    return FileResponse(path, media_type="application/octet-stream")


@router.get("/uploads/{upload_id}")
def upload_status(job_id: str, upload_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    _job(ctx, job_id, request)
    return {"files": svc.received_files(ctx.store, job_id, upload_id)}


@router.put("/uploads/{upload_id}/{name}")
async def upload_file(
    job_id: str, upload_id: str, name: str, request: Request, ctx: Ctx
) -> dict[str, Any]:
    """One file of an upload, streamed to a `.part` file and checked against its sha256."""
    await anyio.to_thread.run_sync(_job, ctx, job_id, request)
    receiving = await anyio.to_thread.run_sync(
        svc.start_receiving,
        ctx.store,
        job_id,
        upload_id,
        name,
        request.headers.get("x-content-sha256"),
    )
    try:
        pending = bytearray()
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= _CHUNK:
                await anyio.to_thread.run_sync(receiving.write, bytes(pending))
                pending.clear()
        if pending:
            await anyio.to_thread.run_sync(receiving.write, bytes(pending))
        return await anyio.to_thread.run_sync(receiving.finish)
    except ClientDisconnect:
        receiving.abort()  # the trainer sends the whole file again
        raise
    except BaseException:
        receiving.abort()
        raise
