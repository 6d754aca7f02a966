"""Validate a job-creation request completely before anything is stored.

Shared by `POST /v1/fine_tuning/jobs` and the legacy `POST /v1/fine-tunes`, so both
refuse the same bad input with the same clear messages (which field, what is wrong).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from fttui.core.hparams import (
    AUTO,
    EXTRA_HPARAMS,
    METHOD_HPARAMS,
    RFT_HPARAMS,
    STANDARD_HPARAMS,
    check_hyperparameter,
    resolve,
    resolve_beta,
    resolve_reinforcement,
)
from fttui.core.models import BaseModelSpec, resolve_model
from fttui.core.naming import suffix_problem
from fttui.data.contract import quote
from fttui.server.errors import APIError, refuse_unsafe
from fttui.server.grader_requests import check_grader
from fttui.store.db import Store

__all__ = ["STANDARD_HPARAMS", "JobRequest", "parse_job_request"]

# Options that only mean something for supervised jobs (a DPO job has no completion
# tokens to classify and no prompt loss).
_SUPERVISED_ONLY = (
    "compute_classification_metrics",
    "classification_n_classes",
    "classification_positive_class",
    "classification_betas",
    "prompt_loss_weight",
)


@dataclass
class JobRequest:
    """Everything a new job row needs, already checked."""

    model: str
    base_model: str
    training_file: str
    validation_file: str | None
    hyperparameters: dict[str, Any]
    resolved: dict[str, Any]
    extra: dict[str, Any]
    suffix: str | None
    seed: int
    metadata: dict[str, str] | None
    method: str = "supervised"
    # The method's own object beyond its hyperparameters (reinforcement: the grader).
    method_config: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()

    def row(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "base_model": self.base_model,
            "training_file": self.training_file,
            "validation_file": self.validation_file,
            "hyperparameters": self.hyperparameters,
            "resolved": self.resolved,
            "method": {"type": self.method}
            | ({self.method: self.method_config} if self.method_config else {}),
            "suffix": self.suffix,
            "seed": self.seed,
            "metadata": self.metadata,
            "extra": self.extra,
        }


def _bad(message: str, param: str, code: str = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (as JSON Schema says)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _check_file(store: Store, file_id: Any, param: str) -> dict[str, Any]:
    if not isinstance(file_id, str) or not file_id:
        raise _bad(f"'{param}' must be a file id string", param)
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


def _check_extras(
    hp: dict[str, Any], has_validation: bool, where: dict[str, str] | None = None
) -> dict[str, Any]:
    """The legacy guide's classification options and fttui's training-method options.

    `where`: the object each option came from (`hyperparameters.` or
    `method.<type>.hyperparameters.`), so an error names the field as it was sent.
    """
    extra: dict[str, Any] = {}
    at = where or {}

    def p(name: str) -> str:
        """The field `name` as it was sent (`hyperparameters.name` by default)."""
        return at.get(name, "hyperparameters.") + name

    ccm = hp.get("compute_classification_metrics")
    if ccm is not None:
        if not isinstance(ccm, bool):
            raise _bad(
                "compute_classification_metrics must be true or false",
                p("compute_classification_metrics"),
            )
        extra["compute_classification_metrics"] = ccm
        if ccm and not has_validation:
            raise _bad(
                "compute_classification_metrics needs a validation_file (metrics are computed on it)",
                "validation_file",
            )
    n_classes = _whole(hp.get("classification_n_classes"))
    if n_classes is not None:
        if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes < 2:
            raise _bad(
                "classification_n_classes must be an integer of at least 2",
                p("classification_n_classes"),
            )
        extra["classification_n_classes"] = n_classes
    positive = hp.get("classification_positive_class")
    if positive is not None:
        if not isinstance(positive, str) or not positive:
            raise _bad(
                "classification_positive_class must be a non-empty string",
                p("classification_positive_class"),
            )
        refuse_unsafe(positive, p("classification_positive_class"))
        if n_classes not in (None, 2):
            raise _bad(
                "classification_positive_class is for binary classification: "
                "classification_n_classes must be 2",
                p("classification_n_classes"),
            )
        extra["classification_positive_class"] = positive
    betas = hp.get("classification_betas")
    if betas is not None:
        if (
            not isinstance(betas, list)
            or not betas
            or not all(_is_number(b) and b > 0 for b in betas)
        ):
            raise _bad(
                "classification_betas must be a list of positive numbers",
                p("classification_betas"),
            )
        extra["classification_betas"] = [float(b) for b in betas]
    if (n_classes is not None or positive is not None or betas is not None) and not ccm:
        extra.setdefault("compute_classification_metrics", False)
    plw = hp.get("prompt_loss_weight")
    if plw is not None:
        if not _is_number(plw) or not 0 <= plw <= 1:
            raise _bad("prompt_loss_weight must be a number in [0, 1]", p("prompt_loss_weight"))
        extra["prompt_loss_weight"] = float(plw)
    method = hp.get("training_method")
    if method is not None:
        if method not in ("full", "lora", "qlora"):
            raise _bad(
                "training_method must be 'full', 'lora' or 'qlora' (LoRA on a 4-bit base)",
                p("training_method"),
            )
        extra["training_method"] = method
    for name, low, high, kind in (
        ("lora_rank", 1, 1024, int),
        ("lora_alpha", 0, 4096, float),
        ("lora_dropout", 0, 1, float),
    ):
        value = _whole(hp.get(name)) if kind is int else hp.get(name)
        if value is None:
            continue
        ok = (
            isinstance(value, int) and not isinstance(value, bool)
            if kind is int
            else _is_number(value)
        )
        if not ok or not low <= value <= high or (name == "lora_alpha" and value == 0):
            raise _bad(f"{name} must be a {kind.__name__} in [{low}, {high}]", p(name))
        extra[name] = value
        extra.setdefault("training_method", "lora")
    if extra.get("training_method") == "full" and any(k.startswith("lora_") for k in extra):
        raise _bad("lora_* options need training_method 'lora' or 'qlora'", p("training_method"))
    return extra


_KNOWN_HPARAMS = frozenset({*METHOD_HPARAMS["dpo"], *RFT_HPARAMS, *EXTRA_HPARAMS})
# What a method's object holds beyond `hyperparameters` (OpenAI's FineTuneReinforcementMethod;
# its job objects show `response_format: null`).
_METHOD_FIELDS = {"reinforcement": {"grader", "response_format"}}


def _collect_hyperparameters(body: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(method type, hyperparameters, where each was given).

    Merges `method.<type>.hyperparameters` (OpenAI's current place), the deprecated
    top-level `hyperparameters` and the legacy guide's top-level fields; `where` maps
    each name to the object it came from, so an error names the field as sent
    (`method.dpo.hyperparameters.beta`).
    """
    hp: dict[str, Any] = {}
    where: dict[str, str] = {}
    raw = body.get("hyperparameters")
    if raw is not None and not isinstance(raw, dict):
        raise _bad("'hyperparameters' must be an object", "hyperparameters")
    mtype = "supervised"
    method = body.get("method")
    if method is not None:
        if not isinstance(method, dict):
            raise _bad("'method' must be an object: {'type': 'supervised' or 'dpo', ...}", "method")
        mtype = method.get("type", "supervised")
        if not isinstance(mtype, str) or mtype not in METHOD_HPARAMS:
            raise _bad(
                f"method.type {quote(mtype)} is not supported by the local trainer; use "
                f"{' or '.join(map(repr, METHOD_HPARAMS))} (LoRA: "
                "hyperparameters.training_method = 'lora')",
                "method.type",
            )
        for key in method:
            if key not in ("type", mtype):
                raise _bad(
                    f"method.{key} does not go with method.type {mtype!r}"
                    + (
                        f" (for {key}, set method.type to {key!r})" if key in METHOD_HPARAMS else ""
                    ),
                    f"method.{key}",
                )
        inner = method.get(mtype)
        if inner is None:
            inner = {}
        if not isinstance(inner, dict):
            raise _bad(f"method.{mtype} must be an object", f"method.{mtype}")
        unknown = sorted(set(inner) - {"hyperparameters", *_METHOD_FIELDS.get(mtype, ())})
        if unknown:
            raise _bad(
                f"method.{mtype}.{unknown[0]} is not a known field", f"method.{mtype}.{unknown[0]}"
            )
        inner_hp = inner.get("hyperparameters")
        if inner_hp is None:
            inner_hp = {}
        if not isinstance(inner_hp, dict):
            raise _bad(
                f"method.{mtype}.hyperparameters must be an object",
                f"method.{mtype}.hyperparameters",
            )
        hp.update(inner_hp)
        where.update(dict.fromkeys(inner_hp, f"method.{mtype}.hyperparameters."))
    hp.update(raw or {})
    where.update(dict.fromkeys(raw or {}, "hyperparameters."))
    for key in _KNOWN_HPARAMS - set(METHOD_HPARAMS["dpo"]) - set(RFT_HPARAMS):
        if key in body and body[key] is not None and key not in hp:
            hp[key] = body[key]
            # Named as the legacy guide's hyperparameter it is.
            where[key] = "hyperparameters."
    unknown = sorted(set(hp) - _KNOWN_HPARAMS)
    if unknown:
        name = unknown[0]
        raise _bad(f"Unknown hyperparameter(s): {', '.join(unknown)}", where[name] + name)
    if "beta" in hp and mtype != "dpo":
        raise _bad(
            f"beta is a DPO hyperparameter; this is a {mtype} job (method.type 'dpo' takes it)",
            where["beta"] + "beta",
        )
    for key in RFT_HPARAMS:
        if key in hp and mtype != "reinforcement":
            raise _bad(
                f"{key} is a reinforcement hyperparameter; this is a {mtype} job",
                where[key] + key,
            )
        if key in hp and where[key].startswith("hyperparameters"):
            raise _bad(
                f"{key} goes in method.reinforcement.hyperparameters, as in OpenAI's API",
                "hyperparameters." + key,
            )
    if mtype == "reinforcement":
        for key in _SUPERVISED_ONLY:
            if key in hp:
                raise _bad(
                    f"{key} applies to supervised jobs only, not to reinforcement",
                    where[key] + key,
                )
        effort = hp.get("reasoning_effort")
        if (
            effort not in (None, "auto", "default")
            and check_hyperparameter("reasoning_effort", effort) is None
        ):
            raise _bad(
                f"reasoning_effort {effort!r} needs a reasoning model; the local models do not "
                "reason: leave it out or use 'default'",
                where["reasoning_effort"] + "reasoning_effort",
            )
    if mtype == "dpo":
        if where.get("beta", "").startswith("hyperparameters"):
            raise _bad(
                "beta goes in method.dpo.hyperparameters, as in OpenAI's API",
                "hyperparameters.beta",
            )
        for key in _SUPERVISED_ONLY:
            if key in hp:
                raise _bad(f"{key} applies to supervised jobs only, not to DPO", where[key] + key)
    return mtype, hp, where


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
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object", "body")
    if "training_file" not in body or body["training_file"] in (None, ""):
        raise _bad("'training_file' is required", "training_file", "missing_required_parameter")
    training = _check_file(store, body["training_file"], "training_file")
    validation = None
    if body.get("validation_file") not in (None, ""):
        validation = _check_file(store, body["validation_file"], "validation_file")
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
    model = body.get("model")
    if model in (None, ""):
        model = default_model
    elif not isinstance(model, str):  # `{}` or `false` is a mistake, not "use the default"
        raise _bad("'model' must be a string: a base model or a fine-tuned model", "model")
    base = _resolve_base(store, registry, model)
    assert isinstance(model, str)
    suffix = body.get("suffix")
    if suffix is not None:
        if not isinstance(suffix, str):
            raise _bad("'suffix' must be a string", "suffix")
        refuse_unsafe(suffix, "suffix")
        problem = suffix_problem(suffix)
        if problem:
            raise _bad(problem, "suffix")
    mtype, hp, where = _collect_hyperparameters(body)
    standard: dict[str, Any] = {}
    for name in METHOD_HPARAMS[mtype]:
        value = hp.get(name, AUTO)
        problem = check_hyperparameter(name, value)
        if problem:
            raise _bad(problem, where.get(name, "hyperparameters.") + name)
        standard[name] = AUTO if value in (None, AUTO) else value
    extra = _check_extras(hp, validation is not None, where)
    fmt = (training.get("meta") or {}).get("format")
    if extra.get("prompt_loss_weight") and fmt not in (None, "prompt_completion"):
        # The weight of prompt tokens is a prompt/completion notion; never ignored.
        raise _bad(
            f"prompt_loss_weight applies to prompt/completion files only; training_file "
            f"{training['id']} is in the {fmt} format (in chat examples each assistant "
            "message's `weight` chooses what is trained)",
            where.get("prompt_loss_weight", "hyperparameters.") + "prompt_loss_weight",
        )
    n_examples = int((training.get("meta") or {}).get("examples") or 0)
    resolved = resolve(
        {k: v for k, v in standard.items() if k in STANDARD_HPARAMS}, max(n_examples, 1)
    ).as_dict()
    if mtype == "dpo":
        resolved["beta"] = resolve_beta(standard["beta"])
    method_config: dict[str, Any] | None = None
    notes: list[str] = []
    if mtype == "reinforcement":
        inner = body["method"].get("reinforcement") or {}
        if inner.get("response_format") is not None:
            raise _bad(
                "response_format is not supported by the local trainer (it samples plain "
                "text); leave it out or null",
                "method.reinforcement.response_format",
            )
        grader, notes = check_grader(store, registry, inner.get("grader"), base=base)
        method_config = {"grader": grader}
        steps = -(-max(n_examples, 1) // resolved["batch_size"]) * resolved["n_epochs"]
        n_valid = int(((validation or {}).get("meta") or {}).get("examples") or 0)
        resolved.update(resolve_reinforcement(standard, steps, n_valid))
    seed = _whole(body.get("seed"))
    if seed is None:
        seed = secrets.randbelow(2**31)
    elif not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        raise _bad("'seed' must be an integer in [0, 2147483647]", "seed")
    metadata = body.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, dict)
        or len(metadata) > 16
        or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 512
            for k, v in metadata.items()
        )
    ):
        raise _bad(
            "'metadata' must be an object of at most 16 string keys (<= 64 characters) "
            "and string values (<= 512 characters)",
            "metadata",
        )
    for key, value in (metadata or {}).items():
        refuse_unsafe(key, "metadata", what="a metadata key")
        refuse_unsafe(value, "metadata", what=f"metadata value {key!r}")
    return JobRequest(
        model=model,
        base_model=base,
        training_file=training["id"],
        validation_file=validation["id"] if validation else None,
        hyperparameters=standard,
        resolved=resolved,
        extra=extra,
        suffix=suffix or None,
        seed=seed,
        metadata=metadata,
        method=mtype,
        method_config=method_config,
        notes=tuple(notes),
    )
