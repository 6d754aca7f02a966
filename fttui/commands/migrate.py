"""`fttui migrate`: run a backend's fine-tuning jobs again on another (OpenAI -> local)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from fttui.commands._backend import exit_code_for, other_profile, parse_pairs
from fttui.commands._output import CommandError, ExitCode, JsonFlag, cell, fail, line, print_json

if TYPE_CHECKING:
    from fttui.migrate import JobPlan

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    root.command("migrate", rich_help_panel="Fine-tuning")(migrate)


def _config_models() -> dict[str, str]:
    """The config file's `[migrate.models]` table: source model -> target model."""
    from fttui.config import config_path, load_config

    table = load_config(config_path()).get("migrate", {})
    models = table.get("models", {}) if isinstance(table, dict) else {}
    if not isinstance(models, dict) or not all(isinstance(v, str) for v in models.values()):
        raise CommandError(
            f"{config_path()}: [migrate.models] must map model names to model names",
            ExitCode.BAD_INPUT,
        )
    return dict(models)


def _show(plans: list[JobPlan], dry_run: bool) -> None:
    from rich.text import Text

    for jp in plans:
        target = (jp.target_job or {}).get("id", "")
        head = Text(f"{jp.status:8} ", style="bold")
        line(
            head,
            jp.source_id,
            f" ({jp.method}, {jp.source_status})",
            f" -> {target}" if target else "",
        )
        for fp in jp.files:
            where = fp.path or "-"
            state = fp.problem or (
                f"{fp.how}; {'on the target as ' + str(fp.target_id) if fp.target_id else 'to upload'}"
            )
            line("    ", f"{fp.role}: {fp.filename or fp.source_id} ({fp.bytes} bytes) ", where)
            line("      ", cell(state, "red" if fp.problem else ""))
        for note in jp.notes:
            line("    note: ", note)
        for problem in jp.problems:
            line("    ", cell(f"blocked: {problem}", "red"))
        est = jp.estimate
        if est.get("tokens_per_epoch"):
            seconds = est.get("seconds")
            when = f"~{seconds} s" if seconds else "time unknown"
            line(
                "    estimate: ",
                f"{est.get('tokens') or est['tokens_per_epoch']} tokens "
                f"({est.get('counted_with')}), {when} ({est.get('from')})",
            )
        if dry_run and jp.status == "planned":
            import json

            line("    body: ", json.dumps(jp.body, ensure_ascii=False))


def migrate(
    ctx: typer.Context,
    job_ids: Annotated[list[str] | None, typer.Argument(help="source job ids")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="every job of the source")] = False,
    since: Annotated[
        str | None, typer.Option(help="with --all: jobs created on or after this date (UTC)")
    ] = None,
    source: Annotated[
        str, typer.Option("--from", help="source: a profile name or a base URL")
    ] = "openai",
    target: Annotated[
        str, typer.Option("--to", help="target: a profile name or a base URL")
    ] = "local",
    from_api_key: Annotated[str | None, typer.Option(help="the source's API key")] = None,
    to_api_key: Annotated[str | None, typer.Option(help="the target's API key")] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", help="folder of your own copies of the training and validation files"
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="SRC_MODEL=DST_MODEL (repeatable; also [migrate.models])"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan; change nothing")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Run fine-tuning jobs of one backend again on another, data and settings carried.

    Reads each source job (method, resolved hyperparameters, grader, suffix, seed,
    metadata), finds its files (a download where the source allows it, else your own
    copy under --data, matched by name and exact size), uploads each once and creates
    the job on the target with the source job's id in its metadata; running it again
    creates nothing. See docs/migrate.md.

    Example: [bold]fttui migrate --all --from openai --to local --data ./data --dry-run[/]
    """
    import asyncio
    from pathlib import Path

    from fttui import migrate as mig
    from fttui.api import APIConnectionError, APIError, Client
    from fttui.paths import config_dir

    if not job_ids and not all_jobs:
        fail("name source job ids, or --all")
    if job_ids and all_jobs:
        fail("name job ids or --all, not both")
    if since and not all_jobs:
        fail("--since goes with --all")
    try:
        since_at = mig.parse_since(since) if since else None
    except mig.MigrationError as exc:
        fail(str(exc))
    models = {**_config_models(), **parse_pairs(model or [], "--model")}
    src_profile = other_profile("--from", source, from_api_key)
    dst_profile = other_profile("--to", target, to_api_key)
    state_dir = config_dir() / "migrate"

    async def go() -> list[mig.JobPlan]:
        target = dst_profile
        if target.kind != "local":
            # A base URL says nothing of what answers there: fttui's local server says so
            # at a route of its own, and then takes its own options (classification metrics).
            async with Client.from_profile(target, max_retries=2, retry_max_delay=2.0) as probe:
                if await probe.health() is not None:
                    from dataclasses import replace

                    target = replace(target, kind="local")
        async with (
            Client.from_profile(src_profile, max_retries=2, retry_max_delay=2.0) as src,
            Client.from_profile(target, max_retries=2, retry_max_delay=2.0) as dst,
        ):
            plans = await mig.plan(
                src,
                dst,
                job_ids=job_ids or (),
                all_jobs=all_jobs,
                since=since_at,
                data_dir=Path(data).expanduser() if data else None,
                models=models,
                state_dir=state_dir,
            )
            if not dry_run:
                await mig.run(plans, dst, state_dir=state_dir)
            return plans

    try:
        plans = asyncio.run(go())
    except mig.MigrationError as exc:
        fail(str(exc))
    except APIConnectionError as exc:
        raise CommandError(str(exc), ExitCode.UNREACHABLE) from exc
    except APIError as exc:
        raise CommandError(str(exc), exit_code_for(exc)) from exc
    if json_out:
        out: dict[str, Any] = {
            "source": src_profile.base_url,
            "target": dst_profile.base_url,
            "dry_run": dry_run,
            "jobs": [jp.as_dict() for jp in plans],
        }
        print_json(out)
    else:
        _show(plans, dry_run)
    if not dry_run and any(jp.status == "blocked" for jp in plans):
        raise typer.Exit(int(ExitCode.BAD_INPUT))
