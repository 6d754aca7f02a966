"""The planned run, trained: the engine's loop driven and told about, start to model.

Supervised, DPO and reinforcement steps alike run in `fttui.train.engine.train` (the
latter two as its `objective`); the loop there keeps the schedule, cancel and pause
between steps, data-parallel ranks and the epoch-end checkpoints, calling `out`
(`RunReports`) after each step. Around it, here: what rank 0 reports before the first
step (the resolved hyperparameters and where the job runs, the results file, the
classification metrics of the untrained model, the training-started event) and after
the last (the finished event, the saved model). A stop the engine saw ends in
`Stopped`, which `JobRun` turns into `paused` or `cancelled`.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any

from fttui.core.checkpoint_files import RESULTS_FILE
from fttui.train.job._control import Control, Stopped
from fttui.train.job._plan import JobPlan
from fttui.train.job._reports import RunReports
from fttui.train.plan import model_to_save
from fttui.train.results import ResultsCsv

if TYPE_CHECKING:
    from fttui.train.engine import Outcome, Ranks


def train_planned(
    p: JobPlan,
    out: RunReports,
    control: Control,
    ranks: Ranks | None,
    runtime: dict[str, Any],
) -> None:
    """Train as `p` says, on every rank; rank 0 reports it all and saves the model."""
    from fttui.train.engine import train

    main = ranks is None or ranks.main
    if main:  # the other ranks: the same run, nothing reported
        _before_first_step(p, out, ranks, runtime)
    control.check()
    out.started = time.monotonic()
    model, outcome = train(
        p.model,
        p.train_ex,
        p.valid_ex,
        p.config,
        out,
        p.device,
        ranks,
        resume=p.resume,
        objective=p.objective,
    )
    out.model = model
    out.outcome = outcome
    if outcome.stopped:
        raise Stopped
    if main:
        _after_last_step(p, out, model, outcome)


def _before_first_step(
    p: JobPlan, out: RunReports, ranks: Ranks | None, runtime: dict[str, Any]
) -> None:
    """The resolved hyperparameters and where the job runs, the results file (carried
    on from the checkpoint's when resuming), the untrained model's classification
    metrics, and the training-started event."""
    from fttui.train.engine import evaluate

    config, model, resume, objective = p.config, p.model, p.resume, p.objective
    train_ex, valid_ex = p.train_ex, p.valid_ex
    assert out.reports is not None
    workers = ranks.world_size if ranks else 1
    described = {
        **runtime,
        "workers": workers,
        "device": p.device.type,
        "precision": p.plan.precision.name,  # "bf16" or "fp32": what was used
    }
    resolved, beta, rft_hp = p.resolved, p.beta, p.rft_hp
    out.reports.add(
        "job",
        fields={
            "resolved": {
                **resolved.as_dict(),
                **({"beta": beta} if p.dpo else {}),
                "training_method": p.method,
                "learning_rate": p.learning_rate,
            },
            "hyperparameters": {
                **resolved.as_dict(),
                **({"beta": beta} if p.dpo else {}),
                **{k: v for k, v in rft_hp.items() if k != "group_size"},
            },
            "runtime": described,
        },
    )
    (out.work / "results").mkdir()
    results_path = out.work / "results" / "results.csv"
    if resume is not None:
        # The rows up to the checkpoint's step, as the checkpoint saved them: the
        # file goes on from there, none missing, none twice.
        shutil.copyfile(out.work / "resume" / RESULTS_FILE, results_path)
    out.csv = ResultsCsv(
        results_path,
        validation=bool(valid_ex),
        classification=p.classification,
        continue_after=resume.step if resume is not None else None,
        dpo=p.dpo,
        columns=(
            _rft_columns(objective, bool(valid_ex)) if p.rft and objective is not None else None
        ),
        # A job of today's API gets OpenAI's columns first; a legacy
        # `/v1/fine-tunes` job the legacy guide's file.
        openai=not p.job.get("legacy"),
    )
    if p.classification is not None and resume is None:
        base_metrics = evaluate(
            model,
            valid_ex,
            p.device,
            config.bf16,
            p.classification,
            out.should_abandon,
            loss=p.plan.loss,
        )
        shown = ", ".join(
            f"{k}={v:.4f}" for k, v in base_metrics.items() if k.startswith("classification/")
        )
        out.event(f"Before training (step 0): {shown}")
    how = (
        f"{config.n_epochs} epochs, batch size {config.batch_size}, "
        f"learning rate {p.learning_rate:.3g} "
        f"(multiplier {resolved.learning_rate_multiplier}), "
        f"method {p.method}, "
        + (
            f"DPO with beta {beta:g}"
            if p.dpo
            else (
                f"reinforcement: {rft_hp.get('group_size')} answers sampled per prompt, "
                f"KL weight {getattr(objective, 'beta', 0):g}, evaluation every "
                f"{rft_hp.get('eval_interval')} steps on {rft_hp.get('eval_samples')} "
                "validation prompts"
            )
            if p.rft
            else f"prompt loss weight {config.prompt_loss_weight:g}"
            + ("" if config.prompt_loss_weight else " (completion tokens only)")
        )
        + f"; {describe_runtime(described)}; {p.plan.describe()}"
    )
    if resume is not None and p.point is not None:
        out.last_checkpoint_step = resume.step
        out.event(
            f"Training resumed at step {resume.step + 1} from checkpoint "
            f"{p.point.get('checkpoint')} (weights, optimizer state, learning-rate "
            f"schedule, counters and random state restored): {how}"
        )
    else:
        out.event(f"Training started: {how}")
    if p.dpo and getattr(objective, "reference", None) is None:
        out.event(
            f"Computing the reference model's log-probabilities of the {len(train_ex)} "
            f"training and {len(valid_ex)} validation pairs (once, before the first step)"
        )


def _after_last_step(p: JobPlan, out: RunReports, model: Any, outcome: Outcome) -> None:
    """The finished event, then the model saved and uploaded with the results."""
    resume, objective, valid_ex = p.resume, p.objective, p.valid_ex
    assert out.csv is not None
    seconds = time.monotonic() - out.started
    trained = outcome.elapsed_tokens - (resume.elapsed_tokens if resume is not None else 0)
    out.event(
        f"Training finished: {outcome.steps - out.first_step} steps in {seconds:.1f} s "
        f"({trained / max(seconds, 1e-9):.0f} tokens/s, first step to last, "
        "checkpoints included)"
    )
    if p.dpo and objective is not None and valid_ex:
        from fttui.train.dpo import after_training

        out.event(after_training(objective, len(valid_ex)))  # type: ignore[arg-type]
    out.csv.close()
    model = model_to_save(model, p.plan, p.location)
    out.succeeded(model, p.tokenizer, outcome.elapsed_tokens, p.stored_dtype)


def _rft_columns(objective: Any, validation: bool) -> list[str]:
    from fttui.train.rft import rft_columns

    return rft_columns(objective.grading.keys, validation)


def describe_runtime(runtime: dict[str, Any]) -> str:
    """`fttui.runtime` in words, for the first training event."""
    workers = int(runtime.get("workers") or 1)
    where = "on Ray" if runtime.get("runner") == "ray" else "on the server's machine"
    if runtime.get("ray_job_id"):
        where += f" (Ray job {runtime['ray_job_id']})"
    ranks = f"{workers} data-parallel ranks" if workers > 1 else "1 process"
    return f"running {where}, {ranks}, device {runtime.get('device') or '?'}"
