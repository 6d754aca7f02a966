"""Store rows -> OpenAI-shaped dicts (current API and the legacy `fine-tune` objects).

The shapes follow the `openai` SDK's types (FileObject, FineTuningJob,
FineTuningJobEvent, FineTuningJobCheckpoint, Model) and, for `/v1/fine-tunes`, what
openai 0.28 prints; tests validate responses against the SDK's own models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fttui.core.job_spec import EXTRA_HPARAMS
from fttui.store.db import Store

# The legacy fine-tune object and its events list carry at most this many of a job's
# most recent events (the legacy API had no event pagination; a long job logs one
# metrics event per step).
LEGACY_EVENTS_MAX = 1000


def file_object(row: dict[str, Any]) -> dict[str, Any]:
    obj = {
        "id": row["id"],
        "object": "file",
        "bytes": row["bytes"],
        "created_at": row["created_at"],
        "filename": row["filename"],
        "purpose": row["purpose"],
        "status": row["status"],
        # Not in OpenAI's object; the TUI shows it (example count and format).
        "fttui": row.get("meta") or {},
    }
    # Optional in OpenAI's schema and not nullable there: present only with a value.
    if row.get("status_details"):
        obj["status_details"] = row["status_details"]
    return obj


def _hyperparameters(job: dict[str, Any]) -> dict[str, Any]:
    requested = job.get("hyperparameters") or {}
    resolved = job.get("resolved") or {}
    return {
        name: resolved.get(name, requested.get(name, "auto"))
        for name in ("n_epochs", "batch_size", "learning_rate_multiplier")
    }


def method_object(job: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's `method`: its type and that method's hyperparameters as resolved
    (DPO's `beta` included). Full or LoRA training is a hyperparameter of fttui's
    (`training_method`), not a method."""
    method_type = str((job.get("method") or {}).get("type") or "supervised")
    hp = _hyperparameters(job)
    requested = job.get("hyperparameters") or {}
    resolved = job.get("resolved") or {}
    if method_type == "dpo":
        hp["beta"] = resolved.get("beta", requested.get("beta", "auto"))
    if method_type == "reinforcement":
        for name in ("eval_interval", "eval_samples", "compute_multiplier", "reasoning_effort"):
            hp[name] = resolved.get(name, requested.get(name, "auto"))
        config = (job.get("method") or {}).get("reinforcement") or {}
        return {
            "type": method_type,
            method_type: {
                "hyperparameters": hp,
                "grader": config.get("grader"),
                "response_format": None,
            },
        }
    return {"type": method_type, method_type: {"hyperparameters": hp}}


def job_object(job: dict[str, Any], disk_bytes: int | None = None) -> dict[str, Any]:
    """OpenAI's job object; `disk_bytes`: what the job's checkpoints and model hold on
    this server's disk (its weights counted once), when the caller looked it up."""
    hp = _hyperparameters(job)
    extra = job.get("extra") or {}
    return {
        "id": job["id"],
        "object": "fine_tuning.job",
        "created_at": job["created_at"],
        "model": job["model"],
        "training_file": job["training_file"],
        "validation_file": job.get("validation_file"),
        "status": job["status"],
        "fine_tuned_model": job.get("fine_tuned_model"),
        "finished_at": job.get("finished_at"),
        "trained_tokens": job.get("trained_tokens"),
        "result_files": list(job.get("result_files") or []),
        "error": job.get("error"),
        "hyperparameters": hp,
        "organization_id": job["organization_id"],
        "seed": job.get("seed") or 0,
        "estimated_finish": job.get("estimated_finish"),
        "integrations": [],
        "metadata": job.get("metadata"),
        "method": method_object(job),
        "suffix": job.get("suffix"),
        "user_provided_suffix": job.get("suffix"),
        # Not in OpenAI's object: the legacy guide's extra hyperparameters and the base model.
        "fttui": {
            "base_model": job.get("base_model"),
            "started_at": job.get("started_at"),
            "hyperparameters": {k: extra[k] for k in EXTRA_HPARAMS if k in extra},
            "runtime": runtime_object(job.get("runtime")),
            # Paused, with its trainer still saving the checkpoint (resume must wait).
            "pausing": bool(job.get("pause_requested")),
            # The method's hyperparameters as asked (`auto` kept), beside the resolved
            # ones above: a clone asks for `auto` again instead of pinning them.
            "requested": job.get("hyperparameters") or {},
            # Whether a random seed was asked (false: the server chose it; a clone then
            # asks for none). Jobs stored before this was kept say true.
            "seed_asked": _seed_asked(job),
            "disk_bytes": disk_bytes,
        },
    }


