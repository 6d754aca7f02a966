"""What the run will do, decided once the model and the files are in: `JobPlan`.

From the spec to the engine's `TrainConfig` and objective: the device, the model's
training path (fttui.train.plan: precision, attention, LoRA or QLoRA, checkpointing),
the resume point, the final model's stored format (fttui.train.stored_dtype), the
examples, the hyperparameters resolved on the real example
count (fttui.core.local_auto: fttui's own `auto` rule for the local engine, not the
legacy guide's, which is OpenAI's for OpenAI's servers), the learning rate and, for
DPO and reinforcement, the objective. Nothing here trains; everything here is what the
training-started event and the job's `resolved` report describe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fttui.core.job_spec import JobSpec, resolve_beta
from fttui.core.local_auto import resolve_local, resolve_local_rft
from fttui.data.tokenizing import token_limit
from fttui.train.job._control import Control
from fttui.train.job._inputs import JobInputs
from fttui.train.job._reports import RunReports
from fttui.train.plan import TrainingPlan, finish_plan, load_model, plan_loading
from fttui.train.stored_dtype import choose as choose_stored_dtype
from fttui.train.stored_dtype import published_dtype

if TYPE_CHECKING:
    from fttui.core.local_auto import Resolved
    from fttui.train.dpo import DPOObjective
    from fttui.train.engine import ClassificationSetup, Ranks, Resume, TrainConfig
    from fttui.train.rft import RFTObjective

# LoRA adapters start at zero and move few weights: they need a larger step than full
# fine-tuning to learn in the same number of steps (a common 10x rule of thumb).
LORA_LR_SCALE = 10.0


@dataclass
class JobPlan:
    """One job's run as decided before its first step."""

    job: dict[str, Any]  # the job as the server stored it (the spec's `job`)
    device: Any  # torch.device
    method: str  # training_method as asked: "full", "lora" or "qlora"
    location: str  # the starting weights' directory
    plan: TrainingPlan
    model: Any
    tokenizer: Any
    train_ex: list[Any]
    valid_ex: list[Any]
    resolved: Resolved
    learning_rate: float
    config: TrainConfig
    classification: ClassificationSetup | None
    dpo: bool
    rft: bool
    beta: float
    stored_dtype: tuple[str, str]  # the final model's format, and why (in words)
    objective: DPOObjective | RFTObjective | None = None
    rft_hp: dict[str, Any] = field(default_factory=dict)
    resume: Resume | None = None
    point: dict[str, Any] | None = None  # the spec's `resume_from`


