"""The server's side of the trainer protocol: per-job tokens, the job spec, reports, uploads.

A trainer (a process on this machine, or a Ray job on another one) knows only the
server's URL, its job id and a per-job token. Everything it learns and everything it
changes goes through these functions, called by `routes/trainer.py`:

- the token is random, handed to the trainer once (environment, never argv) and kept
  here only as a sha256; it opens exactly one job and is refused once that job is
  final (a cancelled job's trainer gets `CLOSING_GRACE_S` to deliver its closing
  reports: the rows it kept and its last event), or once the trainer's own final
  status arrived, or once the scheduler saw the trainer go;
- reports carry client-side ids and are applied in order, each at most once
  (`Store.once`): a retried batch after a lost answer never duplicates anything;
- large artifacts (checkpoints, the model, the results file) are uploaded file by
  file into a staging directory, each checked against the sha256 the trainer
  declared, and become visible only when a report commits the whole upload with a
  rename: a dropped connection leaves at most a `.part` file nobody sees.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fttui import __version__
from fttui.core.checkpoint_files import MANIFEST
from fttui.core.models import DEFAULT_MODEL, BaseModelSpec, resolve_model
from fttui.core.naming import fine_tuned_model_name, safe_dir_name
from fttui.server import checkpoints
from fttui.server.errors import APIError
from fttui.store.db import FINAL_STATUSES, Store, new_id, now

TOKEN_ENV = "FTTUI_TRAINER_TOKEN"
# How long the trainer of a job the user cancelled may still deliver its closing
# reports (results rows so far, the "cancelled" event) before its token is refused.
CLOSING_GRACE_S = 60
MAX_REPORTS_PER_BATCH = 500
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_REPORT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_JOB_FIELDS = ("resolved", "hyperparameters", "estimated_finish", "runtime")
_EVENT_LEVELS = ("info", "warn", "error")
_EVENT_TYPES = ("message", "metrics")
_TRAINER_STATUSES = ("succeeded", "failed", "cancelled", "paused")
# After these a trainer stops: its token is revoked (a paused job's next trainer,
# started by resume, gets a token of its own).
_LAST_WORDS = frozenset({*FINAL_STATUSES, "paused"})
# A trainer may finish (or fail) while the user's pause is on its way to it.
_TRAINING = ["running", "paused"]


# -- tokens -----------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(store: Store, job_id: str) -> str:
    """A fresh token for the job's trainer; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    store.update_job(job_id, trainer_token=_digest(token))
    return token


def revoke_token(store: Store, job_id: str) -> None:
    store.update_job(job_id, trainer_token=None)


VERSION_HEADER = "X-Fttui-Version"


def check_trainer_version(store: Store, job: dict[str, Any], version: str | None) -> None:
    """Refuse a trainer of another fttui version (a Ray node installed apart from the
    server): it would train with other rules and speak another protocol. The job fails
    with both versions and the fix; the trainer gets a 409 saying the same.

    A trainer that sends no version predates this check (fttui 0.1.0 trainers did not
    send it) and is let through."""
    if version is None or version == __version__:
        return
    message = (
        f"The trainer runs fttui {version}, this server fttui {__version__}: install fttui "
        f"{__version__} on the node that runs the trainer (with --runner ray: every Ray "
        "node, in the Python --ray-python names) and create the job again"
    )
    if store.transition(
        job["id"],
        ["running"],
        "failed",
        finished_at=now(),
        error={"code": "trainer_version_mismatch", "message": message, "param": None},
    ):
        store.add_event(job["id"], message, level="error")
    revoke_token(store, job["id"])
    raise APIError(409, message, code="trainer_version_mismatch")


def _refused(message: str) -> APIError:
    return APIError(401, message, code="invalid_trainer_token")