def _seed_asked(job: dict[str, Any]) -> bool:
    spec = job.get("spec")
    if isinstance(spec, dict) and "seed" in spec:
        return spec["seed"] is not None
    return True


RUNTIME_KEYS = ("runner", "workers", "device", "precision", "ray_job_id")


def runtime_object(runtime: dict[str, Any] | None) -> dict[str, Any] | None:
    """Where and how the job runs: null until it starts, then each field null until known."""
    if not runtime:
        return None
    return {key: runtime.get(key) for key in RUNTIME_KEYS}


def event_object(event: dict[str, Any], *, legacy: bool = False) -> dict[str, Any]:
    if legacy:
        return {
            "object": "fine-tune-event",
            "created_at": event["created_at"],
            "level": event["level"],
            "message": event["message"],
        }
    obj = {
        "id": event["id"],
        "object": "fine_tuning.job.event",
        "created_at": event["created_at"],
        "level": event["level"],
        "message": event["message"],
        "type": event.get("type") or "message",
    }
    if event.get("data") is not None:  # an object in OpenAI's schema, never null
        obj["data"] = event["data"]
    return obj


def checkpoint_object(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "fine_tuning.job.checkpoint",
        "created_at": row["created_at"],
        "fine_tuned_model_checkpoint": row["fine_tuned_model_checkpoint"],
        "fine_tuning_job_id": row["job_id"],
        "step_number": row["step_number"],
        "metrics": row.get("metrics") or {},
    }


def list_page(
    data: Sequence[dict[str, Any]],
    has_more: bool,
    *,
    with_ids: bool = True,
    empty_id: str | None = None,
) -> dict[str, Any]:
    """A list page. `empty_id`: first/last id of an empty page (OpenAI's schema declares
    them as required strings for files, nullable for checkpoints)."""
    page: dict[str, Any] = {"object": "list", "data": list(data), "has_more": has_more}
    if with_ids:
        page["first_id"] = data[0]["id"] if data else empty_id
        page["last_id"] = data[-1]["id"] if data else empty_id
    return page


# -- legacy /v1/fine-tunes ------------------------------------------------------

# The legacy API had no validation step; `paused` is shown as it is (the legacy CLI
# prints the status it gets and stops following a paused job's events).
_LEGACY_STATUS = {"validating_files": "pending", "queued": "pending"}


def legacy_status(status: str) -> str:
    return _LEGACY_STATUS.get(status, status)


def legacy_job_object(
    store: Store, job: dict[str, Any], *, with_events: bool = True
) -> dict[str, Any]:
    """The `fine-tune` object as openai 0.28 printed it, built from the same job row."""

    def files(ids: Sequence[str | None]) -> list[dict[str, Any]]:
        out = []
        for fid in ids:
            row = store.get_file(fid) if fid else None
            if row is not None:
                out.append(file_object(row))
        return out

    events = store.list_events(job["id"], limit=LEGACY_EVENTS_MAX) if with_events else []
    events.reverse()  # oldest first
    extra = job.get("extra") or {}
    hyperparams: dict[str, Any] = {**_hyperparameters(job)}
    # The weight really used: given, or 0 (completion tokens only, as OpenAI's current
    # API trains), not the legacy API's 0.01 default, which this trainer does not apply.
    hyperparams["prompt_loss_weight"] = extra.get("prompt_loss_weight", 0.0)
    for key in EXTRA_HPARAMS:
        if key in extra and key != "prompt_loss_weight":
            hyperparams[key] = extra[key]
    times = [job["created_at"], job.get("started_at"), job.get("finished_at")]
    if events:
        times.append(events[-1]["created_at"])
    return {
        "object": "fine-tune",
        "id": job["id"],
        "hyperparams": hyperparams,
        "organization_id": job["organization_id"],
        "model": job["model"],
        "training_files": files([job["training_file"]]),
        "validation_files": files([job.get("validation_file")]),
        "result_files": files(list(job.get("result_files") or [])),
        "created_at": job["created_at"],
        "updated_at": max(t for t in times if t is not None),
        "status": legacy_status(job["status"]),
        "fine_tuned_model": job.get("fine_tuned_model"),
        "events": [event_object(e, legacy=True) for e in events],
    }


def model_object(model_id: str, created: int, owned_by: str, **extra: Any) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by, **extra}
