"""Models API: trainable base models (and their aliases) plus this server's fine-tuned models.

Plain `def` routes: they read models.json and the store, and a delete removes a
weights tree (hundreds of MB), all of which run in the threadpool, never on the loop.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from fttui.core.models import BaseModelSpec
from fttui.server.context import ServerContext, current_ctx
from fttui.server.errors import APIError, not_found
from fttui.server.serialize import model_object

router = APIRouter(prefix="/models")
Ctx = Annotated[ServerContext, Depends(current_ctx)]
BASE_OWNER = "fttui"


def _created(spec: BaseModelSpec) -> int:
    try:
        return int(Path(spec.source).stat().st_mtime)
    except OSError:
        return 0


def _base_models(ctx: ServerContext) -> list[dict[str, Any]]:
    out = []
    for spec in ctx.registry().values():
        created = _created(spec)
        out.append(model_object(spec.id, created, BASE_OWNER, fttui={"kind": "base"}))
        for alias in spec.aliases:
            out.append(
                model_object(alias, created, BASE_OWNER, alias_for=spec.id, fttui={"kind": "alias"})
            )
    return out


def _fine_tuned(row: dict[str, Any]) -> dict[str, Any]:
    return model_object(
        row["id"],
        row["created_at"],
        row["owned_by"],
        fttui={"kind": "fine-tuned", "base_model": row["base_model"], "job_id": row.get("job_id")},
    )


@router.get("")
def list_models(ctx: Ctx) -> dict[str, Any]:
    data = _base_models(ctx) + [_fine_tuned(r) for r in ctx.store.list_models()]
    return {"object": "list", "data": data}


@router.get("/{model_id:path}")
def retrieve_model(model_id: str, ctx: Ctx) -> dict[str, Any]:
    row = ctx.store.get_model(model_id)
    if row is not None:
        return _fine_tuned(row)
    for model in _base_models(ctx):
        if model["id"] == model_id:
            return model
    raise not_found("model", model_id, param="model")


@router.delete("/{model_id:path}")
def delete_model(model_id: str, ctx: Ctx) -> dict[str, Any]:
    row = ctx.store.get_model(model_id)
    if row is None:
        if any(m["id"] == model_id for m in _base_models(ctx)):
            raise APIError(
                403,
                f"{model_id} is a base model; only fine-tuned models can be deleted",
                param="model",
                code="model_not_deletable",
            )
        raise not_found("model", model_id, param="model")
    ctx.store.delete_model(model_id)
    weights = (ctx.store.data_dir / row["path"]).resolve()
    models_dir = ctx.store.models_dir.resolve()
    # Only ever remove weights inside our own models directory.
    if weights != models_dir and weights.is_relative_to(models_dir):
        if weights.is_dir():
            shutil.rmtree(weights, ignore_errors=True)
        else:
            weights.unlink(missing_ok=True)
    return {"id": model_id, "object": "model", "deleted": True}
