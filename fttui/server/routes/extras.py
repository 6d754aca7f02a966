"""fttui's own endpoints, not in OpenAI's API: storage usage (the TUI's quota bar) and health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from fttui import __version__
from fttui.server.checkpoints import backfill_artifact_bytes
from fttui.server.context import ServerContext, current_ctx

router = APIRouter(prefix="/fttui")
Ctx = Annotated[ServerContext, Depends(current_ctx)]


@router.get("/usage")
def usage(ctx: Ctx) -> dict[str, Any]:
    """Uploaded files against the quota (`--quota-bytes`, which only they count against,
    as OpenAI's legacy fine-tuning guide has it), and beside them what fine-tuned models
    and checkpoints hold on this server's disk (bounded by checkpoint retention, not by
    the quota; docs/server.md)."""
    store = ctx.store
    backfill_artifact_bytes(store)
    models, checkpoints = store.artifact_bytes()
    # Per job (checkpoints and model, its weights counted once), largest first.
    jobs = sorted(store.disk_bytes_by_job().items(), key=lambda item: (-item[1], item[0]))
    return {
        "object": "usage",
        "used_bytes": store.total_bytes(),
        "limit_bytes": ctx.settings.quota_bytes,
        "max_file_bytes": ctx.settings.max_file_bytes,
        "files": store.file_count(),
        "models_bytes": models,
        "checkpoints_bytes": checkpoints,
        "jobs_on_disk": sum(1 for _, size in jobs if size > 0),
        "largest_jobs": [{"id": job, "bytes": size} for job, size in jobs[:3] if size > 0],
    }


@router.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get("/export/{model_id:path}")
def export_model(
    model_id: str,
    ctx: Ctx,
    # The schema names the choices (clients and the API fuzz test read it); the value is
    # still checked here, so a wrong one is OpenAI's 400 naming `format`.
    format: Annotated[str, Query(json_schema_extra={"enum": ["hf", "gguf"]})] = "hf",
) -> FileResponse:
    """A model as a tar of a directory transformers loads (fttui.server.export); a
    plain `def`, so the tar is written in the threadpool, never on the loop."""
    from fttui.server.engine_check import require_engine
    from fttui.server.export import build_tar, check_format

    check_format(format)
    require_engine(503, "export a model")
    path = build_tar(ctx.store, model_id, format)
    name = model_id.replace(":", "_").replace("/", "_")
    return FileResponse(
        path,
        media_type="application/x-tar",
        filename=f"{name}-{format}.tar",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
