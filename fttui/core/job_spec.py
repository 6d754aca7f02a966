"""The job contract: one typed `JobSpec` from the job form to the trainer.

A fine-tuning job is described once, here: its method, each method's
hyperparameters with their ranges and defaults, the local trainer's options (LoRA,
QLoRA, the legacy guide's classification metrics, `prompt_loss_weight`), and the
rest of OpenAI's job-creation body (integrations, seed, suffix, metadata, files,
model). Everything else speaks it:

- the server parses a request body with `JobSpec.from_request` (errors in OpenAI's
  shape, naming the field as it was sent: `method.dpo.hyperparameters.beta`), stores
  the spec with the job and hands it to the trainer (`JobSpec.from_job`);
- the job form produces a spec from its fields and loads one to clone a job, and
  sends `spec.to_request()`;
- the OpenAPI document's request schema is `request_schema()`, generated from the
  same tables (`fttui/server/request_schemas.py`), so the API fuzz test, the parser
  and the form cannot drift apart (tests/contract/test_job_spec.py checks all three).

Adding a hyperparameter of the local trainer: a `Param` in `LOCAL_PARAMS` and a field
of `LocalOptions` here (with `engine=True` it reaches the engine's `TrainConfig` under
its name), the engine's use of it, and a field of the form.

Light on purpose (pydantic and the standard library only): the server, the trainer,
the TUI and the CLI all import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fttui.core.graders import GraderError, parse_grader
from fttui.core.naming import SUFFIX_MAX, suffix_problem
from fttui.core.safe_text import find_unsafe, safe_text

__all__ = [
    "AUTO",
    "DEFAULT_BETA",
    "DEFAULT_GROUP_SIZE",
    "RFT_HPARAMS",
    "DEFAULT_N_EPOCHS",
    "LOCAL_PARAMS",
    "METHODS",
    "METHOD_HPARAMS",
    "RANGES",
    "STORED_DTYPES",
    "DpoHyperparameters",
    "JobSpec",
    "JobSpecError",
    "LocalOptions",
    "Param",
    "ReinforcementHyperparameters",
    "Resolved",
    "SupervisedHyperparameters",
    "check_hyperparameter",
    "default_batch_size",
    "hyperparameters_class",
    "default_lr_multiplier",
    "request_schema",
    "resolve",
    "resolve_beta",
    "resolve_reinforcement",
]

AUTO: Literal["auto"] = "auto"
Auto = Literal["auto"]
Method = Literal["supervised", "dpo", "reinforcement"]
METHODS: tuple[str, ...] = ("supervised", "dpo", "reinforcement")
TrainingMethod = Literal["full", "lora", "qlora"]
TRAINING_METHODS: tuple[str, ...] = ("full", "lora", "qlora")
# The number format the final model's weights are stored in (`auto`: the trainer's
# rule, fttui/train/stored_dtype.py); checkpoints stay float32 for an exact resume.
StoredDtype = Literal["auto", "float32", "bfloat16"]
STORED_DTYPES: tuple[str, ...] = ("auto", "float32", "bfloat16")
REASONING_EFFORTS: tuple[str, ...] = ("default", "low", "medium", "high")


# -- ranges ---------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One numeric hyperparameter: its type and range, and where it applies.

    `engine`: a local option the engine's `TrainConfig` takes under the same name
    (the trainer passes every set one through, so adding one needs no trainer code).
    """

    name: str
    kind: type  # int or float
    low: float
    high: float | None  # None: no upper bound
    low_open: bool = False  # the minimum itself is refused (OpenAI's exclusiveMinimum)
    methods: tuple[str, ...] = METHODS
    engine: bool = False

    def problem(self, value: Any, *, auto: bool) -> str | None:
        """Why `value` is not acceptable (None when it is, or is `auto` where allowed)."""
        name = self.name
        alt = " or 'auto'" if auto else ""
        if auto and (value is None or value == AUTO):
            return None
        if isinstance(value, bool):
            return f"{name} must be a number{alt}, not a boolean"
        if self.kind is int:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int):
                return f"{name} must be an integer{alt}, got {value!r}"
        elif not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{name} must be a number{alt}, got {value!r}"
        too_low = value <= self.low if self.low_open else value < self.low
        if too_low or (self.high is not None and value > self.high):
            bracket = "(" if self.low_open else "["
            high = "inf)" if self.high is None else f"{self.high:g}]"
            return f"{name} must be in {bracket}{self.low:g}, {high}{alt}, got {value!r}"
        return None

    def schema(self) -> dict[str, Any]:
        """JSON Schema of a value (without `auto`)."""
        out: dict[str, Any] = {"type": "integer" if self.kind is int else "number"}
        out["exclusiveMinimum" if self.low_open else "minimum"] = self.low
        if self.high is not None:
            out["maximum"] = self.high
        return out


