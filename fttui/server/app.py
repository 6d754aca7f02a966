"""`create_app(settings)`: the FastAPI application of the local server.

The scheduler runs inside the app's lifespan, so one `uvicorn` process is the whole
server; tests and `fttui serve` build it the same way.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fttui import __version__
from fttui.server import routes_inference, routes_responses
from fttui.server.auth import BearerAuth
from fttui.server.context import ServerContext
from fttui.server.errors import install_handlers
from fttui.server.limits import RequestLimits
from fttui.server.local_runner import LocalProcessRunner
from fttui.server.openapi_errors import ERROR_RESPONSES
from fttui.server.routes import extras, files, graders, jobs, legacy, models, trainer
from fttui.server.scheduler import Runner, Scheduler
from fttui.server.settings import Settings
from fttui.store.db import Store

log = logging.getLogger("fttui.server")


def clean_file_area(store: Store) -> None:
    """Remove what a crash can leave behind: partial uploads and bytes no row points to."""
    for leftover in store.tmp_dir.iterdir():
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
    known = {row["path"] for row in store.list_files()}
    for path in store.files_dir.iterdir():
        if path.is_file() and f"files/{path.name}" not in known:
            log.warning("removing %s: no file record points to it", path)
            path.unlink(missing_ok=True)


def make_runner(settings: Settings) -> Runner:
    """The runner `--runner` names; Ray is imported only for `--runner ray`."""
    if settings.runner == "ray":
        from fttui.server.ray_runner import RayRunner

        return RayRunner(settings)
    return LocalProcessRunner(
        settings.data_dir, settings.trainer_command, settings.server_url_for_trainers
    )


def create_app(settings: Settings, runner: Runner | None = None) -> FastAPI:
    store = Store(settings.data_dir)
    scheduler = Scheduler(
        store=store,
        runner=runner or make_runner(settings),
        concurrency=settings.concurrency,
        poll_interval=settings.poll_interval,
    )
    ctx = ServerContext(settings=settings, store=store, scheduler=scheduler)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        clean_file_area(store)
        scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
            store.close()

    app = FastAPI(
        title="fttui local fine-tuning server",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ctx = ctx
    install_handlers(app)
    # The inference routes (/v1/completions, /v1/chat/completions, and /v1/responses,
    # the Responses API's subset with the same engine) are always there; without the
    # training engine installed they answer 503 naming the fix.
    routers = (files, jobs, graders, models, legacy, extras, routes_inference, routes_responses)
    for module in routers:
        app.include_router(module.router, prefix="/v1", responses=ERROR_RESPONSES)
    # The internal trainer API: per-job tokens, outside /v1 and the OpenAPI schema.
    app.include_router(trainer.router)
    if settings.api_key:
        app.add_middleware(BearerAuth, api_key=settings.api_key, exempt_prefix=trainer.PREFIX)
    # Outermost: rate limit, body size and JSON depth apply before auth and routes.
    app.add_middleware(RequestLimits)
    return app
