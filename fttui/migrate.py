"""Move fine-tuning jobs from one backend to another (`fttui migrate`, the TUI's action).

Hosted fine-tuning is closing (OpenAI stops new fine-tuning jobs on 2027-01-06; see
docs/migrate.md), so a team re-runs its OpenAI jobs on its own hardware: the same
data, method, hyperparameters, suffix and seed, against fttui's local server (or any
OpenAI-compatible one). This module is a client of two `fttui.api` clients, a source
and a target, used alike by the command line and the TUI; it is never a server feature.

For each source job it

1. reads the job (method and hyperparameters as the finished job resolved them, the
   reinforcement grader, suffix, seed, metadata, integrations) and its results file;
2. finds its training and validation data: a download where the source allows it (the
   local server does; OpenAI answers 400 for `fine-tune` files, which are upload-only),
   else the user's own copy under `--data`, matched by file name and exact byte count,
   and says per file when none or several match;
3. uploads each file to the target once (a sha256 recorded per target, so a file already
   uploaded is reused);
4. creates the job on the target with the base model mapped (`--model SRC=DST`, the
   config's `[migrate.models]`, else the name as it is: fttui's local server maps
   OpenAI's model names itself) and the source job's id in the target job's `metadata`
   (`fttui_migrated_from`), which makes a second run find the job and create nothing.

`plan()` does steps 1-2 and the lookups of 3-4 without changing anything (`--dry-run`);
`run()` carries a plan out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import statistics
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fttui.api import Client

__all__ = [
    "MIGRATED_FROM",
    "SUGGESTED_OPEN_MODELS",
    "FilePlan",
    "JobPlan",
    "MigrationError",
    "plan",
    "plan_job",
    "run",
]

#: The target job's metadata key holding the source job's id.
MIGRATED_FROM = "fttui_migrated_from"
#: OpenAI's metadata limits (the target may be OpenAI-compatible too).
_METADATA_MAX_KEYS = 16

#: An open model to consider per OpenAI base model (shown in the plan, never applied by
#: itself: the user maps models with --model or [migrate.models]). Sizes chosen so the
#: replacement is of a class that usually matches the OpenAI model on narrow fine-tuned
#: tasks; the user's own eval (`fttui eval --against`) decides.
SUGGESTED_OPEN_MODELS: dict[str, str] = {
    "gpt-4.1-nano": "Qwen/Qwen3-1.7B",
    "gpt-4.1-mini": "Qwen/Qwen3-8B",
    "gpt-4.1": "Qwen/Qwen3-32B",
    "gpt-4o-mini": "Qwen/Qwen3-8B",
    "gpt-4o": "Qwen/Qwen3-32B",
    "gpt-3.5-turbo": "meta-llama/Llama-3.1-8B-Instruct",
    "o4-mini": "openai/gpt-oss-20b",
    "babbage-002": "HuggingFaceTB/SmolLM2-360M",
    "davinci-002": "meta-llama/Llama-3.2-3B",
}


class MigrationError(Exception):
    """Something the user must fix before anything is planned (bad data dir, bad job id)."""


@dataclass
class FilePlan:
    """Where one of a source job's files comes from and where it goes."""

    role: str  # "training_file" | "validation_file"
    source_id: str
    filename: str | None = None
    bytes: int | None = None
    path: str | None = None  # the local copy used
    how: str | None = None  # "downloaded from the source" | "matched by name and size" | ...
    sha256: str | None = None
    candidates: list[str] = field(default_factory=list)
    problem: str | None = None
    target_id: str | None = None  # a file already on the target (reused), or the upload
    reused: bool = False