# OpenAI's hyperparameters (each `auto` or a value), as OpenAI's API documents them.
_OPENAI_PARAMS = (
    Param("n_epochs", int, 1, 50),
    Param("batch_size", int, 1, 256),
    Param("learning_rate_multiplier", float, 0.0, 10.0, low_open=True),
    # DPO: how far the trained model may move from the reference (larger: less far).
    Param("beta", float, 0.0, 2.0, low_open=True, methods=("dpo",)),
    # Reinforcement (OpenAI's ReinforcementHyperparameters ranges; OpenAI gives the two
    # intervals no maximum).
    Param("eval_interval", int, 1, 1_000_000, methods=("reinforcement",)),
    Param("eval_samples", int, 1, 1_000_000, methods=("reinforcement",)),
    Param("compute_multiplier", float, 0.00001, 10.0, low_open=True, methods=("reinforcement",)),
)
RANGES: dict[str, Param] = {p.name: p for p in _OPENAI_PARAMS}

STANDARD_HPARAMS: tuple[str, ...] = ("n_epochs", "batch_size", "learning_rate_multiplier")
# OpenAI's ReinforcementHyperparameters beyond the standard three; `reasoning_effort`
# is an enum, the others are checked by range.
RFT_HPARAMS: tuple[str, ...] = (
    "eval_interval",
    "eval_samples",
    "compute_multiplier",
    "reasoning_effort",
)
# Each method's hyperparameters (OpenAI's Supervised/Dpo/ReinforcementHyperparameters).
METHOD_HPARAMS: dict[str, tuple[str, ...]] = {
    "supervised": STANDARD_HPARAMS,
    "dpo": (*STANDARD_HPARAMS, "beta"),
    "reinforcement": (*STANDARD_HPARAMS, *RFT_HPARAMS),
}

# The local trainer's numeric options beyond OpenAI's (sent in `hyperparameters`).
LOCAL_PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("prompt_loss_weight", float, 0.0, 1.0, methods=("supervised",)),
        Param("lora_rank", int, 1, 1024),
        Param("lora_alpha", float, 0.0, 4096, low_open=True),
        Param("lora_dropout", float, 0.0, 1.0),
        # AdamW's decoupled weight decay on the trained weights (0: none).
        Param("weight_decay", float, 0.0, 1.0, methods=("supervised",), engine=True),
    )
}
_LORA = ("lora_rank", "lora_alpha", "lora_dropout")
_CLASSIFICATION = (
    "compute_classification_metrics",
    "classification_n_classes",
    "classification_positive_class",
    "classification_betas",
)
# The legacy guide's hyperparameters beyond OpenAI's three plus the trainer's method
# options: the local server accepts them and keeps them in the job's `extra`.
EXTRA_HPARAMS: tuple[str, ...] = (
    *_CLASSIFICATION,
    "prompt_loss_weight",
    "training_method",
    "stored_dtype",
    *(name for name in LOCAL_PARAMS if name != "prompt_loss_weight"),
)
# Options that only mean something for supervised jobs (a DPO job has no completion
# tokens to classify and no prompt loss).
SUPERVISED_ONLY: tuple[str, ...] = (
    *_CLASSIFICATION,
    *(p.name for p in LOCAL_PARAMS.values() if p.methods == ("supervised",)),
)


