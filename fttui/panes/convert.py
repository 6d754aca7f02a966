"""API objects -> the plain rows and key/value lists the widgets take.

The widgets know nothing of `fttui.api`; this is the one place that knows both
sides, so a change in the API types is fixed here and nowhere else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fttui.api import Checkpoint, FileObject, FineTuningJob, JobEvent
from widgets import EventRow, FileRow, JobRow, human_bytes

PARTLY_READ = " (partly read)"


def _marked(text: str, obj: FineTuningJob | FileObject | JobEvent) -> str:
    """`text`, marked when part of the object could not be read (see `unreadable`)."""
    return text + PARTLY_READ if obj.unreadable else text


def job_row(job: FineTuningJob) -> JobRow:
    return JobRow(
        id=job.id,
        status=job.status or "unknown",
        model=_marked(job.model or "", job),
        fine_tuned_model=job.fine_tuned_model,
        created_at=int(job.created_at or 0),
        finished_at=job.finished_at,
        estimated_finish=job.estimated_finish,
        trained_tokens=job.trained_tokens,
        suffix=job_suffix(job),
        method=method_type(job),
    )


def job_suffix(job: FineTuningJob) -> str | None:
    """The suffix the user gave a job: today's API says `user_provided_suffix`, older
    objects and the legacy API `suffix`."""
    return job.given_suffix


def method_type(job: FineTuningJob) -> str:
    """OpenAI's `method.type` of a job (`supervised` when the backend gives none)."""
    return job.method_type


def job_epochs(job: FineTuningJob) -> int | None:
    """The job's resolved number of epochs (None while it is still "auto" or unknown):
    the plots mark where each epoch ends."""
    hp = _plain(job.hyperparameters)
    candidates = [hp.get("n_epochs") if isinstance(hp, dict) else None]
    inner = job.method_config.get("hyperparameters")
    if isinstance(inner, dict):
        candidates.append(inner.get("n_epochs"))
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def job_pausing(job: FineTuningJob) -> bool:
    """A paused job whose trainer is still saving the checkpoint to resume from (the
    local server says so in `fttui.pausing`; it cannot be resumed yet)."""
    return job.local.pausing


def file_row(f: FileObject) -> FileRow:
    return FileRow(
        id=f.id,
        filename=_marked(f.filename or "", f),
        bytes=int(f.bytes or 0),
        purpose=f.purpose or "",
        created_at=int(f.created_at or 0),
        status=f.status,
        status_details=f.status_details or None,
        expires_at=f.expires_at or None,
    )


def event_row(e: JobEvent) -> EventRow:
    return EventRow(
        id=e.id,
        created_at=int(e.created_at or 0),
        level=e.level or "info",
        message=_marked(e.message or "", e),
        type=e.type or "message",
        data=e.data,
    )


def _when(ts: int | None) -> str:
    if not ts:
        return "-"
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_none=True)
    return value


def _fmt(value: Any) -> str:
    value = _plain(value)
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def _number(value: Any) -> str:
    """`5768` -> `5,768`; `0.13400001` -> `0.134`; anything else as `_fmt` says."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _fmt(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _integration(item: Any) -> tuple[str, str] | None:
    """One of the job's `integrations` as a detail line: W&B's project, name, tags."""
    item = _plain(item)
    if not isinstance(item, dict):
        return None
    kind = str(item.get("type") or "integration")
    inner = item.get(kind)
    if not isinstance(inner, dict):
        return (kind, _fmt(item))
    if kind == "wandb":
        parts = [f"project {inner.get('project') or '-'}"]
        for key in ("entity", "name", "run_id"):
            if inner.get(key):
                parts.append(f"{key} {inner[key]}")
        tags = inner.get("tags")
        if isinstance(tags, list) and tags:
            parts.append("tags " + ", ".join(str(t) for t in tags))
        return ("W&B", ", ".join(parts))
    return (kind, _fmt(inner))


def grader_text(grader: Any) -> str:
    """A reinforcement job's grader in one line: its type and name, then the rest."""
    grader = _plain(grader)
    if not isinstance(grader, dict):
        return _fmt(grader)
    head = f"{grader.get('type', '?')} {json.dumps(grader.get('name', ''))}"
    rest = {k: v for k, v in grader.items() if k not in ("type", "name")}
    return f"{head} {json.dumps(rest, separators=(', ', ': '))}" if rest else head


def runtime_text(runtime: dict[str, Any]) -> str:
    """`fttui.runtime` in a line: `Ray (job fttui-...), 2 workers, cpu, float32`."""
    where = "Ray" if runtime.get("runner") == "ray" else "local"
    if runtime.get("ray_job_id"):
        where += f" (job {runtime['ray_job_id']})"
    workers = runtime.get("workers")
    parts = [where]
    if workers:
        parts.append(f"{workers} worker{'s' if workers != 1 else ''}")
    parts += [str(runtime[k]) for k in ("device", "precision") if runtime.get(k)]
    return ", ".join(parts)


