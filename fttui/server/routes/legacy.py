"""The legacy `/v1/fine-tunes` endpoints, as openai 0.28's `openai api fine_tunes.*` uses them.

Same job store as `/v1/fine_tuning/jobs`: a job created either way shows in both.
Store calls run off the event loop (plain `def` routes run in the threadpool; the
event stream reads each page in a thread), and event reads are bounded in SQL.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from fttui.server.context import ServerContext, current_ctx, json_body
from fttui.server.errors import APIError
from fttui.server.job_requests import STANDARD_HPARAMS
from fttui.server.jobs_service import cancel_job, create_job, get_job
from fttui.server.request_schemas import LEGACY_JOB_REQUEST
from fttui.server.serialize import LEGACY_EVENTS_MAX, event_object, legacy_job_object
from fttui.store.db import FINAL_STATUSES

router = APIRouter(prefix="/fine-tunes")
Ctx = Annotated[ServerContext, Depends(current_ctx)]
LEGACY_DEFAULT_MODEL = "curie"  # what the legacy API used when no model was given
STREAM_POLL_S = 0.5
STREAM_PAGE = 500  # events read per query while streaming


def _create(ctx: ServerContext, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object", param="body")
    # The legacy API took hyperparameters as top-level fields.
    nested = body.get("hyperparameters")
    if nested is not None and not isinstance(nested, dict):
        raise APIError(400, "'hyperparameters' must be an object", param="hyperparameters")
    hp = dict(nested or {})
    for name in STANDARD_HPARAMS:
        if body.get(name) is not None:
            hp[name] = body[name]
    body = {**{k: v for k, v in body.items() if k not in STANDARD_HPARAMS}, "hyperparameters": hp}
    job = create_job(ctx, body, legacy=True, default_model=LEGACY_DEFAULT_MODEL)
    return legacy_job_object(ctx.store, job)


@router.post("", openapi_extra=LEGACY_JOB_REQUEST)
async def create(request: Request, ctx: Ctx) -> dict[str, Any]:
    body = await json_body(request)
    return await run_in_threadpool(_create, ctx, body)


@router.get("")
def list_fine_tunes(ctx: Ctx) -> dict[str, Any]:
    rows = ctx.store.list_jobs()
    rows.reverse()  # the legacy API listed oldest first
    return {
        "object": "list",
        "data": [legacy_job_object(ctx.store, r, with_events=False) for r in rows],
    }


@router.get("/{job_id}")
def retrieve(job_id: str, ctx: Ctx) -> dict[str, Any]:
    return legacy_job_object(ctx.store, get_job(ctx, job_id))


@router.delete("/{job_id}")
def delete(job_id: str, ctx: Ctx) -> dict[str, Any]:
    """`openai api fine_tunes.delete -i ID`: forget a finished job (409 while it is active).

    The job disappears from both APIs with its events, checkpoints and working
    directory; its training and result files and its fine-tuned model are objects of
    their own and stay (delete them with `files.delete` / `models.delete`).
    """
    job = get_job(ctx, job_id)
    if not ctx.store.delete_job(job_id, only_statuses=FINAL_STATUSES):
        job = get_job(ctx, job_id)
        raise APIError(
            409,
            f"Fine-tune {job_id} is {job['status']}; cancel it first "
            f"(openai api fine_tunes.cancel -i {job_id}), then delete it",
            param="fine_tune_id",
            code="fine_tune_not_deletable",
        )
    job_dir = (ctx.store.jobs_dir / job["id"]).resolve()
    if job_dir.parent == ctx.store.jobs_dir.resolve():
        shutil.rmtree(job_dir, ignore_errors=True)
    return {"id": job_id, "object": "fine-tune", "deleted": True}


@router.post("/{job_id}/cancel")
def cancel(job_id: str, ctx: Ctx) -> dict[str, Any]:
    return legacy_job_object(ctx.store, cancel_job(ctx, job_id))


@router.get("/{job_id}/events", response_model=None)
def events(job_id: str, ctx: Ctx, stream: bool = False) -> dict[str, Any] | StreamingResponse:
    get_job(ctx, job_id)
    if not stream:
        rows = ctx.store.list_events(job_id, limit=LEGACY_EVENTS_MAX)
        rows.reverse()  # oldest first, as the legacy API listed them
        return {"object": "list", "data": [event_object(e, legacy=True) for e in rows]}
    return StreamingResponse(
        _event_stream(ctx, job_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _poll(ctx: ServerContext, job_id: str, after_seq: int) -> tuple[bool, list[dict[str, Any]]]:
    """(the stream is done, the next page of its events after `after_seq`), read in one
    thread. Done: the job is final, or paused with its checkpoint saved (nothing more
    happens until someone resumes it; the legacy CLI then prints its status)."""
    job = ctx.store.get_job(job_id)
    done = (
        job is None
        or job["status"] in FINAL_STATUSES
        or (job["status"] == "paused" and not job.get("pause_requested"))
    )
    return done, ctx.store.events_since(job_id, after_seq=after_seq, limit=STREAM_PAGE)


async def _event_stream(ctx: ServerContext, job_id: str) -> AsyncIterator[bytes]:
    """Server-sent events: every event once, oldest first, then `[DONE]` when the job is final."""
    last_seq = 0
    while True:
        final, rows = await asyncio.to_thread(_poll, ctx, job_id, last_seq)
        for row in rows:
            last_seq = row["seq"]
            yield f"data: {json.dumps(event_object(row, legacy=True))}\n\n".encode()
        if len(rows) == STREAM_PAGE:
            continue  # more are waiting: read on before deciding the job is done
        if final:
            # Events written just before the final status were read above (same pass,
            # status read first), so nothing is lost.
            yield b"data: [DONE]\n\n"
            return
        await asyncio.sleep(STREAM_POLL_S)