def check_hyperparameter(name: str, value: Any) -> str | None:
    """Why `value` is not acceptable for OpenAI's hyperparameter `name` (None when it is
    `auto` or in range)."""
    if name == "reasoning_effort":
        if value is None or value in REASONING_EFFORTS:
            return None
        return f"reasoning_effort must be one of {', '.join(REASONING_EFFORTS)}, got {value!r}"
    return RANGES[name].problem(value, auto=True)


# -- defaults (OpenAI's legacy fine-tuning guide) -------------------------------
DEFAULT_N_EPOCHS = 4
# DPO's `beta` when `auto`: the usual value (the DPO paper's and TRL's default).
DEFAULT_BETA = 0.1
# Reinforcement: answers sampled per prompt at compute_multiplier 1 (the group whose
# rewards are normalised together); compute_multiplier scales it (at least 2).
DEFAULT_GROUP_SIZE = 4


def default_batch_size(n_examples: int) -> int:
    """About 0.2% of the training examples, at least 1, at most 256 (OpenAI's legacy
    fine-tuning guide)."""
    return max(1, min(256, round(n_examples * 0.002)))


def default_lr_multiplier(batch_size: int) -> float:
    """0.05, 0.1 or 0.2 depending on the final batch size: larger batch, larger multiplier."""
    if batch_size < 8:
        return 0.05
    if batch_size < 64:
        return 0.1
    return 0.2