def authorize(store: Store, job_id: str, header: str | None) -> dict[str, Any]:
    """The job, when `header` carries its trainer's valid token; else a 401.

    The same answer for an unknown job and a wrong token, so a token never tells
    which other jobs exist.
    """
    scheme, _, token = (header or "").partition(" ")
    job = store.get_job(job_id)
    stored = (job or {}).get("trainer_token")
    if (
        job is None
        or scheme.lower() != "bearer"
        or not stored
        or not hmac.compare_digest(_digest(token.strip()), stored)
    ):
        raise _refused(f"This trainer token is not valid for job {job_id}")
    if job["status"] in FINAL_STATUSES and not _closing(job):
        raise _refused(f"Job {job_id} is {job['status']}: its trainer token is no longer accepted")
    return job


def _closing(job: dict[str, Any]) -> bool:
    """A cancelled job whose trainer may still deliver its closing reports."""
    finished = job.get("finished_at") or 0
    return job["status"] == "cancelled" and now() - finished <= CLOSING_GRACE_S


# -- what the trainer reads -----------------------------------------------------------


def control(job: dict[str, Any] | None) -> dict[str, Any]:
    """What the trainer should do now; sent with every answer and on every poll.

    `cancel`: stop, keep what was written, report `cancelled`. `pause`: finish the
    step under way, save a checkpoint with the optimizer state, report `paused`.
    """
    resumed = job is not None and job["status"] == "queued" and job.get("pause_requested")
    if (
        job is None
        or job.get("cancel_requested")
        or (job["status"] not in ("running", "paused") and not resumed)
    ):
        return {"action": "cancel", "status": job["status"] if job else None}
    if job["status"] == "paused":
        return {"action": "pause", "status": "paused"}
    if job["status"] == "queued" and job.get("pause_requested"):
        # Resumed while this trainer was still saving its pause checkpoint: it
        # finishes that (the next trainer continues from it) and stops.
        return {"action": "pause", "status": "paused"}
    return {"action": "continue", "status": job["status"]}


def claim_model_name(store: Store, job: dict[str, Any]) -> str:
    """The job's fine-tuned model name, claimed once when the job starts.

    Names have one-second resolution; a name some model or job already holds moves
    the timestamp on by a second (the legacy guide's name format is kept).
    """
    if job.get("model_name"):
        return str(job["model_name"])
    when = datetime.now(UTC)
    for _ in range(3600):
        name = fine_tuned_model_name(
            job["model"], job.get("organization_id") or "org-local", job.get("suffix"), when
        )
        if (
            not store.model_name_taken(name)
            and not (store.models_dir / safe_dir_name(name)).exists()
        ):
            store.update_job(job["id"], model_name=name)
            return name
        when += timedelta(seconds=1)
    raise RuntimeError("no free fine-tuned model name within an hour of now")


def job_spec(
    store: Store, registry: dict[str, BaseModelSpec], job: dict[str, Any]
) -> dict[str, Any]:
    """Everything the trainer needs to train the job, and nothing about this machine's disk."""
    keys = (
        "id",
        "model",
        "base_model",
        "training_file",
        "validation_file",
        "hyperparameters",
        "resolved",
        "method",
        "extra",
        "spec",
        "seed",
        "suffix",
        "organization_id",
        "status",
        "model_name",
        "legacy",
    )
    spec: dict[str, Any] = {"job": {k: job.get(k) for k in keys}}
    fine_tuned = store.get_model(job["model"])
    base_name = fine_tuned["base_model"] if fine_tuned else job["model"]
    base = resolve_model(registry, base_name) or resolve_model(
        registry, job.get("base_model") or ""
    )
    spec["base_model"] = (
        {**base.as_dict(), "default": base.id == DEFAULT_MODEL} if base is not None else None
    )
    spec["continue_from"] = None
    if fine_tuned is not None:
        directory = store.data_dir / fine_tuned["path"]
        files = model_manifest(directory)
        spec["continue_from"] = {
            "model": fine_tuned["id"],
            "files": files,
            "checksum": _manifest_checksum(files),
        }
    # A resumed job continues from its latest checkpoint with optimizer state.
    spec["resume_from"] = checkpoints.resume_from(store, job["id"])
    spec["control"] = control(job)
    return spec


