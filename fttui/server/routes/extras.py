"""fttui's own endpoints, not in OpenAI's API: storage usage (the TUI's quota bar) and health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from fttui import __version__
from fttui.server.context import ServerContext, current_ctx

router = APIRouter(prefix="/fttui")
Ctx = Annotated[ServerContext, Depends(current_ctx)]


@router.get("/usage")
def usage(ctx: Ctx) -> dict[str, Any]:
    store = ctx.store
    return {
        "object": "usage",
        "used_bytes": store.total_bytes(),
        "limit_bytes": ctx.settings.quota_bytes,
        "max_file_bytes": ctx.settings.max_file_bytes,
        "files": store.file_count(),
    }


@router.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}