def resolve_reinforcement(
    requested: Mapping[str, Any], n_steps: int, n_validation: int
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
        return {
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "learning_rate_multiplier": self.learning_rate_multiplier,
        }


def resolve(requested: Mapping[str, Any] | None, n_examples: int) -> Resolved:
    """Turn `auto`/missing values into the legacy guide's defaults for a file of
    `n_examples`; a batch is never larger than the file."""
    req = requested or {}

    def pick(name: str) -> Any:
        value = req.get(name)
        return None if value in (None, AUTO) else value

    n_epochs = int(pick("n_epochs") or DEFAULT_N_EPOCHS)
    batch_size = int(pick("batch_size") or default_batch_size(n_examples))
    batch_size = max(1, min(batch_size, max(1, n_examples)))
    lr = pick("learning_rate_multiplier")
    lr_mult = float(lr) if lr is not None else default_lr_multiplier(batch_size)
    return Resolved(n_epochs=n_epochs, batch_size=batch_size, learning_rate_multiplier=lr_mult)


# -- the typed spec -------------------------------------------------------------
class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SupervisedHyperparameters(_Frozen):
    n_epochs: int | Auto = AUTO
    batch_size: int | Auto = AUTO
    learning_rate_multiplier: float | Auto = AUTO


class DpoHyperparameters(SupervisedHyperparameters):
    beta: float | Auto = AUTO


class ReinforcementHyperparameters(SupervisedHyperparameters):
    eval_interval: int | Auto = AUTO
    eval_samples: int | Auto = AUTO
    compute_multiplier: float | Auto = AUTO
    reasoning_effort: Literal["default", "low", "medium", "high"] = "default"


Hyperparameters = SupervisedHyperparameters | DpoHyperparameters | ReinforcementHyperparameters
_HPARAM_CLASS: dict[str, type[SupervisedHyperparameters]] = {
    "supervised": SupervisedHyperparameters,
    "dpo": DpoHyperparameters,
    "reinforcement": ReinforcementHyperparameters,
}


def hyperparameters_class(method: str) -> type[SupervisedHyperparameters]:
    """The typed hyperparameters of a `method` job."""
    return _HPARAM_CLASS[method]


class LocalOptions(_Frozen):
    """The local trainer's options beyond OpenAI's (None: not asked for)."""

    training_method: TrainingMethod | None = None
    lora_rank: int | None = None
    lora_alpha: float | None = None
    lora_dropout: float | None = None
    prompt_loss_weight: float | None = None
    weight_decay: float | None = None
    compute_classification_metrics: bool | None = None
    classification_n_classes: int | None = None
    classification_positive_class: str | None = None
    classification_betas: list[float] | None = None
    stored_dtype: StoredDtype | None = None

    def asked(self) -> dict[str, Any]:
        """The options that were set, by their wire names (the job's `extra`)."""
        return self.model_dump(exclude_none=True)

    def engine_settings(self) -> dict[str, Any]:
        """The set options the engine's `TrainConfig` takes under their own names."""
        return {
            name: value
            for name, value in self.asked().items()
            if name in LOCAL_PARAMS and LOCAL_PARAMS[name].engine
        }


class JobSpecError(ValueError):
    """A request that is not a valid job, in OpenAI's error shape."""

    def __init__(self, message: str, param: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def as_openai(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "type": "invalid_request_error",
            "param": self.param,
            "code": self.code,
        }


class JobSpec(_Frozen):
    """One fine-tuning job as asked for: what the server stores and the trainer trains."""

    model: str | None = None
    training_file: str
    validation_file: str | None = None
    method: Method = "supervised"
    hyperparameters: Hyperparameters = Field(default_factory=SupervisedHyperparameters)
    options: LocalOptions = Field(default_factory=LocalOptions)
    # Reinforcement's grader, as sent, checked against OpenAI's grader schemas by
    # `fttui.core.graders` (in `_check_grader`, the one place the contract checks it).
    grader: dict[str, Any] | None = None
    # Reinforcement's `response_format` (OpenAI's FineTuneReinforcementMethod), kept as
    # sent so a clone to OpenAI keeps it; the local server refuses one (its trainer
    # samples plain text: fttui/server/job_requests.py).
    response_format: dict[str, Any] | None = None
    integrations: list[dict[str, Any]] | None = None
    seed: int | None = None
    suffix: str | None = None
    metadata: dict[str, str] | None = None

    # -- reading ----------------------------------------------------------------
    @classmethod
    def from_request(
        cls, body: Any, *, methods: tuple[str, ...] = METHODS, trainer: str = "this backend"
    ) -> JobSpec:
        """Check a job-creation body (either API); JobSpecError names the first bad field
        as it was sent. Nothing here needs the server's files or models.

        `methods`: the fine-tuning methods `trainer` trains (another is refused at
        `method.type`, before its own fields are read)."""
        return _parse(body, methods=methods, trainer=trainer)

    @classmethod
    def from_job(cls, job: Mapping[str, Any]) -> JobSpec:
        """The spec of a stored job (its `spec` column; jobs stored before it existed
        are read from their `hyperparameters`, `method` and `extra`)."""
        stored = job.get("spec")
        if isinstance(stored, dict) and stored:
            return cls.model_validate(stored)
        method = job.get("method") or {}
        mtype = method.get("type", "supervised") if isinstance(method, dict) else "supervised"
        extra = job.get("extra") or {}
        hp = {
            **{k: v for k, v in (job.get("hyperparameters") or {}).items() if v is not None},
            **{k: v for k, v in extra.items() if k in EXTRA_HPARAMS},
        }
        body = {
            "model": job.get("model"),
            "training_file": job.get("training_file"),
            "validation_file": job.get("validation_file"),
            "method": {"type": mtype, mtype: {"hyperparameters": hp}},
            "seed": job.get("seed"),
            "suffix": job.get("suffix"),
            "metadata": job.get("metadata"),
        }
        if mtype != "dpo":
            body["method"] = {"type": mtype}
            body["hyperparameters"] = hp
        return _parse(body)

    def stored(self) -> dict[str, Any]:
        """The spec as JSON, for the store (read back with `from_job`)."""
        return self.model_dump(mode="json")

    # -- what the trainer reads ---------------------------------------------------
    @property
    def training_method(self) -> str:
        """`full`, `lora` or `qlora` (LoRA options alone mean LoRA)."""
        return self.options.training_method or "full"

    def requested(self) -> dict[str, Any]:
        """The method's hyperparameters as asked (`auto` or a value)."""
        return self.hyperparameters.model_dump()

    # -- writing ------------------------------------------------------------------
    def to_request(self) -> dict[str, Any]:
        """The job-creation body for `client.jobs.create` (OpenAI's wire format).

        A supervised job sends its hyperparameters in the top-level `hyperparameters`
        every backend takes; a DPO or reinforcement job sends them (and the local
        options) inside `method.<type>.hyperparameters`, where OpenAI's API takes them.
        The legacy guide's classification options go at the top level, where that
        guide sent them (`fttui.api` drops them for backends other than the local
        server). A hyperparameter is sent as it was asked: one given as `auto` (the
        form sends each field it shows; OpenAI's job objects show `auto` too) is
        sent as `auto`, one not given is not sent; options not set are not sent.
        """
        hp: dict[str, Any] = self.hyperparameters.model_dump(exclude_unset=True)
        options = self.options.asked()
        if options.get("training_method") == "full":
            del options["training_method"]  # the default
        top = {k: options.pop(k) for k in _CLASSIFICATION if k in options}
        hp.update(options)
        body: dict[str, Any] = {"training_file": self.training_file}
        if self.model is not None:
            body["model"] = self.model
        body.update(top)
        for key in ("validation_file", "suffix", "seed", "metadata", "integrations"):
            value = getattr(self, key)
            if value not in (None, "", {}, []):
                body[key] = value
        if self.method == "supervised":
            if hp:
                body["hyperparameters"] = hp
        else:
            inner: dict[str, Any] = {"hyperparameters": hp}
            if self.method == "reinforcement" and self.grader is not None:
                inner["grader"] = self.grader
            if self.method == "reinforcement" and self.response_format is not None:
                inner["response_format"] = self.response_format
            body["method"] = {"type": self.method, self.method: inner}
        return body


# -- parsing ----------------------------------------------------------------------
def _bad(message: str, param: str, code: str = "invalid_value") -> JobSpecError:
    return JobSpecError(message, param, code)


def _refuse_unsafe(value: str, param: str, what: str | None = None) -> None:
    """Client strings the server stores and shows again: no controls (docs/server.md)."""
    problem = find_unsafe(value)
    if problem is not None:
        raise JobSpecError(
            f"{what or param} contains {problem}; control characters, bidirectional text "
            "controls and lone surrogates are not allowed in names and stored text",
            param,
            "invalid_characters",
        )


def _quote(value: Any, limit: int = 60) -> str:
    """A value from the request, for a message: repr made safe, cut to `limit`."""
    text = safe_text(repr(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> Any:
    """JSON has one number type: 3.0 is the integer 3 (as JSON Schema says)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_KNOWN_HPARAMS = frozenset({*RANGES, "reasoning_effort", *EXTRA_HPARAMS})
# What a method's object holds beyond `hyperparameters` (OpenAI's
# FineTuneReinforcementMethod; its job objects show `response_format: null`).
_METHOD_FIELDS = {"reinforcement": ("grader", "response_format")}


def _collect_hyperparameters(
    body: dict[str, Any], methods: tuple[str, ...], trainer: str
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(method type, hyperparameters, where each was given).

    Merges `method.<type>.hyperparameters` (OpenAI's current place), the deprecated
    top-level `hyperparameters` and the legacy guide's top-level fields; `where` maps
    each name to the object it came from, so an error names the field as sent.
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
        if not isinstance(mtype, str) or mtype not in methods:
            raise _bad(
                f"method.type {_quote(mtype)} is not supported by {trainer or 'fttui'}; use "
                f"{' or '.join(map(repr, methods))} (LoRA: hyperparameters.training_method = 'lora')",
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
        allowed = {"hyperparameters", *_METHOD_FIELDS.get(mtype, ())}
        unknown = sorted(set(inner) - allowed)
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
    for key in EXTRA_HPARAMS:
        if key in body and body[key] is not None and key not in hp:
            hp[key] = body[key]
            # Named as the legacy guide's hyperparameter it is.
            where[key] = "hyperparameters."
    unknown = sorted(set(hp) - _KNOWN_HPARAMS)
    if unknown:
        name = unknown[0]
        raise _bad(f"Unknown hyperparameter(s): {', '.join(unknown)}", where[name] + name)
    for name in sorted(set(hp) & (RANGES.keys() | {"reasoning_effort"})):
        if name not in METHOD_HPARAMS[mtype]:
            owners = [m for m in METHODS if name in METHOD_HPARAMS[m]]
            kind = "a DPO" if owners == ["dpo"] else f"a {' or '.join(owners)}"
            raise _bad(
                f"{name} is {kind} hyperparameter; this is a {mtype} job "
                f"(method.type {owners[0]!r} takes it)",
                where[name] + name,
            )
    for key in RFT_HPARAMS:
        if key in hp and where[key].startswith("hyperparameters"):
            raise _bad(
                f"{key} goes in method.reinforcement.hyperparameters, as in OpenAI's API",
                "hyperparameters." + key,
            )
    if mtype == "dpo" and where.get("beta", "").startswith("hyperparameters"):
        raise _bad(
            "beta goes in method.dpo.hyperparameters, as in OpenAI's API",
            "hyperparameters.beta",
        )
    if mtype != "supervised":
        for key in SUPERVISED_ONLY:
            if key in hp:
                label = "DPO" if mtype == "dpo" else mtype
                raise _bad(
                    f"{key} applies to supervised jobs only, not to {label}", where[key] + key
                )
    return mtype, hp, where


def _check_options(hp: dict[str, Any], has_validation: bool, where: dict[str, str]) -> LocalOptions:
    """The legacy guide's classification options and fttui's training-method options."""
    extra: dict[str, Any] = {}

    def p(name: str) -> str:
        """The field `name` as it was sent (`hyperparameters.name` by default)."""
        return where.get(name, "hyperparameters.") + name

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
        _refuse_unsafe(positive, p("classification_positive_class"))
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
    method = hp.get("training_method")
    if method is not None:
        if method not in TRAINING_METHODS:
            raise _bad(
                "training_method must be 'full', 'lora' or 'qlora' (LoRA on a 4-bit base)",
                p("training_method"),
            )
        extra["training_method"] = method
    stored = hp.get("stored_dtype")
    if stored is not None:
        if stored not in STORED_DTYPES:
            raise _bad(
                f"stored_dtype {_quote(stored)} is not supported; use "
                f"{', '.join(map(repr, STORED_DTYPES))} (the final model's number format)",
                p("stored_dtype"),
            )
        extra["stored_dtype"] = stored
    for param in LOCAL_PARAMS.values():
        value = hp.get(param.name)
        if value is None:
            continue
        problem = param.problem(value, auto=False)
        if problem:
            raise _bad(problem, p(param.name))
        extra[param.name] = _whole(value) if param.kind is int else float(value)
        if param.name in _LORA:
            extra.setdefault("training_method", "lora")
    if extra.get("training_method") == "full" and any(k in extra for k in _LORA):
        raise _bad("lora_* options need training_method 'lora' or 'qlora'", p("training_method"))
    return LocalOptions(**extra)


def _check_grader(grader: Any, mtype: str) -> dict[str, Any] | None:
    """Reinforcement's grader: required, and an object OpenAI's schemas accept
    (`fttui.core.graders`, errors naming the field path as sent). What one backend
    can run on top of that is that backend's check (the local server's:
    fttui/server/grader_requests.py)."""
    if mtype != "reinforcement":
        return None
    path = "method.reinforcement.grader"
    if grader is None:
        raise _bad(
            f"{path} is required for a reinforcement job: the grader that scores each answer",
            path,
            "missing_required_parameter",
        )
    try:
        parse_grader(grader, path)
    except GraderError as exc:
        raise _bad(f"{exc.path}: {exc.message}", exc.path, "invalid_grader") from None
    return dict(grader)


def _check_integrations(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and isinstance(item.get("type"), str) for item in value
    ):
        raise _bad("'integrations' must be a list of objects, each with a 'type'", "integrations")
    return list(value)


def _parse(body: Any, *, methods: tuple[str, ...] = METHODS, trainer: str = "") -> JobSpec:
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object", "body")
    training = body.get("training_file")
    if training in (None, ""):
        raise _bad("'training_file' is required", "training_file", "missing_required_parameter")
    if not isinstance(training, str):
        raise _bad("'training_file' must be a file id string", "training_file")
    validation = body.get("validation_file")
    if validation in (None, ""):
        validation = None
    elif not isinstance(validation, str):
        raise _bad("'validation_file' must be a file id string", "validation_file")
    model = body.get("model")
    if model in (None, ""):
        model = None
    elif not isinstance(model, str):  # `{}` or `false` is a mistake, not "use the default"
        raise _bad("'model' must be a string: a base model or a fine-tuned model", "model")
    suffix = body.get("suffix")
    if suffix is not None:
        if not isinstance(suffix, str):
            raise _bad("'suffix' must be a string", "suffix")
        _refuse_unsafe(suffix, "suffix")
        problem = suffix_problem(suffix)
        if problem:
            raise _bad(problem, "suffix")
    mtype, hp, where = _collect_hyperparameters(body, methods, trainer)
    standard: dict[str, Any] = {}
    for name in METHOD_HPARAMS[mtype]:
        value = hp.get(name)
        problem = check_hyperparameter(name, value)
        if problem:
            raise _bad(problem, where.get(name, "hyperparameters.") + name)
        if value == AUTO:
            standard[name] = AUTO  # given: `to_request` sends it back as it was asked
        elif value is not None:
            standard[name] = _whole(value) if name in RANGES and RANGES[name].kind is int else value
    options = _check_options(hp, validation is not None, where)
    method = body.get("method")
    inner = method.get(mtype) if isinstance(method, dict) else None
    grader = _check_grader(inner.get("grader") if isinstance(inner, dict) else None, mtype)
    response_format = inner.get("response_format") if isinstance(inner, dict) else None
    if response_format is not None and not isinstance(response_format, dict):
        raise _bad(
            f"method.{mtype}.response_format must be an object (OpenAI's response format)",
            f"method.{mtype}.response_format",
        )
    seed = _whole(body.get("seed"))
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31
    ):
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
        _refuse_unsafe(key, "metadata", what="a metadata key")
        _refuse_unsafe(value, "metadata", what=f"metadata value {key!r}")
    return JobSpec(
        model=model,
        training_file=training,
        validation_file=validation,
        method=mtype,  # type: ignore[arg-type]  # checked against METHOD_HPARAMS above
        hyperparameters=_HPARAM_CLASS[mtype](**standard),
        options=options,
        grader=grader,
        response_format=response_format,
        integrations=_check_integrations(body.get("integrations")),
        seed=seed,
        suffix=suffix or None,
        metadata=metadata,
    )


# -- the request's JSON Schema (OpenAPI) ------------------------------------------
# What `find_unsafe` refuses in stored strings (controls, bidi controls, line and
# paragraph separators), as a JSON Schema pattern.
SAFE_PATTERN = (
    "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e"
    "\\u2066-\\u2069\\u2028\\u2029]*$"
)


def _auto_or(param: Param) -> dict[str, Any]:
    return {"anyOf": [{"const": AUTO}, {"type": "null"}, param.schema()]}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "null"}, schema]}


def _local_schema(method: str) -> dict[str, Any]:
    """The local options a `method` job takes, as JSON Schema properties."""
    props: dict[str, Any] = {
        "training_method": {"enum": [*TRAINING_METHODS, None]},
        "stored_dtype": {"enum": [*STORED_DTYPES, None]},
        **{p.name: _nullable(p.schema()) for p in LOCAL_PARAMS.values() if method in p.methods},
    }
    if method == "supervised":
        props.update(
            {
                "compute_classification_metrics": {"type": ["boolean", "null"]},
                "classification_n_classes": {"type": ["integer", "null"], "minimum": 2},
                "classification_positive_class": _nullable(
                    {"type": "string", "minLength": 1, "pattern": SAFE_PATTERN}
                ),
                "classification_betas": _nullable(
                    {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "number", "exclusiveMinimum": 0},
                    }
                ),
            }
        )
    return props


def _is_set(name: str) -> dict[str, Any]:
    """JSON Schema for "`name` is present and not null"."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


# Rules between hyperparameters that the parser enforces.
_HPARAM_RULES: list[dict[str, Any]] = [
    # a positive class is binary: n_classes, when given, must be 2
    {
        "if": _is_set("classification_positive_class"),
        "then": {
            "properties": {"classification_n_classes": {"anyOf": [{"type": "null"}, {"const": 2}]}}
        },
    },
    # lora_* options mean LoRA: not with training_method "full"
    {
        "if": {
            "required": ["training_method"],
            "properties": {"training_method": {"const": "full"}},
        },
        "then": {"not": {"anyOf": [_is_set(name) for name in _LORA]}},
    },
]


def hyperparameters_schema(method: str = "supervised", *, local: bool = True) -> dict[str, Any]:
    """JSON Schema of a `method` job's hyperparameters object (OpenAI's, plus the local
    trainer's options when `local`)."""
    props: dict[str, Any] = {
        name: _auto_or(RANGES[name]) for name in METHOD_HPARAMS[method] if name in RANGES
    }
    if "reasoning_effort" in METHOD_HPARAMS[method]:
        props["reasoning_effort"] = {"enum": [*REASONING_EFFORTS, None]}
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if local:
        props.update(_local_schema(method))
        schema["allOf"] = _HPARAM_RULES
    return schema


_CCM_ON = {
    "required": ["compute_classification_metrics"],
    "properties": {"compute_classification_metrics": {"const": True}},
}


def request_schema(*, legacy: bool = False) -> dict[str, Any]:
    """The JSON Schema of `POST /v1/fine_tuning/jobs` (or the legacy `/v1/fine-tunes`).

    Generated from the tables above, so it says what `JobSpec.from_request` accepts:
    the API fuzz test (tests/reliability/test_fuzz_api.py) generates bodies from it and
    requires schema-valid ones to be accepted. The server also reads the legacy
    guide's options at the top level; the schema documents the nested form only.
    Reinforcement is left out: its grader's schema is OpenAI's, not generated here.
    """
    properties: dict[str, Any] = {
        "model": {"type": "string", "minLength": 1} if not legacy else {"type": ["string", "null"]},
        "training_file": {"type": "string", "minLength": 1},
        "validation_file": {"anyOf": [{"type": "null"}, {"type": "string"}]},
        "suffix": _nullable(
            {"type": "string", "maxLength": SUFFIX_MAX, "pattern": "^[A-Za-z0-9 _.\\-]*$"}
        ),
        "seed": {"type": ["integer", "null"], "minimum": 0, "maximum": 2**31 - 1},
        "metadata": _nullable(
            {
                "type": "object",
                "maxProperties": 16,
                "propertyNames": {"maxLength": 64, "pattern": SAFE_PATTERN},
                "additionalProperties": {
                    "type": "string",
                    "maxLength": 512,
                    "pattern": SAFE_PATTERN,
                },
            }
        ),
        "hyperparameters": _nullable(hyperparameters_schema("supervised")),
    }
    if legacy:  # the legacy API took the standard hyperparameters at the top level
        properties.update({name: _auto_or(RANGES[name]) for name in STANDARD_HPARAMS})
        # (a nested `hyperparameters` object is read too, the top level winning: not
        # documented, so a value there is never silently overridden by the schema's own)
        del properties["hyperparameters"]
    else:
        standard_only = hyperparameters_schema("supervised", local=False)
        properties["method"] = _nullable(
            {
                "type": "object",
                "properties": {
                    "type": {"const": "supervised"},  # the default when absent
                    "supervised": _nullable(
                        {
                            "type": "object",
                            "properties": {"hyperparameters": _nullable(standard_only)},
                            "additionalProperties": False,
                        }
                    ),
                },
                # A key other than `type` and the method's own object is refused
                # with a 400 naming it (method.dpo is described in docs/server.md).
                "additionalProperties": False,
            }
        )
    return {
        "type": "object",
        "required": ["training_file"] if legacy else ["model", "training_file"],
        "properties": properties,
        # classification metrics are computed on the validation file
        "if": {"required": ["hyperparameters"], "properties": {"hyperparameters": _CCM_ON}}
        if not legacy
        else {"not": {}},
        "then": {
            "required": ["validation_file"],
            "properties": {"validation_file": {"type": "string", "minLength": 1}},
        },
    }
