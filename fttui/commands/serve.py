"""`fttui serve`: the local OpenAI-compatible fine-tuning server."""

from __future__ import annotations

import argparse
from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["register"]


class Runner(StrEnum):
    local = "local"
    ray = "ray"


def register(root: typer.Typer) -> None:
    @root.command(rich_help_panel="Server and data")
    def serve(
        host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port")] = 8765,
        data_dir: Annotated[
            str | None, typer.Option(help="data directory ($FTTUI_DATA_DIR)")
        ] = None,
        api_key: Annotated[
            str | None,
            typer.Option(help="required bearer key ($FTTUI_API_KEY); needed off loopback"),
        ] = None,
        max_file_bytes: Annotated[
            int | None, typer.Option(help="per-file limit (default 150 MB)")
        ] = None,
        quota_bytes: Annotated[
            int | None, typer.Option(help="total storage quota (default 1 GB)")
        ] = None,
        concurrency: Annotated[
            int | None, typer.Option(help="jobs trained at once (default 1 on CPU)")
        ] = None,
        keep_checkpoints: Annotated[
            int | None,
            typer.Option(
                help="epoch checkpoints kept per job, older ones deleted (default 3, as "
                "OpenAI; 0 keeps all; $FTTUI_KEEP_CHECKPOINTS)"
            ),
        ] = None,
        log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
        runner: Annotated[
            Runner | None,
            typer.Option(
                help="where jobs train: local processes (default) or a Ray cluster ($FTTUI_RUNNER)"
            ),
        ] = None,
        trainer_url: Annotated[
            str | None,
            typer.Option(
                help="the URL trainers reach this server at (default: the bind address; "
                "$FTTUI_TRAINER_URL)"
            ),
        ] = None,
        ray_address: Annotated[
            str | None,
            typer.Option(
                help="Ray's job submission address, e.g. http://HEAD:8265 ($FTTUI_RAY_ADDRESS)"
            ),
        ] = None,
        ray_workers: Annotated[
            int | None, typer.Option(help="training workers per job (default 1)")
        ] = None,
        ray_gpus_per_worker: Annotated[
            float | None, typer.Option(help="GPUs per worker (default 0: CPU training)")
        ] = None,
        ray_cpus_per_worker: Annotated[
            float | None, typer.Option(help="CPUs per worker (default 1)")
        ] = None,
        ray_grace_s: Annotated[
            float | None,
            typer.Option(
                help="seconds the Ray head may stay unreachable before its jobs fail "
                "(default 60; $FTTUI_RAY_GRACE_S)"
            ),
        ] = None,
        ray_max_failures: Annotated[
            int | None,
            typer.Option(
                help="with --ray-workers > 1: restarts of a job's workers from its latest "
                "checkpoint after a worker or node is lost (default 3; 0: fail at once; "
                "$FTTUI_RAY_MAX_FAILURES)"
            ),
        ] = None,
        ray_python: Annotated[
            str | None,
            typer.Option(
                help="the Python the Ray job runs on the node (default: this server's when "
                "the head is this machine, else `python` on the node's PATH; $FTTUI_RAY_PYTHON)"
            ),
        ] = None,
    ) -> int:
        """Run the local OpenAI-compatible fine-tuning server.

        Example: [bold]fttui serve --port 8765 --data-dir ~/fttui-data[/]
        """
        from fttui.server.main import serve as run_server

        args = argparse.Namespace(**locals())
        args.runner = runner.value if runner is not None else None
        return run_server(args)
