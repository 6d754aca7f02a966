"""`fttui jobs ...`: fine-tuning jobs (the legacy guide's `fine_tunes.*` commands)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fttui.commands._backend import call
from fttui.commands._output import (
    ExitCode,
    JsonFlag,
    cell,
    fail,
    line,
    print_json,
    table,
    timestamp,
)

if TYPE_CHECKING:
    from fttui.api import Client, FineTuningJob, JobEvent

__all__ = ["register"]

app = typer.Typer(help="Create, follow and manage fine-tuning jobs.", no_args_is_help=True)

_STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "paused": "magenta",
}
_FINAL_CODES = {
    "succeeded": ExitCode.OK,
    "failed": ExitCode.JOB_FAILED,
    "cancelled": ExitCode.JOB_CANCELLED,
}

JobId = Annotated[str, typer.Argument(help="the job's id, e.g. ftjob-abc123")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="jobs", rich_help_panel="Fine-tuning")


def _status(status: str) -> object:
    return cell(status, _STATUS_STYLE.get(status, ""))


def _job_rows(job: FineTuningJob) -> list[tuple[str, object]]:
    method = job.method or {}
    mtype = method.get("type") if isinstance(method, dict) else None
    # Wherever the backend put them: top level, or method.<type> (DPO, reinforcement).
    values = {k: v for k, v in job.method_hyperparameters.model_dump().items() if v is not None}
    rows: list[tuple[str, object]] = [
        ("id", job.id),
        ("status", _status(job.status)),
        ("model", job.model),
        ("fine_tuned_model", job.fine_tuned_model or ""),
        ("method", mtype or "supervised"),
        ("created_at", timestamp(job.created_at)),
        ("finished_at", timestamp(job.finished_at)),
        ("training_file", job.training_file or ""),
        ("validation_file", job.validation_file or ""),
        *((name, value) for name, value in values.items()),
        ("trained_tokens", job.trained_tokens),
        ("result_files", ", ".join(job.result_files)),
    ]
    if job.suffix:
        rows.append(("suffix", job.suffix))
    if job.seed is not None:
        rows.append(("seed", job.seed))
    if job.error is not None and (job.error.message or job.error.code):
        rows.append(("error", cell(f"{job.error.code or ''}: {job.error.message or ''}", "red")))
    return rows


# -- list, get ----------------------------------------------------------------------


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
def get_job(ctx: typer.Context, job_id: JobId, json_out: JsonFlag = False) -> None:
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


# -- actions ------------------------------------------------------------------------


def _action(ctx: typer.Context, job_id: str, name: str, json_out: bool) -> None:
    from fttui.api import raw

    async def go(client: Client) -> None:
        job = await getattr(client.jobs, name)(job_id)
        if json_out:
            print_json(raw(job))
        else:
            line(job.id, ": ", _status(job.status))

    call(ctx, go)


@app.command("cancel")
def cancel(ctx: typer.Context, job_id: JobId, json_out: JsonFlag = False) -> None:
    """Cancel a job that has not ended (legacy: fine_tunes.cancel).

    Example: [bold]fttui jobs cancel ftjob-abc123[/]
    """
    _action(ctx, job_id, "cancel", json_out)


@app.command("pause")
def pause(ctx: typer.Context, job_id: JobId, json_out: JsonFlag = False) -> None:
    """Pause a running job (it keeps its progress; `fttui jobs resume` goes on).

    Example: [bold]fttui jobs pause ftjob-abc123[/]
    """
    _action(ctx, job_id, "pause", json_out)


@app.command("resume")
def resume(ctx: typer.Context, job_id: JobId, json_out: JsonFlag = False) -> None:
    """Resume a paused job.

    Example: [bold]fttui jobs resume ftjob-abc123[/]
    """
    _action(ctx, job_id, "resume", json_out)


# -- events and follow -------------------------------------------------------------


def _event_text(event: JobEvent) -> Any:
    from rich.text import Text

    from fttui.core.safe_text import safe_text

    level = event.level if event.level in ("warn", "warning", "error") else ""
    out = Text()  # a style per part: a Text's own style would cover the whole line
    out.append(f"[{timestamp(event.created_at)}] ", style="dim")
    out.append(
        safe_text(event.message), style={"error": "red"}.get(level, "yellow" if level else "")
    )
    return out


def _loss_text(event: JobEvent) -> str | None:
    """`step 12/40 · train loss 1.2345 · valid loss 1.3012 · token accuracy 0.61`."""
    m = event.metrics
    if m is None or m.step is None:
        return None
    parts = [f"step {m.step}" + (f"/{m.total_steps}" if m.total_steps else "")]
    for label, value in (
        ("train loss", m.train_loss),
        ("valid loss", m.valid_loss),
        ("full valid loss", m.full_valid_loss),
        ("token accuracy", m.train_token_accuracy),
        ("valid token accuracy", m.valid_token_accuracy),
    ):
        if isinstance(value, int | float):
            parts.append(f"{label} {value:.4f}")
    return " · ".join(parts)


async def follow_job(
    client: Client, job_id: str, *, json_out: bool, poll_interval: float = 1.0
) -> ExitCode:
    """Print each event of the job once, oldest first, until it ends; its exit code.

    `fttui.api`'s `Jobs.follow` waits out dropped connections and 5xx answers and
    never yields an event twice. On a terminal, metrics events update one live loss
    line under the event lines; elsewhere (a pipe, a CI log) they are lines too.
    `json_out`: one compact JSON event per line, exactly as the backend sent it.
    """
    from rich.live import Live
    from rich.text import Text

    from fttui.api import raw
    from fttui.commands._output import console
    from fttui.core.safe_text import safe_json, safe_text

    out = console()
    live_line = not json_out and out.is_terminal
    live = Live(Text(""), console=out, transient=True, auto_refresh=False) if live_line else None
    if live is not None:
        live.start()
    try:
        async for event in client.jobs.follow(job_id, poll_interval=poll_interval):
            if json_out:
                print(safe_json(raw(event)), flush=True)
                continue
            loss = _loss_text(event) if event.type == "metrics" else None
            if loss is not None and live is not None:
                live.update(Text(safe_text(loss), style="cyan"), refresh=True)
            elif loss is not None:
                text = Text()
                text.append(f"[{timestamp(event.created_at)}] ", style="dim")
                text.append(safe_text(loss))
                out.print(text)
            else:
                out.print(_event_text(event))
    finally:
        if live is not None:
            live.stop()
    job = await client.jobs.retrieve(job_id)
    code = _FINAL_CODES.get(job.status, ExitCode.FAILURE)
    if json_out:
        return code
    if job.status == "succeeded":
        line(Text("job succeeded", style="green"), f": {job.id}")
        if job.fine_tuned_model:
            line("fine-tuned model: ", job.fine_tuned_model)
            line("try it: ", f"fttui try {job.fine_tuned_model} PROMPT")
        if job.result_files:
            line("results: ", f"fttui jobs results {job.id} -o results.csv")
    elif job.status == "failed":
        reason = (
            job.error.message if job.error is not None and job.error.message else "no reason given"
        )
        line(Text("job failed", style="red"), f": {job.id}: {reason}", stderr=True)
    else:
        line(Text(f"job {job.status}", style="yellow"), f": {job.id}", stderr=True)
    return code


@app.command("events")
def events(
    ctx: typer.Context,
    job_id: JobId,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="only the newest N events (one page); default: all of them"),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """List a job's events, oldest first (legacy: fine_tunes.events).

    --json prints a list object of the events as the backend sent them.

    Example: [bold]fttui jobs events ftjob-abc123 --limit 20[/]
    """
    from fttui.api import raw

    async def go(client: Client) -> None:
        items: list[JobEvent] = []
        after: str | None = None
        while True:
            page = await client.jobs.events(job_id, after=after, limit=limit or 100)
            items += page.data
            if limit or not page.has_more or not page.data or page.last_id == after:
                break
            after = page.last_id
        items.reverse()
        if json_out:
            print_json({"object": "list", "data": [raw(e) for e in items]})
            return
        for event in items:
            loss = _loss_text(event) if event.type == "metrics" else None
            if loss is not None:
                line(cell(f"[{timestamp(event.created_at)}] ", "dim"), loss)
            else:
                from fttui.commands._output import console

                console().print(_event_text(event))

    call(ctx, go)


@app.command("follow")
def follow(
    ctx: typer.Context,
    job_id: JobId,
    poll_interval: Annotated[float, typer.Option(min=0.1, help="seconds between polls")] = 1.0,
    json_out: Annotated[
        bool, typer.Option("--json", help="one JSON event per line, as the backend sent it")
    ] = False,
) -> None:
    """Stream a job's events until it ends (legacy: fine_tunes.follow).

    Survives dropped connections and a restarting server without printing an event
    twice. Exit code: 0 succeeded, 5 failed, 6 cancelled; Ctrl-C stops following
    (the job goes on).

    Example: [bold]fttui jobs follow ftjob-abc123[/]
    """

    async def go(client: Client) -> ExitCode:
        return await follow_job(client, job_id, json_out=json_out, poll_interval=poll_interval)

    _follow_exit(job_id, lambda: call(ctx, go))


def _interrupted(job_id: str) -> ExitCode:
    fail(
        f"stopped following {job_id}; the job goes on (fttui jobs follow {job_id})",
        ExitCode.INTERRUPTED,
    )


def _follow_exit(job_id: str, run: Any) -> None:
    try:
        code = run()
    except KeyboardInterrupt:
        code = _interrupted(job_id)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


# -- results and checkpoints ----------------------------------------------------------


def _decode_result(data: bytes) -> bytes:
    """The CSV in a result file: OpenAI serves it base64-encoded, the local server plain."""
    import base64
    import binascii

    stripped = data.strip()
    if not stripped or stripped[:1] in (b"s", b"\xef") or b"," in stripped[:200]:
        return data
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        return data
    return decoded if decoded.lstrip().startswith(b"step") else data


def _legacy_columns(data: bytes) -> bytes:
    """The results CSV with the legacy guide's columns only, in the file's order.

    Today's API's columns (`train_loss`, ...) that the local server writes first are
    dropped where their legacy column (`training_loss`, ...) is in the file too, and
    renamed to it where not (OpenAI's file): a `/v1/fine_tuning/jobs` job's file
    becomes the file the legacy guide describes.
    """
    import csv
    import io

    from fttui.core.results_columns import OPENAI_COLUMNS

    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    if not rows:
        return data
    header = rows[0]
    legacy_of = dict(OPENAI_COLUMNS)
    keep: list[int] = []
    names: list[str] = []
    for index, name in enumerate(header):
        legacy = legacy_of.get(name)
        if legacy is not None and legacy in header:
            continue
        keep.append(index)
        names.append(legacy or name)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in rows[1:]:
        writer.writerow([row[i] if i < len(row) else "" for i in keep])
    return out.getvalue().encode()


@app.command("results")
def results(
    ctx: typer.Context,
    job_id: JobId,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="write the CSV here (default: stdout)"),
    ] = None,
    legacy: Annotated[
        bool,
        typer.Option(
            "--legacy",
            help="only the legacy guide's columns (step, elapsed_tokens, elapsed_examples, "
            "training_loss, ...), in its names",
        ),
    ] = False,
) -> None:
    """The job's results CSV, one row per step (legacy: fine_tunes.results).

    Written as the backend has it: the local server's file starts with today's
    columns (train_loss, train_accuracy, ...) followed by the legacy guide's
    (training_loss, training_sequence_accuracy, ...); --legacy keeps only the
    latter, the legacy guide's file. OpenAI's result file (base64 on the wire)
    is written decoded.

    Example: [bold]fttui jobs results ftjob-abc123 -o results.csv[/]
    """
    import sys
    import tempfile

    async def go(client: Client) -> None:
        job = await client.jobs.retrieve(job_id)
        if not job.result_files:
            fail(f"job {job_id} has no result file (status {job.status})", ExitCode.NOT_FOUND)
        with tempfile.TemporaryDirectory(prefix="fttui-results-") as tmp:
            path = await client.files.download(job.result_files[0], Path(tmp) / "results.csv")
            data = _decode_result(path.read_bytes())
        if legacy:
            data = _legacy_columns(data)
        if output is not None:
            try:
                output.write_bytes(data)
            except OSError as exc:
                fail(f"cannot write {output}: {exc.strerror or exc}")
            line("wrote ", str(output))
        elif sys.stdout.isatty():
            from fttui.core.safe_text import safe_text

            sys.stdout.write(safe_text(data.decode("utf-8", errors="replace"), multiline=True))
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()

    call(ctx, go, timeout=120.0)


@app.command("checkpoints")
def checkpoints(
    ctx: typer.Context,
    job_id: JobId,
    limit: Annotated[int, typer.Option(min=1, help="checkpoints to list")] = 10,
    json_out: JsonFlag = False,
) -> None:
    """List a job's checkpoints, newest first.

    Example: [bold]fttui jobs checkpoints ftjob-abc123[/]
    """
    from fttui.api import raw

    def num(value: float | None) -> str:
        return "" if value is None else f"{value:.4f}"

    async def go(client: Client) -> None:
        page = await client.jobs.checkpoints(job_id, limit=limit)
        if json_out:
            print_json(raw(page))
            return
        table(
            ("step", "checkpoint model", "train loss", "valid loss", "created"),
            (
                (
                    c.step_number,
                    c.fine_tuned_model_checkpoint,
                    num(c.metrics.train_loss),
                    num(c.metrics.valid_loss),
                    timestamp(c.created_at),
                )
                for c in page.data
            ),
        )

    call(ctx, go)


# -- create -------------------------------------------------------------------------


class Method(StrEnum):
    supervised = "supervised"
    dpo = "dpo"
    reinforcement = "reinforcement"


def _hyper(name: str, value: str | None) -> int | float | str | None:
    """A hyperparameter flag's value: a number or `auto`; bad input names the flag."""
    from fttui.core.job_spec import RANGES, check_hyperparameter

    if value is None:
        return None
    if value == "auto":
        return "auto"
    kind = RANGES[name].kind if name in RANGES else float
    try:
        number: int | float = int(value) if kind is int else float(value)
    except ValueError:
        fail(f"--{name} {value!r}: expected {'an integer' if kind is int else 'a number'} or auto")
    problem = check_hyperparameter(name, number) if name in RANGES else None
    if problem:
        fail(f"--{name}: {problem}")
    return number


def _is_local_path(value: str) -> bool:
    """A path on this machine (checked and uploaded) rather than a file id on the backend."""
    return Path(value).exists() or "/" in value or value.endswith((".jsonl", ".json", ".csv"))


_LOCAL_ONLY = (
    "compute_classification_metrics",
    "classification_n_classes",
    "classification_positive_class",
    "classification_betas",
)


@app.command("create")
def create(
    ctx: typer.Context,
    training_file: Annotated[
        str,
        typer.Option(
            "-t", "--training_file", "--training-file", help="training JSONL: a path or a file id"
        ),
    ],
    model: Annotated[
        str,
        typer.Option("-m", "--model", help="base model or fine-tuned model to continue from"),
    ],
    validation_file: Annotated[
        str | None,
        typer.Option(
            "-v", "--validation_file", "--validation-file", help="validation JSONL: path or file id"
        ),
    ] = None,
    n_epochs: Annotated[
        str | None, typer.Option("--n_epochs", "--n-epochs", help="epochs, or auto")
    ] = None,
    batch_size: Annotated[
        str | None, typer.Option("--batch_size", "--batch-size", help="batch size, or auto")
    ] = None,
    learning_rate_multiplier: Annotated[
        str | None,
        typer.Option(
            "--learning_rate_multiplier",
            "--learning-rate-multiplier",
            help="multiplier of the pretraining learning rate, or auto",
        ),
    ] = None,
    prompt_loss_weight: Annotated[
        float | None,
        typer.Option(
            "--prompt_loss_weight",
            "--prompt-loss-weight",
            min=0.0,
            help="weight of the prompt tokens' loss (legacy; not on OpenAI today)",
        ),
    ] = None,
    compute_classification_metrics: Annotated[
        bool,
        typer.Option(
            "--compute_classification_metrics",
            "--compute-classification-metrics",
            help="classification metrics on the validation file every epoch (local server)",
        ),
    ] = False,
    classification_n_classes: Annotated[
        int | None,
        typer.Option(
            "--classification_n_classes", "--classification-n-classes", min=2, help="classes"
        ),
    ] = None,
    classification_positive_class: Annotated[
        str | None,
        typer.Option(
            "--classification_positive_class",
            "--classification-positive-class",
            help="the positive class (binary classification)",
        ),
    ] = None,
    classification_betas: Annotated[
        list[str] | None,
        typer.Option(
            "--classification_betas",
            "--classification-betas",
            help="F-beta betas: repeat the flag or separate with commas (0.5,1,2)",
        ),
    ] = None,
    suffix: Annotated[
        str | None, typer.Option(help="up to 40 characters added to the model's name")
    ] = None,
    method: Annotated[
        Method | None, typer.Option(help="fine-tuning method (default supervised)")
    ] = None,
    beta: Annotated[str | None, typer.Option(help="DPO's beta, or auto")] = None,
    grader: Annotated[
        Path | None, typer.Option(help="JSON file with the grader object (reinforcement)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="seed for reproducible training")] = None,
    metadata: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE (repeatable): the job's metadata")
    ] = None,
    integration: Annotated[
        list[str] | None,
        typer.Option(help="wandb:PROJECT (repeatable): report the run to Weights & Biases"),
    ] = None,
    check: Annotated[bool, typer.Option(help="check local files first (as fttui prepare)")] = True,
    follow_job_: Annotated[
        bool, typer.Option("--follow", help="stream the job's events until it ends")
    ] = False,
    json_out: JsonFlag = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "-q", "--quiet", help="print only the job's id: JOB=$(fttui jobs create -q ...)"
        ),
    ] = False,
) -> None:
    """Check, upload and start a fine-tuning job (legacy: fine_tunes.create).

    -t and -v take local paths (checked as by [bold]fttui prepare[/]: errors stop
    here, warnings are printed; then uploaded) or ids of files already uploaded.
    The legacy guide's flags keep their spelling (--n_epochs, ...); today's API's
    --method, --beta, --grader, --seed, --metadata and --integration are there too.
    With --follow, the exit code is the job's: 0 succeeded, 5 failed, 6 cancelled.

    Example: [bold]fttui jobs create -t train.jsonl -v valid.jsonl -m davinci-002 --n_epochs 2 --suffix demo --follow[/]
    """
    from fttui.commands._backend import backend, parse_pairs

    # Everything that can be wrong with the flags is said before a byte is uploaded.
    profile = backend(ctx).resolve()
    hp: dict[str, Any] = {
        name: value
        for name, value in (
            ("n_epochs", _hyper("n_epochs", n_epochs)),
            ("batch_size", _hyper("batch_size", batch_size)),
            (
                "learning_rate_multiplier",
                _hyper("learning_rate_multiplier", learning_rate_multiplier),
            ),
        )
        if value is not None
    }
    mtype = method.value if method is not None else None
    if beta is not None:
        mtype = mtype or "dpo"
        if mtype != "dpo":
            fail(f"--beta is a DPO hyperparameter; this is a {mtype} job (--method dpo)")
        hp["beta"] = _hyper("beta", beta)
    grader_obj: Any = None
    if grader is not None:
        mtype = mtype or "reinforcement"
        if mtype != "reinforcement":
            fail(f"--grader is for reinforcement jobs; this is a {mtype} job")
        grader_obj = _read_grader(grader)
    elif mtype == "reinforcement":
        fail("a reinforcement job needs --grader FILE (a JSON grader object)")

    extra: dict[str, Any] = {}
    if compute_classification_metrics:
        extra["compute_classification_metrics"] = True
    if classification_n_classes is not None:
        extra["classification_n_classes"] = classification_n_classes
    if classification_positive_class is not None:
        extra["classification_positive_class"] = classification_positive_class
    if classification_betas:
        extra["classification_betas"] = _betas(classification_betas)
    if prompt_loss_weight is not None:
        extra["prompt_loss_weight"] = prompt_loss_weight
    if extra and mtype not in (None, "supervised"):
        fail(f"--{next(iter(extra))} applies to supervised jobs only, not to {mtype}")
    if compute_classification_metrics and validation_file is None:
        fail(
            "--compute_classification_metrics needs a validation file (-v): metrics are computed on it"
        )

    body_metadata = parse_pairs(metadata or [], "--metadata") or None
    integrations = [_integration(value) for value in integration or []]
    if integrations:
        extra["integrations"] = integrations

    # The body as the flags say it, checked by the job contract every part of fttui
    # shares (fttui.core.job_spec: ranges, classification rules, grader, seed, metadata,
    # suffix) before a byte is uploaded; sent as the contract writes it.
    from fttui.core.job_spec import JobSpec, JobSpecError

    asked: dict[str, Any] = {
        "training_file": training_file,
        "validation_file": validation_file,
        "model": model,
        "suffix": suffix,
        "seed": seed,
        "metadata": body_metadata,
        **extra,
    }
    if mtype is None:
        asked["hyperparameters"] = hp
    else:
        inner: dict[str, Any] = {"hyperparameters": hp}
        if grader_obj is not None:
            inner["grader"] = grader_obj
        asked["method"] = {"type": mtype, mtype: inner}
    try:
        spec = JobSpec.from_request({k: v for k, v in asked.items() if v is not None})
    except JobSpecError as exc:
        flag = exc.param.rsplit(".", 1)[-1]
        fail(f"--{flag}: {exc.message}" if flag != "body" else exc.message)

    # Local files: the data check, then the uploads.
    local = {
        role: Path(value)
        for role, value in (("training", training_file), ("validation", validation_file))
        if value is not None and _is_local_path(value)
    }
    for role, path in local.items():
        if not path.is_file():
            fail(f"{role} file {path}: no such file")

    created: list[str] = []

    async def go(client: Client) -> ExitCode:
        from fttui.api import raw
        from fttui.commands._progress import transfer_progress

        kind = await client.detect()  # fttui's own server, or OpenAI / another
        for name in (*_LOCAL_ONLY, "prompt_loss_weight"):
            if name not in extra:
                continue
            # OpenAI has none of them; another compatible server may have prompt_loss_weight.
            if kind != "local" and (name in _LOCAL_ONLY or kind == "openai"):
                fail(
                    f"--{name} is not supported by this backend ({client.label}): only "
                    "fttui's local server implements it, as the legacy fine-tunes API did"
                )
        if local.get("training") and check:
            _check_data(
                local["training"],
                local.get("validation"),
                model=model,
                method=mtype,
                n_epochs=hp.get("n_epochs"),
                data_dir=str(profile.data_dir) if profile.data_dir else None,
            )

        ids = {"training": training_file, "validation": validation_file}
        for role, path in local.items():
            with transfer_progress(f"uploading {path.name}", path.stat().st_size) as progress:
                uploaded = await client.files.upload(path, on_progress=progress)
            ids[role] = uploaded.id
            line(f"uploaded {role} file ", path.name, ": ", uploaded.id, stderr=True)
        train_id = ids["training"]
        assert train_id is not None
        job = await client.jobs.submit(
            spec.model_copy(
                update={"training_file": train_id, "validation_file": ids["validation"]}
            )
        )
        created.append(job.id)
        if json_out:
            from fttui.core.safe_text import safe_json

            if follow_job_:
                print(safe_json(raw(job)), flush=True)
            else:
                print_json(raw(job))
        elif quiet:
            from fttui.core.safe_text import safe_text

            print(safe_text(job.id), flush=True)
        else:
            line("created job ", job.id, " (", _status(job.status), ")")
        if not follow_job_:
            if not json_out and not quiet:
                line("follow it: ", f"fttui jobs follow {job.id}")
            return ExitCode.OK
        return await follow_job(client, job.id, json_out=json_out)

    try:
        code = call(ctx, go, timeout=600.0)
    except KeyboardInterrupt:
        if not created:
            fail("interrupted before the job was created", ExitCode.INTERRUPTED)
        code = _interrupted(created[0])
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def _betas(values: list[str]) -> list[float]:
    out: list[float] = []
    for value in values:
        for part in value.split(","):
            try:
                beta = float(part)
            except ValueError:
                fail(f"--classification_betas {part!r}: expected positive numbers")
            if beta <= 0:
                fail(f"--classification_betas {part!r}: expected positive numbers")
            out.append(beta)
    return out


