"""Fine-tuning jobs API (`/v1/fine_tuning/jobs`), OpenAI's current shape.

Every store call runs off the event loop: plain `def` routes run in Starlette's
threadpool; `create` reads its body on the loop, then validates and stores in a
thread (it reads the training file's record and models.json, and writes rows).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from fttui.server.context import ServerContext, current_ctx, json_body
from fttui.server.jobs_service import cancel_job, create_job, get_job, pause_job, resume_job
from fttui.server.request_schemas import JOB_REQUEST
from fttui.server.serialize import checkpoint_object, event_object, job_object, list_page

router = APIRouter(prefix="/fine_tuning/jobs")
Ctx = Annotated[ServerContext, Depends(current_ctx)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post("", openapi_extra=JOB_REQUEST)
async def create(request: Request, ctx: Ctx) -> dict[str, Any]:
    body = await json_body(request)
    return job_object(await run_in_threadpool(create_job, ctx, body))


@router.get("")
def list_jobs(ctx: Ctx, after: str | None = None, limit: Limit = 20) -> dict[str, Any]:
    rows = ctx.store.list_jobs(after=after, limit=limit + 1)
    disk = ctx.store.disk_bytes_by_job()
    return list_page(
        [job_object(r, disk.get(r["id"], 0)) for r in rows[:limit]],
        len(rows) > limit,
        with_ids=False,
    )


@router.get("/{job_id}")
def retrieve(job_id: str, ctx: Ctx) -> dict[str, Any]:
    disk = ctx.store.disk_bytes_by_job(job_id)
    return job_object(get_job(ctx, job_id), disk.get(job_id, 0))


@router.post("/{job_id}/cancel")
def cancel(job_id: str, ctx: Ctx) -> dict[str, Any]:
    return job_object(cancel_job(ctx, job_id))


@router.post("/{job_id}/pause")
def pause(job_id: str, ctx: Ctx) -> dict[str, Any]:
    """Pause a running job: it shows `paused` at once; its trainer saves a checkpoint
    with the optimizer state at the next step and stops (409 unless running)."""
    return job_object(pause_job(ctx, job_id))


@router.post("/{job_id}/resume")
def resume(job_id: str, ctx: Ctx) -> dict[str, Any]:
    """Resume a paused job: `queued`, then trained on from its pause checkpoint."""
    return job_object(resume_job(ctx, job_id))


@router.get("/{job_id}/events")
def events(job_id: str, ctx: Ctx, after: str | None = None, limit: Limit = 20) -> dict[str, Any]:
    get_job(ctx, job_id)
    rows = ctx.store.list_events(job_id, after=after, limit=limit + 1)
    return list_page([event_object(r) for r in rows[:limit]], len(rows) > limit, with_ids=False)


@router.get("/{job_id}/checkpoints")
def checkpoints(
    job_id: str, ctx: Ctx, after: str | None = None, limit: Limit = 10
) -> dict[str, Any]:
    get_job(ctx, job_id)
    rows = ctx.store.list_checkpoints(job_id, after=after, limit=limit + 1)
    return list_page([checkpoint_object(r) for r in rows[:limit]], len(rows) > limit)