def plan_job(inputs: JobInputs, out: RunReports, control: Control, ranks: Ranks | None) -> JobPlan:
    """Read the spec, load the model and the files, and decide the run.

    Events on the way (loading, files validated, the `auto` rule, classification
    warnings) go to `out`; a cancel or pause is honoured between the slow parts.
    """
    import torch

    from fttui.train.engine import TrainConfig
    from fttui.train.setup import classification_setup

    distributed = ranks is not None and ranks.world_size > 1
    main = ranks is None or ranks.main
    spec = inputs.client.spec()
    job = spec["job"]
    # The job as asked for (fttui/core/job_spec.py): method, hyperparameters, options.
    asked = JobSpec.from_job(job)
    opts = asked.options
    base = inputs.base_spec(spec)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if distributed and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    method = asked.training_method
    out.event(f"Loading model {job['model']}")
    if distributed:
        import torch.distributed as dist

        # Rank 0 converts or downloads the model into the node's cache first; the
        # others wait (the cache's file locks make this safe anyway, this just
        # avoids every rank converting at once).
        if main:
            location = inputs.model_location(spec, base)
        dist.barrier()
        if not main:
            location = inputs.model_location(spec, base)
    else:
        location = inputs.model_location(spec, base)
    point = spec.get("resume_from")
    resume = None
    weights = None
    dpo_reference = None
    rft_steps = 0
    if point:
        directory, resumed = inputs.resume(point)
        resume = resumed.resume
        dpo_reference, rft_steps = resumed.dpo_reference, resumed.rft_steps
        out.first_step = resume.step
        # Full fine-tuning: the checkpoint is the whole model; LoRA: the base model,
        # its adapters loaded by the engine after wrapping.
        weights = None if resume.adapter_dir else str(directory)
    plan = plan_loading(base, device.type, method, location)
    model, tokenizer = load_model(location, plan, device, weights=weights)
    # The final model's format (checkpoints stay float32 for an exact resume).
    from_gguf = base.kind == "gguf" and not spec.get("continue_from")
    published = published_dtype(
        base.source if from_gguf else location, base.gguf_file if from_gguf else None
    )
    stored_dtype = choose_stored_dtype(opts.stored_dtype, published)
    control.check()
    limit = token_limit(base.context_length, model.config)
    train_ex, valid_ex = inputs.read_files(asked, tokenizer, limit)
    out.event(
        f"Files validated: {len(train_ex)} training examples"
        + (f", {len(valid_ex)} validation examples" if valid_ex else "")
    )
    control.check()
    requested = asked.requested()
    dpo = asked.method == "dpo"
    rft = asked.method == "reinforcement"
    # Tokens one example puts through the model (a DPO pair: both sequences).
    lengths = [
        2 * len(ex.prompt_ids) + len(ex.chosen_ids) + len(ex.rejected_ids) if dpo else ex.n_tokens
        for ex in train_ex
    ]
    if rft:
        resolved, rule = resolve_local_rft(requested, len(train_ex))
        out.event(rule)
    else:
        # `auto` on the local engine: fttui's own rule (fttui.core.local_auto), not
        # the legacy guide's, which is OpenAI's for OpenAI's servers.
        resolved, rule = resolve_local(requested, len(train_ex), sum(lengths), device.type)
        out.event(rule)
    finish_plan(model, plan, base, device, lengths, resolved.batch_size)
    lr = base.base_learning_rate * resolved.learning_rate_multiplier
    if method != "full":
        lr *= LORA_LR_SCALE
    classification = None
    if opts.compute_classification_metrics and valid_ex and not dpo:
        classification, warning = classification_setup(tokenizer, train_ex, valid_ex, opts.asked())
        if warning:
            out.event(warning, level="warn")
    config = TrainConfig(
        n_epochs=resolved.n_epochs,
        batch_size=resolved.batch_size,
        learning_rate=lr,
        seed=int(job.get("seed") or 0),
        method="full" if method == "full" else "lora",
        lora_r=opts.lora_rank or 16,
        lora_alpha=opts.lora_alpha or 2 * (opts.lora_rank or 16),
        lora_dropout=opts.lora_dropout or 0.0,
        bf16=plan.precision.bf16,
        loss=plan.loss,
        classification=classification,
        prompt_loss_weight=opts.prompt_loss_weight or 0.0,
        # Every other option the engine takes under its own name (weight_decay, ...).
        **opts.engine_settings(),
    )
    objective: DPOObjective | RFTObjective | None = None
    rft_hp: dict[str, Any] = {}
    if rft:
        objective, rft_hp = _rft_objective(
            job, requested, tokenizer, config, len(train_ex), len(valid_ex)
        )
        out.rft_objective = objective
        if resume is not None:
            objective.steps_done = rft_steps
        if weights is not None:
            # Resumed full fine-tuning: the model holds the checkpoint's weights; the
            # reference (and judge) is the model the job started from, loaded again.
            objective.reference_model, _ = load_model(location, plan, device)
        config.eval_every = rft_hp["eval_interval"]
        config.max_eval_examples = rft_hp["eval_samples"]
    beta = resolve_beta(requested.get("beta"))
    if dpo:
        from fttui.train.dpo import DPOObjective, pairs_from

        train_ex, valid_ex = pairs_from(train_ex), pairs_from(valid_ex)
        objective = DPOObjective(
            beta=beta,
            bf16=config.bf16,
            reference=dpo_reference if resume is not None else None,
            on_ready=out.dpo_ready,
        )
    return JobPlan(
        job=job,
        device=device,
        method=method,
        location=location,
        plan=plan,
        model=model,
        tokenizer=tokenizer,
        train_ex=train_ex,
        valid_ex=valid_ex,
        resolved=resolved,
        learning_rate=lr,
        config=config,
        classification=classification,
        dpo=dpo,
        rft=rft,
        beta=beta,
        stored_dtype=stored_dtype,
        objective=objective,
        rft_hp=rft_hp,
        resume=resume,
        point=point,
    )


def _rft_objective(
    job: dict[str, Any],
    requested: dict[str, Any],
    tokenizer: Any,
    config: Any,
    n_train: int,
    n_valid: int,
) -> tuple[RFTObjective, dict[str, Any]]:
    """The reinforcement objective with the job's grader and hyperparameters.

    Resolved from the hyperparameters as the job asked them (the spec), never from
    the job row's `resolved`, which this trainer's own report overwrites: a resumed
    job must sample as many answers per prompt as before its pause."""
    from fttui.core.job_spec import resolve_reinforcement
    from fttui.train.grading import Grading
    from fttui.train.rft import RFTObjective

    grader = ((job.get("method") or {}).get("reinforcement") or {}).get("grader")
    steps = math.ceil(n_train / config.batch_size) * config.n_epochs
    hp = resolve_reinforcement(requested, steps, n_valid)
    grading = Grading(grader or {})
    objective = RFTObjective(
        grading, tokenizer, int(hp["group_size"]), bf16=config.bf16, seed=config.seed
    )
    grading.judge = objective.judge
    return objective, hp
