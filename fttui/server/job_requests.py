"""Validate a job-creation request completely before anything is stored.

Shared by `POST /v1/fine_tuning/jobs` and the legacy `POST /v1/fine-tunes`, so both
refuse the same bad input with the same clear messages (which field, what is wrong).
The body itself is checked by `JobSpec.from_request` (fttui/core/job_spec.py, the job
contract); this module adds what needs the server: the files, the model, the data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fttui.core.job_spec import (
    STANDARD_HPARAMS,
    JobSpec,
    JobSpecError,
    resolve,
    resolve_beta,
    resolve_reinforcement,
)
from fttui.core.local_auto import resolve_local_rft
from fttui.core.models import BaseModelSpec, resolve_model
from fttui.server.errors import APIError
from fttui.server.grader_requests import check_grader
from fttui.store.db import Store

__all__ = ["LOCAL_METHODS", "STANDARD_HPARAMS", "JobRequest", "parse_job_request"]

# The fine-tuning methods the local trainer trains.
LOCAL_METHODS: tuple[str, ...] = ("supervised", "dpo", "reinforcement")


@dataclass
class JobRequest:
    """Everything a new job row needs, already checked."""

    spec: JobSpec
    model: str
    base_model: str
    resolved: dict[str, Any]
    seed: int
    # The method's own object beyond its hyperparameters (reinforcement: the grader).
    method_config: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        return self.spec.method

    @property
    def training_file(self) -> str:
        return self.spec.training_file

    @property
    def validation_file(self) -> str | None:
        return self.spec.validation_file

    def row(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "model": self.model,
            "base_model": self.base_model,
            "training_file": spec.training_file,
            "validation_file": spec.validation_file,
            "hyperparameters": spec.requested(),
            "resolved": self.resolved,
            "method": {"type": spec.method}
            | ({spec.method: self.method_config} if self.method_config else {}),
            "suffix": spec.suffix,
            "seed": self.seed,
            "metadata": spec.metadata,
            "extra": spec.options.asked(),
            # The random seed as asked (None: the server chose `seed` above), so the job can
            # say whether it was asked and a clone asks for one only if it was.
            "spec": spec.model_copy(update={"model": self.model}).stored(),
        }


def _bad(message: str, param: str, code: str = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)


def _check_file(store: Store, file_id: str, param: str) -> dict[str, Any]:
    row = store.get_file(file_id)
    if row is None:
        # As OpenAI answers: a 400 naming the parameter (an SDK's BadRequestError),
        # with the code a missing file has everywhere.
        raise _bad(f"invalid {param}: no such file {file_id!r}", param, "file_not_found")
    if row["purpose"] != "fine-tune":
        raise _bad(
            f"File {file_id} has purpose {row['purpose']!r}; {param} needs a file uploaded "
            "with purpose 'fine-tune'",
            param,
            "invalid_file_purpose",
        )
    return row


def _resolve_base(store: Store, registry: dict[str, BaseModelSpec], model: Any) -> str:
    if not isinstance(model, str) or not model:  # narrowed for the caller below
        raise _bad(
            "'model' is required: a base model or a fine-tuned model to continue from", "model"
        )
    spec = resolve_model(registry, model)
    if spec is not None:
        return spec.id
    fine_tuned = store.get_model(model)
    if fine_tuned is not None:
        return str(fine_tuned["base_model"])
    known = ", ".join(sorted([*registry, *(a for s in registry.values() for a in s.aliases)]))
    raise APIError(
        400,
        f"Model {model!r} is not a base model this server can train ({known}) "
        "nor a fine-tuned model of this server",
        param="model",
        code="model_not_found",
    )


def parse_job_request(
    store: Store,
    registry: dict[str, BaseModelSpec],
    body: Any,
    *,
    default_model: str | None = None,
) -> JobRequest:
    """Check a creation request; raises APIError naming the first bad field."""
    try:
        spec = JobSpec.from_request(body, methods=LOCAL_METHODS, trainer="the local trainer")
    except JobSpecError as exc:
        raise APIError(400, exc.message, param=exc.param, code=exc.code) from None
    training = _check_file(store, spec.training_file, "training_file")
    validation = None
    if spec.validation_file is not None:
        validation = _check_file(store, spec.validation_file, "validation_file")
        if validation["id"] == training["id"]:
            raise _bad(
                "training_file and validation_file are the same file; they must be mutually "
                "exclusive (no example in both)",
                "validation_file",
            )
        t_fmt, v_fmt = (
            (training.get("meta") or {}).get("format"),
            (validation.get("meta") or {}).get("format"),
        )
        if t_fmt and v_fmt and t_fmt != v_fmt:
            raise _bad(
                f"validation_file is in {v_fmt} format but training_file is in {t_fmt}; "
                "both must have the same format",
                "validation_file",
            )
    model = spec.model or default_model
    base = _resolve_base(store, registry, model)
    assert isinstance(model, str)
    fmt = (training.get("meta") or {}).get("format")
    if spec.options.prompt_loss_weight and fmt not in (None, "prompt_completion"):
        # The weight of prompt tokens is a prompt/completion notion; never ignored.
        raise _bad(
            f"prompt_loss_weight applies to prompt/completion files only; training_file "
            f"{training['id']} is in the {fmt} format (in chat examples each assistant "
            "message's `weight` chooses what is trained)",
            _sent_at(body, "prompt_loss_weight"),
        )
    n_examples = int((training.get("meta") or {}).get("examples") or 0)
    requested = spec.requested()
    resolved: dict[str, Any] = resolve(requested, max(n_examples, 1)).as_dict()
    if spec.method == "dpo":
        resolved["beta"] = resolve_beta(requested["beta"])
    method_config: dict[str, Any] | None = None
    notes: list[str] = []
    if spec.method == "reinforcement":
        effort = requested.get("reasoning_effort")
        if effort not in (None, "auto", "default"):
            raise _bad(
                f"reasoning_effort {effort!r} needs a reasoning model; the local models do not "
                "reason: leave it out or use 'default'",
                "method.reinforcement.hyperparameters.reasoning_effort",
            )
        if spec.response_format is not None:
            raise _bad(
                "response_format is not supported by the local trainer (it samples plain "
                "text); leave it out or null",
                "method.reinforcement.response_format",
            )
        grader, notes = check_grader(store, registry, spec.grader, base=base)
        method_config = {"grader": grader}
        # The local trainer sizes `auto` for reinforcement with its own rule from the
        # prompts alone (fttui.core.local_auto), not the legacy guide's 0.2% batch:
        # the job says from its creation what it will train with (batch 4 on a small
        # file, not 1), and eval_interval follows from those steps.
        rule, _why = resolve_local_rft(requested, max(n_examples, 1))
        resolved.update(rule.as_dict())
        steps = -(-max(n_examples, 1) // resolved["batch_size"]) * resolved["n_epochs"]
        n_valid = int(((validation or {}).get("meta") or {}).get("examples") or 0)
        resolved.update(resolve_reinforcement(requested, steps, n_valid))
    seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
    return JobRequest(
        spec=spec,
        model=model,
        base_model=base,
        resolved=resolved,
        seed=seed,
        method_config=method_config,
        notes=tuple(notes),
    )


def _sent_at(body: dict[str, Any], name: str) -> str:
    """Where option `name` was sent: `method.<type>.hyperparameters.` or `hyperparameters.`."""
    method = body.get("method")
    if isinstance(method, dict):
        inner = method.get(method.get("type", "supervised"))
        sent_inside = isinstance(inner, dict) and name in (inner.get("hyperparameters") or {})
        if sent_inside and name not in (body.get("hyperparameters") or {}):
            return f"method.{method['type']}.hyperparameters.{name}"
    return f"hyperparameters.{name}"