def model_manifest(directory: Path) -> list[dict[str, Any]]:
    """Name, size and sha256 of each file of a saved model (computed once, then kept)."""
    path = directory / MANIFEST
    try:
        return list(json.loads(path.read_text())["files"])
    except (OSError, ValueError, KeyError):
        pass
    files = [
        {"name": p.name, "bytes": p.stat().st_size, "sha256": _sha256_file(p)}
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != MANIFEST
    ]
    _write_manifest(directory, files)
    return files


def source_model_file(store: Store, job: dict[str, Any], name: str) -> Path:
    """A file of the fine-tuned model this job continues from."""
    row = store.get_model(job["model"])
    if row is None:
        raise APIError(404, f"Job {job['id']} does not continue from a fine-tuned model")
    directory = store.data_dir / row["path"]
    if name not in {f["name"] for f in model_manifest(directory)}:
        raise APIError(404, f"Model {row['id']} has no file {name!r}", param="name")
    return directory / name


def checkpoint_file(store: Store, job: dict[str, Any], step: int, name: str) -> Path:
    """A file of one of the job's own checkpoints (what a resumed trainer downloads)."""
    path = checkpoints.checkpoint_file(store, job["id"], step, name)
    if path is None or not path.is_file():
        raise APIError(
            404, f"Job {job['id']} has no checkpoint file step-{step}/{name}", param="name"
        )
    return path


def job_file(store: Store, job: dict[str, Any], file_id: str) -> tuple[Path, str]:
    """The bytes of the job's training or validation file (no other file)."""
    if file_id not in (job["training_file"], job.get("validation_file")):
        raise APIError(403, f"File {file_id} is not a file of job {job['id']}", param="file_id")
    row = store.get_file(file_id)
    if row is None or not store.file_path(row).exists():
        raise APIError(404, f"File {file_id} no longer exists", param="file_id")
    return store.file_path(row), row["filename"]


# -- uploads ----------------------------------------------------------------------------


def check_name(value: str, what: str) -> str:
    if not _NAME.match(value) or value.endswith(".part") or value.endswith(".sha256"):
        raise APIError(400, f"Invalid {what} {value!r}", param=what)
    return value


def staging_dir(store: Store, job_id: str, upload_id: str) -> Path:
    return store.tmp_dir / "trainer-uploads" / job_id / check_name(upload_id, "upload_id")


def remove_staging(store: Store, job_id: str) -> None:
    shutil.rmtree(store.tmp_dir / "trainer-uploads" / job_id, ignore_errors=True)


@dataclass
class Receiving:
    """One file of an upload being written: `.part`, hashed as it streams."""

    final: Path
    part: Path
    expected_sha: str
    size: int = 0

    def __post_init__(self) -> None:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self._hash = hashlib.sha256()
        self._fh = open(self.part, "wb")  # noqa: SIM115 - closed in finish/abort

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._fh.write(chunk)
        self.size += len(chunk)

    def finish(self) -> dict[str, Any]:
        self._fh.close()
        got = self._hash.hexdigest()
        if got != self.expected_sha:
            self.part.unlink(missing_ok=True)
            raise APIError(
                400,
                f"{self.final.name}: received {self.size} bytes with sha256 {got}, "
                f"expected {self.expected_sha}; send it again",
                param="X-Content-SHA256",
                code="checksum_mismatch",
            )
        self.final.with_name(self.final.name + ".sha256").write_text(got)
        os.replace(self.part, self.final)
        return {"name": self.final.name, "bytes": self.size, "sha256": got}

    def abort(self) -> None:
        self._fh.close()
        self.part.unlink(missing_ok=True)


def start_receiving(
    store: Store, job_id: str, upload_id: str, name: str, sha256: str | None
) -> Receiving:
    if not sha256 or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise APIError(
            400, "Send the file's sha256 (hex) in X-Content-SHA256", param="X-Content-SHA256"
        )
    directory = staging_dir(store, job_id, upload_id)
    check_name(name, "name")
    # A unique part name: a retry may arrive while the dropped attempt is still closing.
    part = directory / f".{name}.{secrets.token_hex(4)}.part"
    return Receiving(final=directory / name, part=part, expected_sha=sha256)


