"""Create, cancel, pause and resume jobs: the store-changing actions the job APIs share."""

from __future__ import annotations

from typing import Any

from fttui.server.checkpoints import resume_point
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
        (f"Method: {request.method}; h" if request.method != "supervised" else "H")
        + f"yperparameters: n_epochs={r['n_epochs']}, batch_size={r['batch_size']}, "
        f"learning_rate_multiplier={r['learning_rate_multiplier']:g}"
        + (f", beta={r['beta']:g}" if "beta" in r else "")
        + (
            f", eval_interval={r['eval_interval']}, eval_samples={r['eval_samples']}, "
            f"compute_multiplier={r['compute_multiplier']:g} ({r['group_size']} answers "
            f"sampled per prompt), reasoning_effort={r['reasoning_effort']}"
            if "group_size" in r
            else ""
        ),
    )
    requested = body.get("model") if isinstance(body, dict) else None
    base = job.get("base_model")
    if (
        isinstance(requested, str)
        and base
        and requested != base
        and not ctx.store.get_model(requested)
    ):
        store.add_event(
            job["id"],
            f"Model {requested} is {base} on this server (an alias in models.json's "
            "'aliases'; by default OpenAI's fine-tunable models are the default model)",
        )
    for note in request.notes:
        store.add_event(job["id"], note)
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
    with ctx.store.transaction():  # the status and the event that tells it, together
        cancelled = ctx.store.transition(
            job_id, ACTIVE_STATUSES, "cancelled", cancel_requested=1, finished_at=now()
        )
        if cancelled:
            trainer = job["status"] == "running" or bool(job.get("pause_requested"))
            ctx.store.add_event(
                job_id,
                "Fine-tuning job cancelled" + (" (stopping the trainer)" if trainer else ""),
            )
    if not cancelled:
        job = get_job(ctx, job_id)
        raise APIError(
            409,
            f"Job {job_id} is already {job['status']}; only jobs that are not finished can be cancelled",
            param="fine_tuning_job_id",
            code="job_not_cancellable",
        )
    ctx.scheduler.wake()
    return get_job(ctx, job_id)


def pause_job(ctx: ServerContext, job_id: str) -> dict[str, Any]:
    """Running -> paused at once; the trainer then saves a checkpoint with the
    optimizer state at the next step boundary and stops (docs/training.md)."""
    job = get_job(ctx, job_id)
    if not ctx.store.transition(job_id, ["running"], "paused", pause_requested=1):
        job = get_job(ctx, job_id)
        status = job["status"]
        if status == "paused":
            why = "it is already paused"
        elif status in ("validating_files", "queued"):
            why = f"it is {status} and has not started training; cancel it instead"
        else:
            why = f"it is {status}"
        raise APIError(
            409,
            f"Job {job_id} cannot be paused: {why}. Only a running job can be paused",
            param="fine_tuning_job_id",
            code="job_not_pausable",
        )
    ctx.store.add_event(
        job_id,
        "Pause requested: the trainer saves a checkpoint with the optimizer state at the "
        "next step, then stops",
    )
    ctx.scheduler.wake()
    return get_job(ctx, job_id)


def resume_job(ctx: ServerContext, job_id: str) -> dict[str, Any]:
    """Paused -> queued, once the trainer has saved its pause checkpoint; the next
    trainer continues from the latest checkpoint with optimizer state."""
    job = get_job(ctx, job_id)
    # A job whose status says paused can be resumed, also while its trainer is still
    # saving the checkpoint (pause_requested): it is queued now and starts once that
    # trainer has stopped, from the checkpoint it saved (the scheduler waits for it).
    pausing = bool(job.get("pause_requested"))
    if not ctx.store.transition(job_id, ["paused"], "queued", estimated_finish=None):
        job = get_job(ctx, job_id)
        raise APIError(
            409,
            f"Job {job_id} is {job['status']}; only a paused job can be resumed",
            param="fine_tuning_job_id",
            code="job_not_resumable",
        )
    point = resume_point(ctx.store, job_id)
    if pausing:
        where = "continues from the checkpoint its trainer is saving now, once saved"
    elif point is not None:
        where = (
            f"continues from step {point['step_number']} "
            f"(checkpoint {point['fine_tuned_model_checkpoint']})"
        )
    else:
        where = "starts from the beginning (no checkpoint to resume from was saved)"
    ctx.store.add_event(job_id, f"Job resumed: queued; training {where}")
    job = get_job(ctx, job_id)  # as resumed: the scheduler may start it at once
    ctx.scheduler.wake()
    return job