def job_detail(
    job: FineTuningJob, checkpoints: list[Checkpoint] | None = None
) -> list[tuple[str, str]]:
    """What the job detail pane lists: resolved hyperparameters, files, names, error."""
    status = _fmt(job.status)
    if status == "paused" and job_pausing(job):
        status = "paused (saving the checkpoint to resume from)"
    items: list[tuple[str, str]] = [
        ("id", _fmt(job.id)),
        ("status", status),
        ("model", _fmt(job.model)),
        ("fine-tuned model", _fmt(job.fine_tuned_model)),
        ("suffix", _fmt(job_suffix(job))),
        ("training file", _fmt(job.training_file)),
        ("validation file", _fmt(job.validation_file)),
    ]
    hp: dict[str, Any] = _plain(job.hyperparameters) or {}
    if job.method and job.method.get("type"):
        items.append(("method", job.method_type))
        inner = job.method_config
        if isinstance(inner.get("hyperparameters"), dict):
            hp = {**inner["hyperparameters"], **hp}
        if inner.get("grader") is not None:
            items.append(("grader", grader_text(inner["grader"])))
    for name in ("n_epochs", "batch_size", "learning_rate_multiplier"):
        if name in hp:
            items.append((name, _number(hp[name])))
    for name, value in hp.items():
        if name not in ("n_epochs", "batch_size", "learning_rate_multiplier"):
            items.append((name, _number(value)))
    local = job.local
    for name, value in local.hyperparameters.items():
        items.append((name, _fmt(value)))
    if local.base_model and local.base_model != job.model:
        items.append(("base model", _fmt(local.base_model)))
    if local.runtime and local.runtime.get("runner"):
        items.append(("runs on", runtime_text(local.runtime)))
    if local.disk_bytes:
        # Checkpoints and the model on the server's disk, shared weights counted once.
        items.append(("disk use", human_bytes(local.disk_bytes)))
    for name, value in (job.metadata or {}).items():
        items.append((f"metadata {name}", _fmt(value)))
    for integration in job.integrations or []:
        if line := _integration(integration):
            items.append(line)
    items += [
        ("seed", _fmt(job.seed)),
        ("trained tokens", _number(job.trained_tokens)),
        ("created", _when(job.created_at)),
        ("finished", _when(job.finished_at)),
        ("estimated finish", _when(job.estimated_finish)),
        ("result files", _fmt(job.result_files)),
    ]
    error = job.error
    if error is not None:
        if error.message or error.code:
            items.append(("error", str(error.message or "-")))
        # OpenAI's machine-readable code, and the parameter at fault (e.g. training_file).
        if error.code:
            items.append(("error code", str(error.code)))
        if error.param:
            items.append(("error param", str(error.param)))
    if job.unreadable:
        items.append(("not read", str(job.unreadable)))
    for ckpt in checkpoints or []:
        step = ckpt.step_number
        items.append((f"checkpoint step {step}", _fmt(ckpt.fine_tuned_model_checkpoint)))
        shown = ", ".join(
            f"{k}={_number(v)}"
            for k, v in ckpt.metrics.model_dump(exclude_none=True).items()
            if k != "step"
        )
        if shown:
            items.append((f"checkpoint step {step} metrics", shown))
    return results_first(items)


#: What a user looks for first in a job's detail, shown right under its status (so
#: at 80x24 it is on screen without scrolling): what went wrong, what it made, how
#: far it is.
RESULT_KEYS = (
    "error",
    "error code",
    "error param",
    "fine-tuned model",
    "result files",
    "trained tokens",
    "finished",
    "estimated finish",
)


def _step_of(key: str) -> int:
    number = key.removeprefix("checkpoint step ").removesuffix(" metrics")
    return int(number) if number.isdigit() else -1


def results_first(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`items` with the results (`RESULT_KEYS`, those with a value) right after the id
    and status, the last checkpoint's metrics among them; the rest in their order."""
    found = dict(items)
    top = [(k, found[k]) for k in RESULT_KEYS if k in found and found[k] not in ("-", "")]
    metrics = {
        _step_of(k): v
        for k, v in items
        if k.startswith("checkpoint step ") and k.endswith(" metrics")
    }
    if metrics:  # backends list checkpoints newest first or last: the highest step
        top.append(("last metrics", metrics[max(metrics)]))
    moved = {k for k, _ in top}
    head = [(k, v) for k, v in items if k in ("id", "status")]
    rest = [(k, v) for k, v in items if k not in moved and k not in ("id", "status")]
    return head + top + rest
