"""The job contract (`fttui.core.job_spec`): the form, the schema and the parser agree.

The job form checks its fields itself, the server parses with `JobSpec.from_request`,
and the OpenAPI document's request schema (which the API fuzz test generates bodies
from) is `request_schema()`. Each boundary value of each hyperparameter the form
offers must get the same verdict from all three, and every hyperparameter of the
contract must have a field in the form or be named as not offered there.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, Select

from fttui.core.job_spec import (
    LOCAL_PARAMS,
    METHOD_HPARAMS,
    RANGES,
    JobSpec,
    JobSpecError,
    LocalOptions,
    Param,
    hyperparameters_schema,
    request_schema,
)
from widgets import HyperparamForm
from widgets.hparam_form import FIELDS, METHOD_TYPES, OPTIONS_NOT_IN_FORM, SEED_MAX

FORM_METHODS = [value for _, value in METHOD_TYPES]
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


def _boundaries(param: Param) -> list[Any]:
    """Values on and around each end of the range, and a few that are no number."""
    step = 1 if param.kind is int else 1e-6
    values: list[Any] = [param.low, param.low - step, param.low + step, "x", "auto"]
    if param.high is not None:
        values += [param.high, param.high + step, param.high - step]
    else:
        values.append(10**6)
    return values


def _text(value: Any) -> str:
    return "" if value == "auto" else str(value)


def _parser_accepts(body: dict[str, Any]) -> bool:
    try:
        JobSpec.from_request(body)
    except JobSpecError:
        return False
    return True


def _schema_accepts(schema: dict[str, Any], instance: Any) -> bool:
    return jsonschema.validators.validator_for(schema)(schema).is_valid(instance)


class _Form(App[None]):
    def compose(self) -> ComposeResult:
        yield HyperparamForm()


def test_every_hyperparameter_has_a_form_field_or_is_named_as_not_offered() -> None:
    offered = set(FIELDS)
    for method in FORM_METHODS:
        for name in METHOD_HPARAMS[method]:
            assert name in offered, f"the form has no field for {method} {name}"
    for name in LOCAL_PARAMS:
        assert (name in offered) != (name in OPTIONS_NOT_IN_FORM), (
            f"{name}: a form field, or named in OPTIONS_NOT_IN_FORM (exactly one of the two)"
        )
    # The form's fields are the contract's names (except the method picker, and the W&B
    # project, which with its run name and tags makes `integrations`).
    known = {
        *JobSpec.model_fields,
        *LocalOptions.model_fields,
        *{name for names in METHOD_HPARAMS.values() for name in names},
        "method_type",
        "wandb_project",
    }
    assert offered <= known, offered - known


async def test_form_schema_and_parser_agree_at_every_boundary() -> None:
    app = _Form()
    disagreements: list[str] = []
    supervised_schema = request_schema()
    async with app.run_test(size=(120, 60)) as pilot:
        form = app.query_one(HyperparamForm)
        numeric = [
            (method, RANGES.get(name) or LOCAL_PARAMS[name])
            for method in FORM_METHODS
            for name in (*METHOD_HPARAMS[method], *LOCAL_PARAMS)
            if name in FIELDS
            and (name in RANGES or (name in LOCAL_PARAMS and method in LOCAL_PARAMS[name].methods))
        ]
        assert numeric, "no numeric field checked"
        for method, param in numeric:
            form.query_one("#method_type", Select).value = method
            for value in _boundaries(param):
                if value == "auto" and param.name in LOCAL_PARAMS:
                    continue  # the local options take a number; empty = not set
                form.query_one(f"#{param.name}", Input).value = _text(value)
                await pilot.pause()
                form_ok = param.name not in form.validate()
                hp = {param.name: value}
                body: dict[str, Any] = {"model": "m", "training_file": "file-t"}
                if method == "supervised":
                    body["hyperparameters"] = hp
                    schema_ok = _schema_accepts(supervised_schema, body)
                else:
                    inner: dict[str, Any] = {"hyperparameters": hp}
                    if method == "reinforcement":
                        inner["grader"] = GRADER
                    body["method"] = {"type": method, method: inner}
                    schema_ok = _schema_accepts(hyperparameters_schema(method), hp)
                parser_ok = _parser_accepts(body)
                if not form_ok == schema_ok == parser_ok:
                    disagreements.append(
                        f"{method} {param.name}={value!r}: form {form_ok}, "
                        f"schema {schema_ok}, parser {parser_ok}"
                    )
            form.query_one(f"#{param.name}", Input).value = ""
        for seed in (-1, 0, SEED_MAX, SEED_MAX + 1, "x"):
            form.query_one("#seed", Input).value = str(seed)
            await pilot.pause()
            form_ok = "seed" not in form.validate()
            body = {"model": "m", "training_file": "file-t", "seed": seed}
            schema_ok = _schema_accepts(supervised_schema, body)
            parser_ok = _parser_accepts(body)
            if not form_ok == schema_ok == parser_ok:
                disagreements.append(
                    f"seed={seed!r}: form {form_ok}, schema {schema_ok}, parser {parser_ok}"
                )
    assert disagreements == []


def test_local_options_the_form_does_not_offer_agree_between_schema_and_parser() -> None:
    schema = request_schema()
    disagreements = []
    for param in LOCAL_PARAMS.values():
        for value in _boundaries(param):
            if value == "auto":
                continue
            body = {"model": "m", "training_file": "file-t", "hyperparameters": {param.name: value}}
            if "supervised" not in param.methods:
                continue
            if _schema_accepts(schema, body) != _parser_accepts(body):
                disagreements.append(f"{param.name}={value!r}")
    assert disagreements == []


@pytest.mark.parametrize(
    "spec",
    [
        JobSpec(training_file="file-t", model="m"),
        JobSpec.from_request(
            {
                "model": "m",
                "training_file": "file-t",
                "validation_file": "file-v",
                "suffix": "my model",
                "seed": 7,
                "metadata": {"team": "a"},
                "hyperparameters": {"n_epochs": 3, "training_method": "lora", "lora_rank": 8},
                "compute_classification_metrics": True,
                "classification_n_classes": 2,
                "classification_positive_class": " yes",
            }
        ),
        JobSpec.from_request(
            {
                "model": "m",
                "training_file": "file-t",
                "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.3}}},
            }
        ),
        JobSpec.from_request(
            {
                "model": "m",
                "training_file": "file-t",
                "method": {
                    "type": "reinforcement",
                    "reinforcement": {
                        "grader": GRADER,
                        "hyperparameters": {"eval_interval": 2, "reasoning_effort": "low"},
                    },
                },
            }
        ),
    ],
    ids=["defaults", "supervised-everything", "dpo", "reinforcement"],
)
def test_to_request_reads_back_as_the_same_spec(spec: JobSpec) -> None:
    assert JobSpec.from_request(spec.to_request()) == spec
    assert JobSpec.from_job({"spec": spec.stored()}) == spec


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        (
            {"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 3}}}},
            "method.dpo.hyperparameters.beta",
            "beta must be in (0, 2]",
        ),
        ({"hyperparameters": {"beta": 0.1}}, "hyperparameters.beta", "DPO hyperparameter"),
        (
            {"hyperparameters": {"eval_samples": 2}},
            "hyperparameters.eval_samples",
            "reinforcement hyperparameter",
        ),
        (
            {"method": {"type": "reinforcement"}},
            "method.reinforcement.grader",
            "grader is required",
        ),
        (
            {
                "method": {
                    "type": "reinforcement",
                    "reinforcement": {
                        "grader": GRADER,
                        "hyperparameters": {"reasoning_effort": "max"},
                    },
                }
            },
            "method.reinforcement.hyperparameters.reasoning_effort",
            "reasoning_effort must be one of",
        ),
        (
            {
                "method": {
                    "type": "reinforcement",
                    "reinforcement": {"grader": {**GRADER, "operation": "is"}},
                }
            },
            "method.reinforcement.grader.operation",
            "method.reinforcement.grader.operation",
        ),
        ({"integrations": "wandb"}, "integrations", "list of objects"),
        ({"hyperparameters": {"lora_dropout": 2}}, "hyperparameters.lora_dropout", "[0, 1]"),
    ],
)
def test_errors_name_the_field_as_sent_in_openais_shape(
    body: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(JobSpecError) as caught:
        JobSpec.from_request({"model": "m", "training_file": "file-t", **body})
    error = caught.value.as_openai()
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and words in error["message"], error


# Jobs the form can hold whole: on the local server (LoRA, weight decay, the legacy
# guide's classification options) and on another backend (W&B, reinforcement's
# response_format, which the local server refuses).
FORM_SPECS = {
    "local supervised": (
        True,
        {
            "model": "m",
            "training_file": "file-t",
            "validation_file": "file-v",
            "suffix": "my model",
            "seed": 7,
            "hyperparameters": {
                "n_epochs": 3,
                "batch_size": "auto",
                "learning_rate_multiplier": 0.5,
                "training_method": "lora",
                "weight_decay": 0.1,
            },
            "compute_classification_metrics": True,
            "classification_n_classes": 2,
            "classification_positive_class": " yes",
            "classification_betas": [0.5, 2.0],
        },
    ),
    "local dpo": (
        True,
        {
            "model": "m",
            "training_file": "file-t",
            "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.3, "n_epochs": 2}}},
        },
    ),
    "openai reinforcement": (
        False,
        {
            "model": "o4-mini",
            "training_file": "file-t",
            "validation_file": "file-v",
            "integrations": [{"type": "wandb", "wandb": {"project": "p", "tags": ["a", "b"]}}],
            "method": {
                "type": "reinforcement",
                "reinforcement": {
                    "grader": GRADER,
                    "response_format": {"type": "json_schema", "json_schema": {"name": "x"}},
                    "hyperparameters": {
                        "eval_interval": 2,
                        "compute_multiplier": 1.5,
                        "reasoning_effort": "low",
                    },
                },
            },
        },
    ),
}


@pytest.mark.parametrize("case", list(FORM_SPECS))
async def test_the_form_gives_back_the_spec_it_loads(case: str) -> None:
    """A clone goes through the form as a `JobSpec`: loaded into the fields and read
    back by the contract unchanged, on each kind of backend."""
    local, body = FORM_SPECS[case]
    spec = JobSpec.from_request(body)
    app = _Form()
    async with app.run_test(size=(120, 60)) as pilot:
        form = app.query_one(HyperparamForm)
        form.local = local
        await pilot.pause()
        form.load_spec(spec)
        await pilot.pause()
        assert form.validate() == {}
        assert form.spec() == spec
        # What is sent is what the contract writes for it.
        assert JobSpec.from_request(form.spec().to_request()) == spec


async def test_a_value_only_the_contract_refuses_is_named_under_its_field() -> None:
    """The form's own checks let a bidi control into the positive class through; the
    contract (what the server parses with) refuses it, under that field."""
    app = _Form()
    async with app.run_test(size=(120, 60)) as pilot:
        form = app.query_one(HyperparamForm)
        form.load_spec(JobSpec.from_request(FORM_SPECS["local supervised"][1]))
        form.query_one("#classification_positive_class", Input).value = "yes\u202e"
        await pilot.pause()
        with pytest.raises(JobSpecError) as caught:
            form.spec()
        assert caught.value.param == "hyperparameters.classification_positive_class"
        assert form.show_contract_error(caught.value) == "classification_positive_class"
        shown = str(form.query_one("#classification_positive_class-error").render())
        assert "U+202E" in shown
