"""The legacy `/v1/fine-tunes` endpoints, as openai 0.28's `openai api fine_tunes.*` uses them.

Same job store as `/v1/fine_tuning/jobs`: a job created either way shows in both.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from fttui.server.context import ServerContext, get_ctx, json_body
from fttui.server.errors import APIError
from fttui.server.job_requests import STANDARD_HPARAMS
from fttui.server.jobs_service import cancel_job, create_job, get_job
from fttui.server.serialize import event_object, legacy_job_object
from fttui.store.db import FINAL_STATUSES

router = APIRouter(prefix="/fine-tunes")
Ctx = Annotated[ServerContext, Depends(get_ctx)]
LEGACY_DEFAULT_MODEL = "curie"  # what the legacy API used when no model was given
STREAM_POLL_S = 0.5


@router.post("")
async def create(request: Request, ctx: Ctx) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object", param="body")
    # The legacy API took hyperparameters as top-level fields.
    hp = dict(body.get("hyperparameters") or {})
    for name in STANDARD_HPARAMS:
        if body.get(name) is not None:
            hp[name] = body[name]
    body = {**{k: v for k, v in body.items() if k not in STANDARD_HPARAMS}, "hyperparameters": hp}
    job = create_job(ctx, body, legacy=True, default_model=LEGACY_DEFAULT_MODEL)
    return legacy_job_object(ctx.store, job)


@router.get("")
async def list_fine_tunes(ctx: Ctx) -> dict[str, Any]:
    rows = ctx.store.list_jobs()
    rows.reverse()  # the legacy API listed oldest first
    return {
        "object": "list",
        "data": [legacy_job_object(ctx.store, r, with_events=False) for r in rows],
    }


@router.get("/{job_id}")
async def retrieve(job_id: str, ctx: Ctx) -> dict[str, Any]:
    return legacy_job_object(ctx.store, get_job(ctx, job_id))


@router.post("/{job_id}/cancel")
async def cancel(job_id: str, ctx: Ctx) -> dict[str, Any]:
    return legacy_job_object(ctx.store, cancel_job(ctx, job_id))


@router.get("/{job_id}/events", response_model=None)
async def events(job_id: str, ctx: Ctx, stream: bool = False) -> dict[str, Any] | StreamingResponse:
    get_job(ctx, job_id)
    if not stream:
        rows = ctx.store.events_since(job_id)
        return {"object": "list", "data": [event_object(e, legacy=True) for e in rows]}
    return StreamingResponse(
        _event_stream(ctx, job_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _event_stream(ctx: ServerContext, job_id: str) -> AsyncIterator[bytes]:
    """Server-sent events: every event once, oldest first, then `[DONE]` when the job is final."""
    last_seq = 0
    while True:
        job = ctx.store.get_job(job_id)
        final = job is None or job["status"] in FINAL_STATUSES
        rows = ctx.store.events_since(job_id, after_seq=last_seq)
        for row in rows:
            last_seq = row["seq"]
            yield f"data: {json.dumps(event_object(row, legacy=True))}\n\n".encode()
        if final:
            # Events written just before the final status were read above (same pass,
            # status read first), so nothing is lost.
            yield b"data: [DONE]\n\n"
            return
        await asyncio.sleep(STREAM_POLL_S)
