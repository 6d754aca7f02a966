"""`fttui jobs ...`: fine-tuning jobs (the legacy guide's `fine_tunes.*` commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from fttui.commands._backend import call
from fttui.commands._output import JsonFlag, cell, line, print_json, table, timestamp

if TYPE_CHECKING:
    from fttui.api import Client, FineTuningJob

__all__ = ["register"]

app = typer.Typer(help="Create, follow and manage fine-tuning jobs.", no_args_is_help=True)

_STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "paused": "magenta",
}


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="jobs", rich_help_panel="Fine-tuning")


def _status(status: str) -> object:
    return cell(status, _STATUS_STYLE.get(status, ""))


def _job_rows(job: FineTuningJob) -> list[tuple[str, object]]:
    hp = job.method_hyperparameters
    rows: list[tuple[str, object]] = [
        ("id", job.id),
        ("status", _status(job.status)),
        ("model", job.model),
        ("fine_tuned_model", job.fine_tuned_model or ""),
        ("created_at", timestamp(job.created_at)),
        ("finished_at", timestamp(job.finished_at)),
        ("training_file", job.training_file or ""),
        ("validation_file", job.validation_file or ""),
        ("n_epochs", hp.n_epochs),
        ("batch_size", hp.batch_size),
        ("learning_rate_multiplier", hp.learning_rate_multiplier),
        ("trained_tokens", job.trained_tokens),
        ("result_files", ", ".join(job.result_files)),
    ]
    if job.suffix:
        rows.append(("suffix", job.suffix))
    if job.error is not None and (job.error.message or job.error.code):
        rows.append(("error", cell(f"{job.error.code or ''}: {job.error.message or ''}", "red")))
    return rows


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="jobs per page")] = 20,
    after: Annotated[str | None, typer.Option(help="list jobs after this job id")] = None,
    json_out: JsonFlag = False,
) -> None:
    """List fine-tuning jobs, newest first (legacy: fine_tunes.list).

    Example: [bold]fttui jobs list --limit 5[/]
    """
    from fttui.api import raw

    async def go(client: Client) -> None:
        page = await client.jobs.list(after=after, limit=limit)
        if json_out:
            print_json(raw(page))
            return
        table(
            ("id", "status", "model", "fine-tuned model", "created"),
            (
                (
                    j.id,
                    _status(j.status),
                    j.model,
                    j.fine_tuned_model or "",
                    timestamp(j.created_at),
                )
                for j in page.data
            ),
        )
        if page.has_more and page.last_id:
            line("more: ", f"fttui jobs list --after {page.last_id}")

    call(ctx, go)


@app.command("get")
def get_job(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="the job's id, e.g. ftjob-abc123")],
    json_out: JsonFlag = False,
) -> None:
    """Show one job (legacy: fine_tunes.get).

    Example: [bold]fttui jobs get ftjob-abc123 --json[/]
    """
    from fttui.api import raw

    async def go(client: Client) -> None:
        job = await client.jobs.retrieve(job_id)
        if json_out:
            print_json(raw(job))
        else:
            table(("field", "value"), _job_rows(job))

    call(ctx, go)