def _integration(value: str) -> dict[str, Any]:
    kind, sep, project = value.partition(":")
    if kind != "wandb" or not sep or not project:
        fail(f"--integration {value!r}: expected wandb:PROJECT")
    return {"type": "wandb", "wandb": {"project": project}}


def _read_grader(path: Path) -> Any:
    import json

    from fttui.core.graders import GraderError, parse_grader

    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"--grader {path}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(f"--grader {path}: not JSON ({exc})")
    try:
        parse_grader(obj)
    except GraderError as exc:
        fail(f"--grader {path}: {exc}")
    return obj


def _check_data(
    training: Path,
    validation: Path | None,
    *,
    model: str,
    method: str | None,
    n_epochs: Any,
    data_dir: str | None,
) -> None:
    """The data check of `fttui prepare`: errors stop here, warnings are printed."""
    from fttui.commands._output import err_console
    from fttui.data.check import check_file
    from fttui.data.encodings import EncodingUnavailable

    try:
        report = check_file(
            training,
            validation=validation,
            model=model,
            n_epochs=n_epochs if isinstance(n_epochs, int) else 4,
            data_dir=data_dir,
            method=method if method in ("supervised", "dpo") else None,
        )
    except (OSError, EncodingUnavailable) as exc:
        fail(f"cannot check {training}: {exc}")
    if report.errors:
        err_console().print(report.to_rich())
        fail(
            f"the data check found {len(report.errors)} error(s) in {training.name}"
            + (f" or {validation.name}" if validation else "")
            + f"; nothing was uploaded (fttui prepare {training} --fix all may fix them)"
        )
    for issue in report.warnings:
        where = f" (lines {', '.join(map(str, issue.lines))})" if issue.lines else ""
        line(cell("warning: ", "yellow"), f"{issue.file}: {issue.message}{where}", stderr=True)
