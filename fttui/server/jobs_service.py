"""Create and cancel jobs: the store-changing actions both job APIs share."""

from __future__ import annotations

from typing import Any

from fttui.server.context import ServerContext
from fttui.server.engine_check import require_engine
from fttui.server.errors import APIError, not_found
from fttui.server.job_requests import parse_job_request
from fttui.server.settings import ORG_ID
from fttui.store.db import ACTIVE_STATUSES, now


def create_job(
    ctx: ServerContext, body: Any, *, legacy: bool = False, default_model: str | None = None
) -> dict[str, Any]:
    # Without the `local` extra nothing can train: say so before accepting a job that
    # would fail with "No module named 'torch'".
    require_engine(400, "train models")
    request = parse_job_request(ctx.store, ctx.registry(), body, default_model=default_model)
    job = ctx.store.create_job(
        **request.row(), organization_id=ORG_ID, legacy=int(legacy), status="validating_files"
    )
    store = ctx.store
    store.add_event(job["id"], f"Created fine-tuning job: {job['id']}")
    r = request.resolved
    store.add_event(
        job["id"],
        f"Hyperparameters: n_epochs={r['n_epochs']}, batch_size={r['batch_size']}, "
        f"learning_rate_multiplier={r['learning_rate_multiplier']:g}",
    )
    store.add_event(job["id"], f"Validating training file: {request.training_file}")
    if request.validation_file:
        store.add_event(job["id"], f"Validating validation file: {request.validation_file}")
    ctx.scheduler.wake()
    return store.get_job(job["id"]) or job


def get_job(ctx: ServerContext, job_id: str) -> dict[str, Any]:
    job = ctx.store.get_job(job_id)
    if job is None:
        raise not_found("fine-tuning job", job_id, param="fine_tuning_job_id")
    return job


def cancel_job(ctx: ServerContext, job_id: str) -> dict[str, Any]:
    job = get_job(ctx, job_id)
    if not ctx.store.transition(
        job_id, ACTIVE_STATUSES, "cancelled", cancel_requested=1, finished_at=now()
    ):
        job = get_job(ctx, job_id)
        raise APIError(
            409,
            f"Job {job_id} is already {job['status']}; only jobs that are not finished can be cancelled",
            param="fine_tuning_job_id",
            code="job_not_cancellable",
        )
    was = job["status"]
    ctx.store.add_event(
        job_id,
        "Fine-tuning job cancelled"
        + (" (stopping the trainer)" if was in ("running", "paused") else ""),
    )
    ctx.scheduler.wake()
    return get_job(ctx, job_id)