@dataclass
class JobPlan:
    """One source job: what it is, what the target job will be, and what happened."""

    source_id: str
    source_status: str
    method: str
    body: dict[str, Any]
    files: list[FilePlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    estimate: dict[str, Any] = field(default_factory=dict)
    source_results: str | None = None  # local copy of the source job's results file
    target_job: dict[str, Any] | None = None
    # "planned", "exists" (found by its metadata: nothing to do), "created", "blocked"
    status: str = "planned"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the local record: what was uploaded where ----------------------------------------


def _record_path(state_dir: Path) -> Path:
    return state_dir / "uploads.json"


def _load_record(state_dir: Path) -> dict[str, dict[str, str]]:
    """{target base URL: {sha256: file id}} of files this machine uploaded."""
    try:
        data = json.loads(_record_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_record(state_dir: Path, record: Mapping[str, Mapping[str, str]]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = _record_path(state_dir)
    with tempfile.NamedTemporaryFile("w", dir=state_dir, delete=False, encoding="utf-8") as fh:
        json.dump(record, fh, indent=1, sort_keys=True)
    os.replace(fh.name, path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- reading the source job -----------------------------------------------------------


def method_of(job: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The job's method type and that method's object (supervised for older jobs)."""
    method = job.get("method")
    if isinstance(method, Mapping) and isinstance(method.get("type"), str):
        kind = str(method["type"])
        inner = method.get(kind)
        return kind, dict(inner) if isinstance(inner, Mapping) else {}
    return "supervised", {}


def _hyperparameters(job: Mapping[str, Any], inner: Mapping[str, Any]) -> dict[str, Any]:
    """The method's hyperparameters as the job resolved them (the method object first,
    then the top-level field, which OpenAI fills for supervised jobs only)."""
    out: dict[str, Any] = {}
    top = job.get("hyperparameters")
    if isinstance(top, Mapping):
        out.update({k: v for k, v in top.items() if v is not None})
    own = inner.get("hyperparameters")
    if isinstance(own, Mapping):
        out.update({k: v for k, v in own.items() if v is not None})
    return out


def _map_model(
    name: str, models: Mapping[str, str], fine_tunes: Mapping[str, str]
) -> tuple[str, str | None]:
    """The target's model for a source base model, and a note on how it was chosen.

    A source fine-tune (a job that continued from one) maps to the target model that an
    earlier migration of its job produced (`fine_tunes`: source model -> target model).
    """
    if name in models:
        return models[name], f"model {name} -> {models[name]} (your mapping)"
    if name in fine_tunes:
        return fine_tunes[name], f"model {name} -> {fine_tunes[name]} (its own migrated job)"
    # A dated name (gpt-4o-mini-2024-07-18) may be mapped by its family name.
    for family, target in models.items():
        if name.startswith(family + "-") and family:
            return target, f"model {name} -> {target} (your mapping for {family})"
    return name, None


def suggestion_for(model: str) -> str | None:
    for family in sorted(SUGGESTED_OPEN_MODELS, key=len, reverse=True):
        if model == family or model.startswith(family + "-"):
            return SUGGESTED_OPEN_MODELS[family]
    return None


def translate(
    job: Mapping[str, Any],
    *,
    models: Mapping[str, str],
    fine_tunes: Mapping[str, str] | None = None,
    target_kind: str = "local",
) -> tuple[dict[str, Any], list[str], list[str]]:
    """The target job's body for a source job (file ids left as the source's), with notes
    on what was carried, translated or dropped, and problems that block it."""
    notes: list[str] = []
    problems: list[str] = []
    kind, inner = method_of(job)
    source_model = str(job.get("model") or "")
    model, how = _map_model(source_model, models, fine_tunes or {})
    if how:
        notes.append(how)
    elif source_model.startswith("ft:") or ":ft-" in source_model:
        problems.append(
            f"the job continued from the fine-tune {source_model}, which the target does not "
            "have: migrate that fine-tune's job first, or map it with --model"
        )
    else:
        hint = suggestion_for(source_model)
        target_side = (
            "fttui's local server maps OpenAI's model names to the model in its models.json"
            if target_kind == "local"
            else "the target must know this name"
        )
        notes.append(
            f"model {source_model} kept as named ({target_side})"
            + (f"; an open model to consider: --model {source_model}={hint}" if hint else "")
        )
    hyper = _hyperparameters(job, inner)
    autos = sorted(k for k, v in hyper.items() if v == "auto")
    if autos:
        notes.append(
            f"{', '.join(autos)} still 'auto' on the source (the job has not resolved them): "
            "the target resolves its own"
        )
    if "learning_rate_multiplier" in hyper and hyper["learning_rate_multiplier"] != "auto":
        m = hyper["learning_rate_multiplier"]
        notes.append(
            f"learning_rate_multiplier {m}: on OpenAI the rate is OpenAI's base rate (never "
            f"published for chat models) x {m}; on the target it is the target model's base "
            f"rate x {m}, an estimate of the same strength, not the same number"
        )
    method: dict[str, Any] = {"type": kind}
    method_body: dict[str, Any] = {"hyperparameters": hyper}
    if kind == "reinforcement":
        grader = inner.get("grader")
        if grader is None:
            problems.append("the reinforcement job carries no grader")
        else:
            from fttui.core.graders import GraderError, parse_grader

            try:  # what OpenAI's reinforcement method takes, checked as the target will
                parse_grader(grader, "method.reinforcement.grader")
            except GraderError as exc:
                problems.append(f"the source job's grader cannot be sent again: {exc}")
            method_body["grader"] = grader
    elif kind not in ("supervised", "dpo"):
        problems.append(f"method {kind!r} is not one fttui knows how to carry")
    method[kind] = method_body
    body: dict[str, Any] = {
        "model": model,
        "training_file": job.get("training_file"),
        "method": method,
    }
    if job.get("validation_file"):
        body["validation_file"] = job["validation_file"]
    for key in ("suffix", "seed"):
        if job.get(key) is not None:
            body[key] = job[key]
    metadata = {str(k): str(v) for k, v in dict(job.get("metadata") or {}).items()}
    if len(metadata) >= _METADATA_MAX_KEYS:
        dropped = sorted(metadata)[_METADATA_MAX_KEYS - 1 :]
        notes.append(f"metadata keys dropped to make room for {MIGRATED_FROM}: {dropped}")
        metadata = {k: metadata[k] for k in sorted(metadata)[: _METADATA_MAX_KEYS - 1]}
    metadata[MIGRATED_FROM] = str(job.get("id"))
    body["metadata"] = metadata
    # The local fttui server's own options (the legacy guide's classification metrics,
    # LoRA, ...), in its job object's `fttui.hyperparameters`.
    own = (
        (job.get("fttui") or {}).get("hyperparameters")
        if isinstance(job.get("fttui"), Mapping)
        else None
    )
    if isinstance(own, Mapping) and own:
        if target_kind == "local":
            body.update(dict(own))
            notes.append(f"fttui options carried: {', '.join(sorted(own))}")
        else:
            notes.append(
                f"not carried (only fttui's local server has them): {', '.join(sorted(own))}"
            )
    integrations = job.get("integrations")
    if integrations and target_kind == "local":
        notes.append(
            "integrations (W&B) not carried: the local server reports to no outside service; "
            "its curves are in the job's metrics events and results file"
        )
    elif integrations:
        body["integrations"] = integrations
    return body, notes, problems


# -- finding the data -----------------------------------------------------------------


def _candidates(data_dir: Path, filename: str, size: int | None) -> list[Path]:
    """Files under `data_dir` with this name and, when known, exactly this size."""
    found = []
    for root, _dirs, files in os.walk(data_dir):
        if filename in files:
            path = Path(root) / filename
            with contextlib.suppress(OSError):
                if size is None or path.stat().st_size == size:
                    found.append(path)
    return sorted(found)


async def _find_file(
    src: Client, file_id: str, role: str, data_dir: Path | None, work: Path
) -> FilePlan:
    from fttui.api import APIError

    fp = FilePlan(role=role, source_id=file_id)
    try:
        info = await src.files.retrieve(file_id)
        fp.filename, fp.bytes = info.filename or None, info.bytes or None
    except APIError as exc:
        fp.problem = f"the source does not show {file_id}: {exc}"
        return fp
    copy = work / f"{file_id}.jsonl"
    try:
        await src.files.download(file_id, copy)
        fp.path, fp.how = str(copy), "downloaded from the source"
    except APIError:
        # OpenAI's fine-tune files are upload-only: the user's own copy is the data.
        if data_dir is None:
            fp.problem = (
                f"the source does not let {fp.filename or file_id} be downloaded; "
                "name the folder of your own copies with --data"
            )
            return fp
        found = _candidates(data_dir, fp.filename or "", fp.bytes) if fp.filename else []
        fp.candidates = [str(p) for p in found]
        if not found:
            fp.problem = (
                f"no file named {fp.filename!r} of exactly {fp.bytes} bytes under {data_dir}"
            )
            return fp
        hashes = {sha256_of(p) for p in found}
        if len(hashes) > 1:
            fp.problem = (
                f"{len(found)} different files named {fp.filename!r} of {fp.bytes} bytes "
                f"under {data_dir}: {', '.join(fp.candidates)}; keep one (or pass a narrower --data)"
            )
            return fp
        fp.path, fp.how = str(found[0]), "matched by name and size"
    fp.sha256 = sha256_of(Path(fp.path))
    return fp


# -- estimates --------------------------------------------------------------------------


def _tokens(path: str, model: str) -> tuple[int | None, str | None]:
    """Tokens of one epoch of the file, counted by fttui's data check."""
    try:
        from fttui.data.check import check_file

        report = check_file(path, model=model)
    except Exception as exc:  # an estimate: never a reason to stop
        return None, f"tokens not counted: {exc}"
    return report.training.total_tokens, report.tokenizer


async def _throughput(dst: Client, model: str) -> tuple[float | None, int]:
    """Median tokens per second of the target's finished jobs of this base model."""
    rates = []
    async for job in dst.jobs.iter():
        if (
            job.status == "succeeded"
            and job.model == model
            and job.trained_tokens
            and job.finished_at
            and job.finished_at > job.created_at
        ):
            rates.append(job.trained_tokens / (job.finished_at - job.created_at))
        if len(rates) >= 20:
            break
    return (statistics.median(rates) if rates else None), len(rates)


# -- plan and run -----------------------------------------------------------------------


async def _source_jobs(
    src: Client, job_ids: Iterable[str], all_jobs: bool, since: datetime | None
) -> list[dict[str, Any]]:
    from fttui.api import raw

    if not all_jobs:
        return [dict(raw(await src.jobs.retrieve(job_id))) for job_id in job_ids]
    out = []
    cutoff = since.timestamp() if since else None
    async for job in src.jobs.iter():
        if cutoff is not None and job.created_at < cutoff:
            continue
        body = raw(job)
        if isinstance(body, Mapping):
            out.append(dict(body))
    out.reverse()  # oldest first: a job that continued from another comes after it
    return out


async def _existing(dst: Client) -> dict[str, dict[str, Any]]:
    """Target jobs made by an earlier migration, by source job id."""
    from fttui.api import raw

    found: dict[str, dict[str, Any]] = {}
    async for job in dst.jobs.iter():
        meta = job.metadata or {}
        source = meta.get(MIGRATED_FROM)
        if source and source not in found:
            body = raw(job)
            found[source] = dict(body) if isinstance(body, Mapping) else {"id": job.id}
    return found


async def plan(
    src: Client,
    dst: Client,
    *,
    job_ids: Iterable[str] = (),
    all_jobs: bool = False,
    since: datetime | None = None,
    data_dir: Path | None = None,
    models: Mapping[str, str] | None = None,
    state_dir: Path,
    estimate: bool = True,
) -> list[JobPlan]:
    """What migrating these jobs would do; changes nothing on either side."""
    if data_dir is not None and not data_dir.is_dir():
        raise MigrationError(f"--data {data_dir}: not a folder")
    jobs = await _source_jobs(src, job_ids, all_jobs, since)
    existing = await _existing(dst)
    record = _load_record(state_dir).get(dst.base_url, {})
    # A source fine-tune already migrated: what later jobs that continued from it map to.
    fine_tunes: dict[str, str] = {}
    for job in jobs:
        done = existing.get(str(job.get("id")))
        if done and job.get("fine_tuned_model") and done.get("fine_tuned_model"):
            fine_tunes[str(job["fine_tuned_model"])] = str(done["fine_tuned_model"])
    plans = []
    for job in jobs:
        source_id = str(job.get("id"))
        if source_id in existing:
            jp = _new_plan(job, models or {}, fine_tunes, dst.kind)
            jp.status, jp.target_job = "exists", existing[source_id]
            plans.append(jp)
            continue
        plans.append(
            await plan_job(
                src,
                dst,
                job,
                data_dir=data_dir,
                models=models,
                fine_tunes=fine_tunes,
                state_dir=state_dir,
                estimate=estimate,
                record=record,
            )
        )
    return plans


def _new_plan(
    job: Mapping[str, Any], models: Mapping[str, str], fine_tunes: Mapping[str, str], kind: str
) -> JobPlan:
    body, notes, problems = translate(job, models=models, fine_tunes=fine_tunes, target_kind=kind)
    return JobPlan(
        source_id=str(job.get("id")),
        source_status=str(job.get("status") or ""),
        method=method_of(job)[0],
        body=body,
        notes=notes,
        problems=problems,
    )


async def plan_job(
    src: Client,
    dst: Client,
    job: Mapping[str, Any],
    *,
    data_dir: Path | None,
    state_dir: Path,
    models: Mapping[str, str] | None = None,
    fine_tunes: Mapping[str, str] | None = None,
    estimate: bool = True,
    record: Mapping[str, str] | None = None,
) -> JobPlan:
    """One job's plan: its body for the target, its files found, an estimate.

    `job` is a source job object, or a job body that was never created (the TUI's form
    after the source refused it: then its `id` names no source job).
    """
    if record is None:
        record = _load_record(state_dir).get(dst.base_url, {})
    jp = _new_plan(job, models or {}, fine_tunes or {}, dst.kind)
    kind = jp.method
    body = jp.body
    work = state_dir / "jobs" / jp.source_id
    work.mkdir(parents=True, exist_ok=True)
    for role in ("training_file", "validation_file"):
        file_id = job.get(role)
        if not file_id:
            continue
        fp = await _find_file(src, str(file_id), role, data_dir, work)
        if fp.sha256 and fp.sha256 in record:
            fp.target_id, fp.reused = record[fp.sha256], True
        jp.files.append(fp)
        if fp.problem:
            jp.problems.append(f"{role}: {fp.problem}")
    results = job.get("result_files") or []
    if results:
        target = work / "source_results.csv"
        from fttui.api import APIError

        try:
            await src.files.download(str(results[0]), target)
            jp.source_results = str(target)
        except APIError as exc:
            jp.notes.append(f"the source job's results file could not be read: {exc}")
    training = next((f for f in jp.files if f.role == "training_file" and f.path), None)
    if estimate and training is not None and training.path:
        tokens, counted_with = await asyncio.to_thread(
            _tokens, training.path, str(job.get("model") or "gpt-4o-mini")
        )
        epochs = body["method"][kind]["hyperparameters"].get("n_epochs")
        rate, n = await _throughput(dst, str(body["model"]))
        jp.estimate = {"tokens_per_epoch": tokens, "counted_with": counted_with}
        if tokens and isinstance(epochs, int):
            jp.estimate["tokens"] = tokens * epochs
            if rate:
                jp.estimate["seconds"] = round(tokens * epochs / rate)
                jp.estimate["from"] = f"median of {n} finished jobs of this model on the target"
        if "seconds" not in jp.estimate:
            jp.estimate["seconds"] = None
            jp.estimate["from"] = "no finished job of this model on the target to measure from"
    if jp.problems:
        jp.status = "blocked"
    return jp


async def run(plans: list[JobPlan], dst: Client, *, state_dir: Path) -> list[JobPlan]:
    """Carry out the planned jobs: upload each file once, create each job; blocked and
    existing ones are left as they are."""
    from fttui.api import APIError, raw

    record_all = _load_record(state_dir)
    record = record_all.setdefault(dst.base_url, {})
    for jp in plans:
        if jp.status != "planned":
            continue
        for fp in jp.files:
            if not fp.reused and fp.sha256 in record:  # uploaded for an earlier job of this run
                fp.target_id, fp.reused = record[fp.sha256], True
            if fp.reused and fp.target_id:
                try:
                    await dst.files.retrieve(fp.target_id)
                    continue
                except APIError:  # deleted on the target since: upload again
                    fp.reused = False
            assert fp.path is not None and fp.sha256 is not None
            uploaded = await _upload_named(dst, Path(fp.path), fp.filename)
            fp.target_id = uploaded
            record[fp.sha256] = uploaded
            _save_record(state_dir, record_all)
        ids = {fp.role: fp.target_id for fp in jp.files}
        body = dict(jp.body)
        body["training_file"] = ids.get("training_file")
        if "validation_file" in body:
            body["validation_file"] = ids.get("validation_file")
        method = body["method"]
        standard = {"model", "training_file", "validation_file", "method", "suffix", "seed"}
        extra = {k: v for k, v in body.items() if k not in standard | {"metadata"}} or None
        job = await dst.jobs.create(
            training_file=str(body["training_file"]),
            model=str(body["model"]),
            validation_file=body.get("validation_file"),
            suffix=body.get("suffix"),
            seed=body.get("seed"),
            method=method,
            metadata=body.get("metadata"),
            extra=extra,
        )
        created = raw(job)
        jp.target_job = dict(created) if isinstance(created, Mapping) else {"id": job.id}
        jp.status = "created"
    return plans


async def _upload_named(dst: Client, path: Path, filename: str | None) -> str:
    """Upload under the source's file name (a download lands under the file's id)."""
    if filename and path.name != filename:
        with tempfile.TemporaryDirectory() as tmp:
            named = Path(tmp) / filename
            try:
                os.link(path, named)
            except OSError:
                import shutil

                shutil.copyfile(path, named)
            return (await dst.files.upload(named)).id
    return (await dst.files.upload(path)).id


def parse_since(text: str) -> datetime:
    """`--since 2026-01-31` (a date, UTC) or an ISO timestamp."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise MigrationError(f"--since {text!r}: expected a date like 2026-01-31") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
