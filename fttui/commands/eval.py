"""`fttui eval MODEL --file valid.jsonl [--against BASE]`: score a model in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fttui.commands._backend import backend, call, other_profile
from fttui.commands._output import ExitCode, JsonFlag, console, err_console, fail, print_json

if TYPE_CHECKING:
    from fttui.api import Client

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    root.command("eval", rich_help_panel="Models")(eval_command)


def eval_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="the model to evaluate (e.g. a fine-tuned model)")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="validation JSONL (prompt/completion, chat, preference or reinforcement)",
        ),
    ] = None,
    grader: Annotated[
        Path | None,
        typer.Option(
            help="a reinforcement file's grader: a JSON file with OpenAI's grader object "
            "(scored through the backend's graders/run)"
        ),
    ] = None,
    against: Annotated[
        str | None, typer.Option(help="also evaluate this model (e.g. the base) side by side")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(help="classification or generation (default: guessed from the file)"),
    ] = None,
    positive: Annotated[
        str | None, typer.Option(help="binary classification: the positive class (AUROC/AUPRC)")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="requests at once")] = 8,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="answer length limit (default: from the references)")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="also write the report: .json or .csv")
    ] = None,
    last: Annotated[
        bool, typer.Option("--last", help="show the last stored evaluation of MODEL, run nothing")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask before a paid run")] = False,
    against_profile: Annotated[
        str | None,
        typer.Option(
            help="ask --against on this profile's backend (e.g. openai: the model replaced)"
        ),
    ] = None,
    against_base_url: Annotated[
        str | None, typer.Option(help="ask --against on this base URL")
    ] = None,
    against_api_key: Annotated[
        str | None, typer.Option(help="the --against backend's API key")
    ] = None,
    record_against: Annotated[
        bool,
        typer.Option(
            "--record",
            help="keep --against's answers with MODEL, for when --against no longer answers",
        ),
    ] = False,
    use_recorded: Annotated[
        bool,
        typer.Option("--recorded", help="score --against's recorded answers instead of asking it"),
    ] = False,
    price_in: Annotated[
        float | None, typer.Option(help="USD per 1M input tokens (OpenAI cost estimate)")
    ] = None,
    price_out: Annotated[
        float | None, typer.Option(help="USD per 1M output tokens (OpenAI cost estimate)")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Evaluate a model on a validation file, optionally side by side with another.

    Classification files: accuracy, weighted F1, per-class precision/recall, a
    confusion matrix and, for two classes, AUROC/AUPRC from the first token's
    logprobs. Generation and chat files: exact match, token F1, answer lengths and
    the worst answers. Preference files: the share of pairs where the model finds the
    preferred answer more likely. Reinforcement files (with --grader): the mean reward
    of the answers, each scored by the grader. Results are kept per model and shown again with
    --last. Against OpenAI the cost is estimated and confirmed first.

    Example: [bold]fttui eval ft:my-model --file valid.jsonl --against SmolLM2-135M-Instruct[/]
    """
    import fttui.evaluate as ev

    profile = backend(ctx).resolve()
    if last:
        runs = ev.history(profile.base_url, model)
        if not runs:
            fail(f"no stored evaluation of {model!r} on {profile.label}", ExitCode.NOT_FOUND)
        _show(runs[-1]["report"], json_out)
        return
    if file is None:
        fail("--file is required (the validation JSONL to evaluate on), or --last")
    if task not in (None, "classification", "generation"):
        fail(f"--task must be classification or generation, got {task!r}")
    grader_obj = None
    if grader is not None:
        try:
            grader_obj = json.loads(grader.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            fail(f"--grader {grader}: not a readable JSON file ({exc})")
        if not isinstance(grader_obj, dict):
            fail(f"--grader {grader}: must hold a JSON object (OpenAI's grader)")
    try:
        data = ev.read(file, task, grader=grader_obj)  # type: ignore[arg-type]
    except ev.EvalFileError as exc:
        fail(str(exc))
    if (against_profile or against_base_url or record_against or use_recorded) and not against:
        fail("--against-profile, --against-base-url, --record and --recorded go with --against")
    if against_profile and against_base_url:
        fail("give --against-profile or --against-base-url, not both")
    if record_against and use_recorded:
        fail("--record asks --against and keeps its answers; --recorded uses them: not both")
    other = (
        other_profile("--against-profile", against_profile, against_api_key)
        if against_profile
        else other_profile("--against-base-url", against_base_url, against_api_key)
        if against_base_url
        else None
    )
    digest = _digest(file) if (record_against or use_recorded) else ""
    kept = None
    if use_recorded:
        assert against is not None
        kept = ev.recorded(profile.base_url, model, against, digest)
        if kept is None:
            fail(
                f"no recorded answers of {against!r} for {model!r} on this file: run once "
                "with --record while it answers",
                ExitCode.NOT_FOUND,
            )
    paid = [(m, p) for m, p in ((against, other or profile), (model, profile)) if m]
    models = [m for m, p in paid if p.kind == "openai" and not (m == against and kept)]
    if models:
        price = (price_in, price_out) if price_in is not None and price_out is not None else None
        cost, tokens_in, tokens_out = ev.estimate_cost(data, models, price)
        said = f"${cost:.4f}" if cost is not None else "unknown (give --price-in/--price-out)"
        err_console().print(
            f"Evaluating {len(data.items)} examples with {len(models)} model(s) on OpenAI: "
            f"about {tokens_in:,} input and at most {tokens_out:,} output tokens, cost {said}."
        )
        if not yes and not typer.confirm("Start?", default=False, err=True):
            fail("not started", ExitCode.INTERRUPTED)

    def progress(done: int, total: int) -> None:
        if not json_out:
            err_console().print(f"\r{done}/{total}", end="")

    async def go(client: Client) -> dict[str, Any]:
        from contextlib import AsyncExitStack

        from fttui.api import Client as ApiClient

        async with AsyncExitStack() as stack:
            second = None
            if other is not None and kept is None:
                second = await stack.enter_async_context(
                    ApiClient.from_profile(other, max_retries=6, timeout=600.0)
                )
            return await ev.compare(
                client,
                model,
                data,
                against=against,
                concurrency=concurrency,
                max_tokens=max_tokens,
                positive=positive,
                progress=progress,
                against_client=second,
                against_recorded=kept,
            )

    report = call(ctx, go, max_retries=6, timeout=600.0)
    if against:
        if kept is None:
            report["runs"][0]["backend"] = (other or profile).base_url
        report["runs"][-1]["backend"] = profile.base_url
        if record_against:
            ev.record(profile.base_url, model, against, digest, report["runs"][0])
    if not json_out:
        err_console().print()
    ev.save(profile.base_url, {"model": model, "against": against, "report": report})
    if output is not None:
        try:
            ev.export(report, output)
        except OSError as exc:
            fail(f"--output {output}: cannot be written ({exc})")
    _show(report, json_out)


def _digest(path: Path) -> str:
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        fail(f"--file {path}: {exc.strerror or exc}")


def _show(report: dict[str, Any], json_out: bool) -> None:
    import fttui.evaluate as ev

    if json_out:
        print_json(report)
        return
    for part in ev.render(report):
        console().print(part)
