"""JSON Schemas of the request bodies that routes parse by hand, for the OpenAPI document.

The job and upload routes read their bodies themselves (to name a bad field OpenAI's
way, and to stream uploads to disk), so FastAPI cannot derive their schemas. These
are written to say what the parsers accept, rules between fields included, so that a
fuzzer (tests/reliability/test_fuzz_api.py) generates bodies that reach the
validation code and checks that schema-valid bodies are accepted and others refused.
"""

from __future__ import annotations

from typing import Any

from fttui.core.hparams import RANGES
from fttui.core.naming import SUFFIX_MAX
from fttui.server.uploads import PURPOSES

# What `core.safe_text.find_unsafe` refuses in stored strings (controls, bidi
# controls, line/paragraph separators, surrogates), as a JSON Schema pattern.
_SAFE = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$"


def _hparam(name: str) -> dict[str, Any]:
    kind, low, high, inclusive = RANGES[name]
    number: dict[str, Any] = {"type": "integer" if kind is int else "number", "maximum": high}
    number["minimum" if inclusive else "exclusiveMinimum"] = low
    return {"anyOf": [{"const": "auto"}, {"type": "null"}, number]}


_STANDARD = {name: _hparam(name) for name in ("n_epochs", "batch_size", "learning_rate_multiplier")}
_EXTRA: dict[str, Any] = {
    "compute_classification_metrics": {"type": ["boolean", "null"]},
    "classification_n_classes": {"type": ["integer", "null"], "minimum": 2},
    "classification_positive_class": {
        "anyOf": [{"type": "null"}, {"type": "string", "minLength": 1, "pattern": _SAFE}]
    },
    "classification_betas": {
        "anyOf": [
            {"type": "null"},
            {"type": "array", "minItems": 1, "items": {"type": "number", "exclusiveMinimum": 0}},
        ]
    },
    "prompt_loss_weight": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
    "training_method": {"enum": ["full", "lora", None]},
    "lora_rank": {"type": ["integer", "null"], "minimum": 1, "maximum": 1024},
    "lora_alpha": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 4096},
    "lora_dropout": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
}
_LORA = ("lora_rank", "lora_alpha", "lora_dropout")


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

HYPERPARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {**_STANDARD, **_EXTRA},
    "additionalProperties": False,
    "allOf": _HPARAM_RULES,
}

_METADATA = {
    "anyOf": [
        {"type": "null"},
        {
            "type": "object",
            "maxProperties": 16,
            "propertyNames": {"maxLength": 64, "pattern": _SAFE},
            "additionalProperties": {"type": "string", "maxLength": 512, "pattern": _SAFE},
        },
    ]
}
_ID = {"type": "string", "minLength": 1}


_CCM_ON = {
    "required": ["compute_classification_metrics"],
    "properties": {"compute_classification_metrics": {"const": True}},
}


def _job_schema(*, legacy: bool) -> dict[str, Any]:
    """The body of POST /fine_tuning/jobs (or the legacy POST /fine-tunes).

    Hyperparameters go in `hyperparameters` (and, for the current API, also in
    `method.supervised.hyperparameters`; for the legacy one the standard three also at
    the top level). The server reads the legacy guide's options at the top level too;
    the schema documents the nested form only.
    """
    properties: dict[str, Any] = {
        "model": {"type": "string", "minLength": 1} if not legacy else {"type": ["string", "null"]},
        "training_file": _ID,
        "validation_file": {"anyOf": [{"type": "null"}, {"type": "string"}]},
        "suffix": {
            "anyOf": [
                {"type": "null"},
                {"type": "string", "maxLength": SUFFIX_MAX, "pattern": "^[A-Za-z0-9 _.\\-]*$"},
            ]
        },
        "seed": {"type": ["integer", "null"], "minimum": 0, "maximum": 2**31 - 1},
        "metadata": _METADATA,
        "hyperparameters": {"anyOf": [{"type": "null"}, HYPERPARAMETERS]},
    }
    if legacy:  # the legacy API took the standard hyperparameters at the top level
        properties.update(_STANDARD)
        # (a nested `hyperparameters` object is read too, the top level winning: not
        # documented, so a value there is never silently overridden by the schema's own)
        del properties["hyperparameters"]
    else:
        standard_only = {"type": "object", "properties": _STANDARD, "additionalProperties": False}
        properties["method"] = {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": "supervised"},  # the default when absent
                        "supervised": {
                            "anyOf": [
                                {"type": "null"},
                                {
                                    "type": "object",
                                    "properties": {
                                        "hyperparameters": {
                                            "anyOf": [{"type": "null"}, standard_only]
                                        }
                                    },
                                    "additionalProperties": False,
                                },
                            ]
                        },
                    },
                    # A key other than `type` and the method's own object is refused
                    # with a 400 naming it (method.dpo is described in docs/server.md).
                    "additionalProperties": False,
                },
            ]
        }
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


def _body(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {media: {"schema": schema}}}}


JOB_REQUEST = _body(_job_schema(legacy=False))
LEGACY_JOB_REQUEST = _body(_job_schema(legacy=True))
UPLOAD_REQUEST = _body(
    {
        "type": "object",
        "required": ["purpose", "file"],
        "properties": {
            "purpose": {"enum": list(PURPOSES)},
            "file": {"type": "string", "format": "binary"},
        },
    },
    "multipart/form-data",
)
