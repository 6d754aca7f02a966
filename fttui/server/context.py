"""What every route needs: settings, the store, the scheduler and the model registry."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from fttui.core.models import BaseModelSpec, load_registry
from fttui.server.errors import APIError
from fttui.server.scheduler import Scheduler
from fttui.server.settings import Settings
from fttui.store.db import Store


@dataclass
class ServerContext:
    settings: Settings
    store: Store
    scheduler: Scheduler
    # Serialises the final quota check + rename + insert of uploads.
    upload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def registry(self) -> dict[str, BaseModelSpec]:
        """Re-read on each use so edits to models.json apply without a restart."""
        try:
            return load_registry(self.settings.data_dir)
        except ValueError as exc:
            raise APIError(500, f"models.json is invalid: {exc}", type="server_error") from None


def get_ctx(request: Request) -> ServerContext:
    ctx: Any = request.app.state.ctx
    assert isinstance(ctx, ServerContext)
    return ctx


async def current_ctx(request: Request) -> ServerContext:
    """`get_ctx` as a route dependency.

    `async` on purpose: FastAPI runs a plain `def` dependency in the threadpool, a
    thread hop per request for a lookup that never blocks.
    """
    return get_ctx(request)


async def json_body(request: Request) -> Any:
    """The request's JSON body, or a 400 saying it is not JSON (never a traceback)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        import json

        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise APIError(400, f"The request body is not valid JSON: {exc}", param="body") from None
