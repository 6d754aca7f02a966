"""Hyperparameters: the legacy guide's defaults, `auto` resolution and range checks.

Light on purpose (no torch): the server validates and resolves with it when a job is
created, the trainer trains with the resolved values, the TUI checks its form with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

AUTO = "auto"

# The legacy guide's hyperparameters beyond OpenAI's three, plus the trainer's method options:
# the local server accepts them and keeps them in the job's `extra`.
EXTRA_HPARAMS: tuple[str, ...] = (
    "compute_classification_metrics",
    "classification_n_classes",
    "classification_positive_class",
    "classification_betas",
    "prompt_loss_weight",
    "training_method",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
)

# The fine-tuning methods of OpenAI's `method.type` that fttui trains, and each
# method's hyperparameters (OpenAI's SupervisedHyperparameters / DpoHyperparameters).
STANDARD_HPARAMS: tuple[str, ...] = ("n_epochs", "batch_size", "learning_rate_multiplier")
# OpenAI's ReinforcementHyperparameters; `reasoning_effort` is an enum, checked by
# `check_reasoning_effort`, the others by range.
RFT_HPARAMS: tuple[str, ...] = (
    "eval_interval",
    "eval_samples",
    "compute_multiplier",
    "reasoning_effort",
)
METHOD_HPARAMS: dict[str, tuple[str, ...]] = {
    "supervised": STANDARD_HPARAMS,
    "dpo": (*STANDARD_HPARAMS, "beta"),
    "reinforcement": (*STANDARD_HPARAMS, *RFT_HPARAMS),
}
REASONING_EFFORTS = ("default", "low", "medium", "high")
# Reinforcement: answers sampled per prompt at compute_multiplier 1 (the group whose
# rewards are normalised together); compute_multiplier scales it (at least 2).
DEFAULT_GROUP_SIZE = 4
# DPO's `beta` when `auto`: the usual value (the DPO paper's and TRL's default).
DEFAULT_BETA = 0.1

# name -> (type, minimum, maximum, inclusive minimum)
RANGES: dict[str, tuple[type, float, float, bool]] = {
    "n_epochs": (int, 1, 50, True),
    "batch_size": (int, 1, 256, True),
    "learning_rate_multiplier": (float, 0.0, 10.0, False),
    # DPO: how far the trained model may move from the reference (larger: less far).
    "beta": (float, 0.0, 2.0, False),
    # Reinforcement (OpenAI's ReinforcementHyperparameters ranges).
    "eval_interval": (int, 1, 1_000_000, True),
    "eval_samples": (int, 1, 1_000_000, True),
    "compute_multiplier": (float, 0.00001, 10.0, False),
}


def default_batch_size(n_examples: int) -> int:
    """About 0.2% of the training examples, at least 1, at most 256 (OpenAI's legacy fine-tuning guide)."""
    return max(1, min(256, round(n_examples * 0.002)))


def default_lr_multiplier(batch_size: int) -> float:
    """0.05, 0.1 or 0.2 depending on the final batch size: larger batch, larger multiplier."""
    if batch_size < 8:
        return 0.05
    if batch_size < 64:
        return 0.1
    return 0.2


def check_hyperparameter(name: str, value: Any) -> str | None:
    """Why `value` is not acceptable for `name` (None when it is `auto` or in range)."""
    if value is None or value == AUTO:
        return None
    if name == "reasoning_effort":
        if value not in REASONING_EFFORTS:
            return f"reasoning_effort must be one of {', '.join(REASONING_EFFORTS)}, got {value!r}"
        return None
    kind, low, high, inclusive = RANGES[name]
    if isinstance(value, bool):
        return f"{name} must be a number or 'auto', not a boolean"
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            return f"{name} must be an integer or 'auto', got {value!r}"
    elif not isinstance(value, (int, float)):
        return f"{name} must be a number or 'auto', got {value!r}"
    too_low = value < low if inclusive else value <= low
    if too_low or value > high:
        bracket = "[" if inclusive else "("
        return f"{name} must be in {bracket}{low:g}, {high:g}] or 'auto', got {value!r}"
    return None


def resolve_reinforcement(
    requested: dict[str, Any], n_steps: int, n_validation: int
) -> dict[str, Any]:
    """Reinforcement's own hyperparameters, `auto` resolved for a job of `n_steps` steps:
    evaluation about 10 times a run, on up to 32 validation prompts, DEFAULT_GROUP_SIZE
    answers per prompt times compute_multiplier (at least 2: a group of one has no
    relative reward)."""

    def pick(name: str) -> Any:
        value = requested.get(name)
        return None if value in (None, AUTO) else value

    multiplier = float(pick("compute_multiplier") or 1.0)
    return {
        "eval_interval": int(pick("eval_interval") or max(1, n_steps // 10)),
        "eval_samples": int(pick("eval_samples") or max(1, min(32, n_validation or 32))),
        "compute_multiplier": multiplier,
        "reasoning_effort": pick("reasoning_effort") or "default",
        "group_size": max(2, round(DEFAULT_GROUP_SIZE * multiplier)),
    }


def resolve_beta(value: Any) -> float:
    """DPO's `beta`: `auto`/missing -> DEFAULT_BETA (check it with check_hyperparameter first)."""
    return DEFAULT_BETA if value in (None, AUTO) else float(value)


@dataclass(frozen=True)
class Resolved:
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve(requested: dict[str, Any] | None, n_examples: int) -> Resolved:
    """Turn `auto`/missing values into the legacy guide's defaults for a file of `n_examples`."""
    req = requested or {}

    def pick(name: str) -> Any:
        value = req.get(name)
        return None if value in (None, AUTO) else value

    n_epochs = int(pick("n_epochs") or 4)
    batch_size = int(pick("batch_size") or default_batch_size(n_examples))
    batch_size = max(1, min(batch_size, max(1, n_examples)))
    lr = pick("learning_rate_multiplier")
    lr_mult = float(lr) if lr is not None else default_lr_multiplier(batch_size)
    return Resolved(n_epochs=n_epochs, batch_size=batch_size, learning_rate_multiplier=lr_mult)