def received_files(store: Store, job_id: str, upload_id: str) -> list[dict[str, Any]]:
    directory = staging_dir(store, job_id, upload_id)
    out = []
    if directory.is_dir():
        for sidecar in sorted(directory.glob("*.sha256")):
            target = sidecar.with_name(sidecar.name.removesuffix(".sha256"))
            if target.is_file():
                sha = sidecar.read_text().strip()
                out.append({"name": target.name, "bytes": target.stat().st_size, "sha256": sha})
    return out


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest_checksum(files: list[dict[str, Any]]) -> str:
    canonical = json.dumps(sorted((f["name"], f["sha256"]) for f in files))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _write_manifest(directory: Path, files: list[dict[str, Any]]) -> None:
    tmp = directory / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"files": files}, indent=1))
    os.replace(tmp, directory / MANIFEST)


def _declared(report: dict[str, Any]) -> list[dict[str, Any]]:
    files = report.get("files")
    if not isinstance(files, list) or not files:
        raise APIError(400, "The report needs 'files': [{name, bytes, sha256}]", param="files")
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("sha256"), str):
            raise APIError(400, "Each of 'files' needs name, bytes and sha256", param="files")
        check_name(str(f.get("name")), "name")
    return files


def _commit(
    store: Store, job_id: str, report: dict[str, Any], target: Path
) -> list[dict[str, Any]]:
    """Move a complete upload to `target` with one rename; verify it matches `files`.

    Idempotent across a crash between the rename and the database commit: a retry
    finds the staging directory gone and `target` already complete.
    """
    files = _declared(report)
    upload_id = str(report.get("upload"))
    staged = staging_dir(store, job_id, upload_id)
    want = {f["name"]: f["sha256"] for f in files}
    if staged.is_dir():
        have = {f["name"]: f["sha256"] for f in received_files(store, job_id, upload_id)}
        missing = sorted(n for n, sha in want.items() if have.get(n) != sha)
        if missing:
            raise APIError(
                409,
                f"Upload {upload_id} is missing or has other bytes for: {', '.join(missing)}",
                param="files",
                code="upload_incomplete",
            )
        for extra in staged.iterdir():
            if extra.name not in want:
                extra.unlink(missing_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staged, target)
        _write_manifest(target, files)
        return files
    if target.is_dir() and {f["name"]: f["sha256"] for f in model_manifest(target)} == want:
        return files
    raise APIError(
        409, f"Upload {upload_id} was never received", param="upload", code="upload_incomplete"
    )


# -- reports -----------------------------------------------------------------------------


def apply_reports(
    store: Store,
    job: dict[str, Any],
    body: Any,
    *,
    keep_checkpoints: int = checkpoints.DEFAULT_KEEP,
) -> dict[str, Any]:
    """Apply a batch of reports in order, each at most once; answer with `control`.

    `keep_checkpoints`: epoch checkpoints kept per job (0: all); see
    `fttui.server.checkpoints`."""
    reports = body.get("reports") if isinstance(body, dict) else None
    if not isinstance(reports, list) or len(reports) > MAX_REPORTS_PER_BATCH:
        raise APIError(
            400, f"Send {{'reports': [...]}} with at most {MAX_REPORTS_PER_BATCH} reports"
        )
    for i, report in enumerate(reports):
        if not isinstance(report, dict) or not _REPORT_ID.match(str(report.get("id", ""))):
            raise APIError(400, f"reports[{i}] needs an 'id'", param=f"reports[{i}].id")
        if report.get("kind") not in _APPLY:
            raise APIError(
                400,
                f"reports[{i}].kind must be one of {', '.join(_APPLY)}, got {report.get('kind')!r}",
                param=f"reports[{i}].kind",
            )
    job_id = job["id"]
    applied = 0
    final = False
    rejected: list[dict[str, Any]] = []
    for i, report in enumerate(reports):
        try:
            with store.once(job_id, report["id"]) as fresh:
                if fresh:
                    if report["kind"] == "checkpoint":
                        _checkpoint(store, job_id, report, keep_checkpoints)
                    else:
                        _APPLY[report["kind"]](store, job_id, report)
                    applied += 1
        except APIError as exc:
            # Nothing of this report was kept (its transaction rolled back); the rest
            # of the batch still applies, and the trainer logs what was refused.
            rejected.append({"index": i, "id": report["id"], "message": exc.message})
        if report["kind"] == "status" and report.get("status") in _LAST_WORDS:
            final = True
    if final:
        # The trainer's last word: its token opens nothing any more. A job that ended
        # keeps no optimizer state (the scheduler's sweep catches other endings).
        revoke_token(store, job_id)
        remove_staging(store, job_id)
        checkpoints.apply_retention(store, job_id, keep_checkpoints)
    return {
        "applied": applied,
        "received": len(reports),
        "rejected": rejected,
        "control": control(store.get_job(job_id)),
    }


def _event(store: Store, job_id: str, report: dict[str, Any]) -> None:
    message = report.get("message")
    level = report.get("level", "info")
    kind = report.get("type", "message")
    data = report.get("data")
    if not isinstance(message, str) or level not in _EVENT_LEVELS or kind not in _EVENT_TYPES:
        raise APIError(
            400, "An event needs a string 'message', a level and a type", param="message"
        )
    if data is not None and not isinstance(data, dict):
        raise APIError(400, "An event's 'data' must be an object", param="data")
    store.add_event(job_id, message, level=level, type=kind, data=data)


def _job(store: Store, job_id: str, report: dict[str, Any]) -> None:
    fields = report.get("fields")
    if not isinstance(fields, dict) or not set(fields) <= set(_JOB_FIELDS):
        raise APIError(400, f"'fields' may set only {', '.join(_JOB_FIELDS)}", param="fields")
    if "runtime" in fields:
        current = (store.get_job(job_id) or {}).get("runtime") or {}
        fields = {**fields, "runtime": {**current, **(fields["runtime"] or {})}}
    store.update_job(job_id, **fields)


def _status(store: Store, job_id: str, report: dict[str, Any]) -> None:
    status = report.get("status")
    if status not in _TRAINER_STATUSES:
        raise APIError(400, f"status must be one of {', '.join(_TRAINER_STATUSES)}", param="status")
    job = store.get_job(job_id)
    assert job is not None
    if status == "succeeded":
        name = job.get("model_name")
        if not name or store.get_model(name) is None:
            raise APIError(409, "The model was not committed before 'succeeded'", param="status")
        if store.transition(
            job_id,
            _TRAINING,
            "succeeded",
            fine_tuned_model=name,
            trained_tokens=report.get("trained_tokens"),
            finished_at=now(),
            estimated_finish=None,
            pause_requested=0,
        ):
            late = " (it finished before it could pause)" if job["status"] == "paused" else ""
            store.add_event(job_id, f"Job succeeded: fine-tuned model {name}{late}")
        else:
            store.delete_model(name)  # cancelled meanwhile: the model is not the job's result
    elif status == "failed":
        raw = report.get("error")
        error: dict[str, Any] = raw if isinstance(raw, dict) else {}
        store.transition(
            job_id,
            _TRAINING,
            "failed",
            error={
                "code": str(error.get("code") or "training_error"),
                "message": str(error.get("message") or "Training failed"),
                "param": error.get("param"),
            },
            finished_at=now(),
            pause_requested=0,
        )
    elif status == "cancelled":
        if job.get("cancel_requested") or report.get("reason") != "signal":
            store.transition(job_id, ["running"], "cancelled", finished_at=now())
        else:
            # SIGTERM that fttui did not send (`ray job stop`, a node shutting down).
            message = (
                "The trainer was stopped from outside fttui (it received SIGTERM "
                "without a cancel request)"
            )
            if store.transition(
                job_id,
                _TRAINING,
                "failed",
                error={"code": "training_stopped", "message": message, "param": None},
                finished_at=now(),
                pause_requested=0,
            ):
                store.add_event(job_id, message, level="error")
    else:
        # paused: the trainer saved its checkpoint (with the optimizer state) and
        # stops. The job has shown `paused` since the user asked; from now on it can
        # be resumed.
        store.transition(job_id, ["paused"], "paused", pause_requested=0, estimated_finish=None)
        # Or resumed meanwhile (queued): the checkpoint is saved, it may start now.
        store.transition(job_id, ["queued"], "queued", pause_requested=0)


def _checkpoint(
    store: Store, job_id: str, report: dict[str, Any], keep: int = checkpoints.DEFAULT_KEEP
) -> None:
    job = store.get_job(job_id)
    assert job is not None
    step = report.get("step_number")
    if not isinstance(step, int) or step < 1:
        raise APIError(400, "'step_number' must be a positive integer", param="step_number")
    kind = report.get("checkpoint_kind", "epoch")
    if kind not in ("epoch", "pause"):
        raise APIError(400, "'checkpoint_kind' must be 'epoch' or 'pause'", param="checkpoint_kind")
    target = store.jobs_dir / job_id / "checkpoints" / f"step-{step}"
    files = _commit(store, job_id, report, target)
    name = f"{job.get('model_name') or job['model']}:ckpt-step-{step}"
    metrics = report.get("metrics") if isinstance(report.get("metrics"), dict) else {}
    store.add_checkpoint(
        job_id,
        step_number=step,
        fine_tuned_model_checkpoint=name,
        metrics=metrics or {},
        path=str(target.relative_to(store.data_dir)),
        kind=kind,
        bytes=checkpoints.directory_bytes(target),
        state_bytes=checkpoints.state_bytes(files),
    )
    what = "Pause checkpoint" if kind == "pause" else "Checkpoint"
    store.add_event(job_id, f"{what} saved at step {step}: {name}")
    checkpoints.apply_retention(store, job_id, keep)


def _model(store: Store, job_id: str, report: dict[str, Any]) -> None:
    job = store.get_job(job_id)
    assert job is not None
    name = job.get("model_name")
    if not name:
        raise APIError(409, "The job has no claimed model name", param="upload")
    if job["status"] not in _TRAINING:
        remove_staging(store, job_id)
        return  # cancelled while the model was uploading: it is not kept
    target = store.models_dir / safe_dir_name(name)
    files = _commit(store, job_id, report, target)
    # Stored once: a model stored narrower than float32 becomes its last checkpoint's
    # weights, and the weights the last checkpoint already holds become a link to them.
    checkpoints.share_rounded_weights(store, job_id, target, files)
    checkpoints.link_duplicates(store, job_id, target, files)
    if store.get_model(name) is None:
        store.add_model(
            name,
            base_model=job.get("base_model") or job["model"],
            path=str(target.relative_to(store.data_dir)),
            job_id=job_id,
            bytes=checkpoints.own_bytes(store, job_id, target),
        )


def _results(store: Store, job_id: str, report: dict[str, Any]) -> None:
    files = _declared(report)
    file_id = new_id("file")
    target = store.tmp_dir / "trainer-uploads" / job_id / f"{report.get('upload')}.committed"
    _commit(store, job_id, report, target)
    source = target / files[0]["name"]
    os.replace(source, store.files_dir / file_id)
    shutil.rmtree(target, ignore_errors=True)
    store.add_file(
        filename="results.csv",
        purpose="fine-tune-results",
        bytes=int(files[0]["bytes"]),
        path=f"files/{file_id}",
        file_id=file_id,
    )
    job = store.get_job(job_id) or {}
    store.update_job(job_id, result_files=[file_id])
    # A paused job got the rows so far; the file of its whole run replaces them.
    for old in job.get("result_files") or []:
        if old != file_id:
            store.delete_file(old)
    store.add_event(job_id, f"Results file: {file_id}")


_APPLY = {
    "event": _event,
    "job": _job,
    "status": _status,
    "checkpoint": _checkpoint,
    "model": _model,
    "results": _results,
}
