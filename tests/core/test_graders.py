"""OpenAI's grader objects: OpenAI's own examples parse, bad graders are refused by field.

The examples come from OpenAI's published OpenAPI spec (tests/core/openai_grader_examples.json
names the repository, commit and date; scripts/openai_grader_examples.py rebuilt it).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fttui.core.graders import (
    GraderError,
    LabelModelGrader,
    MultiGrader,
    PythonGrader,
    Sample,
    ScoreModelGrader,
    StringCheckGrader,
    TemplateError,
    TextSimilarityGrader,
    item_references,
    parse_grader,
    render,
)

SPEC = json.loads(Path(__file__).with_name("openai_grader_examples.json").read_text())
EXAMPLES: dict[str, Any] = SPEC["schema_examples"]
ALL = ("string_check", "text_similarity", "python", "score_model", "label_model", "multi")


def example(name: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[name])


def test_fixture_names_its_source() -> None:
    assert SPEC["source"]["repository"] == "https://github.com/openai/openai-openapi"
    assert len(SPEC["source"]["commit"]) == 40


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("GraderStringCheck", StringCheckGrader),
        ("GraderTextSimilarity", TextSimilarityGrader),
        ("GraderPython", PythonGrader),
        ("GraderScoreModel", ScoreModelGrader),
        ("GraderLabelModel", LabelModelGrader),
    ],
)
def test_openai_schema_examples_parse(name: str, cls: type) -> None:
    grader = parse_grader(example(name), allowed=ALL)
    assert isinstance(grader, cls)
    assert grader.name == EXAMPLES[name]["name"]


def test_openai_examples_of_the_job_and_the_graders_api_parse() -> None:
    body = SPEC["reinforcement_job_request"]
    grader = parse_grader(body["method"]["reinforcement"]["grader"])
    assert isinstance(grader, StringCheckGrader) and grader.operation == "eq"
    assert isinstance(parse_grader(SPEC["validate_grader_request"]["grader"]), StringCheckGrader)
    for request in SPEC["run_grader_requests"]:
        assert isinstance(parse_grader(request["grader"]), ScoreModelGrader)


def test_openai_run_grader_example_renders_its_item_and_sample() -> None:
    request = SPEC["run_grader_requests"][0]
    grader = parse_grader(request["grader"])
    assert isinstance(grader, ScoreModelGrader)
    text = grader.input[0].parts()[0].text  # type: ignore[union-attr]
    out = render(text, Sample.from_text(request["model_sample"]), request["item"])
    assert "Reference answer: fuzzy wuzzy was a bear" in out
    assert "Model answer: fuzzy wuzzy was a bear" in out
    assert "{{" not in out
    assert [r.text for r in item_references(grader)] == ["item.reference_answer"]


def test_openai_multi_example_is_refused_at_its_formula() -> None:
    # The spec's own multi example has an unbalanced parenthesis in calculate_output.
    with pytest.raises(GraderError) as err:
        parse_grader(example("GraderMulti"), "method.reinforcement.grader")
    assert err.value.path == "method.reinforcement.grader.calculate_output"
    assert "not a valid formula" in err.value.message


def test_multi_as_the_graders_guide_writes_it() -> None:
    sub = example("GraderMulti")["graders"]
    grader = parse_grader(
        {
            "type": "multi",
            "name": "combined",
            "graders": {"similar": sub[0], "exact": sub[1]},
            "calculate_output": "0.5 * similar + 0.5 * exact ^ 2 + min(similar, exact)",
        }
    )
    assert isinstance(grader, MultiGrader)
    assert grader.formula.evaluate({"similar": 0.5, "exact": 1.0}) == pytest.approx(1.25)
    # the spec's list form: each grader's name is its key
    listed = example("GraderMulti")
    listed["graders"][0]["name"] = "sim"
    listed["graders"][1]["name"] = "exact"
    listed["calculate_output"] = "(sim + exact) / 2"
    assert isinstance(parse_grader(listed), MultiGrader)


def test_label_model_only_inside_a_multi_grader_for_reinforcement() -> None:
    with pytest.raises(GraderError) as err:
        parse_grader(example("GraderLabelModel"), "method.reinforcement.grader")
    assert err.value.path == "method.reinforcement.grader.type"
    multi = {
        "type": "multi",
        "name": "m",
        "graders": {"sentiment": example("GraderLabelModel")},
        "calculate_output": "sentiment",
    }
    assert isinstance(parse_grader(multi), MultiGrader)


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (
            lambda g: g["graders"]["a"].update(operation="equals"),
            "method.reinforcement.grader.graders.a.operation",
            "'eq', 'ne', 'like' or 'ilike'",
        ),
        (
            lambda g: g["graders"]["a"].pop("reference"),
            "method.reinforcement.grader.graders.a.reference",
            "is required",
        ),
        (
            lambda g: g["graders"]["a"].update(weight=2),
            "method.reinforcement.grader.graders.a.weight",
            "refused, not ignored",
        ),
        (
            lambda g: g["graders"]["b"].update(evaluation_metric="jaccard"),
            "method.reinforcement.grader.graders.b.evaluation_metric",
            "fuzzy_match",
        ),
        (
            lambda g: g["graders"]["a"].update(input="{{output_text}}"),
            "method.reinforcement.grader.graders.a.input",
            "item or sample",
        ),
        (
            lambda g: g["graders"]["a"].update(input="{{sample.text}}"),
            "method.reinforcement.grader.graders.a.input",
            "output_text",
        ),
        (
            lambda g: g.update(calculate_output="a + c"),
            "method.reinforcement.grader.calculate_output",
            "'c' is not one of the graders' keys",
        ),
        (
            lambda g: g.update(calculate_output="__import__('os').system('x')"),
            "method.reinforcement.grader.calculate_output",
            "functions",
        ),
        (
            lambda g: g.update(calculate_output="a.real"),
            "method.reinforcement.grader.calculate_output",
            "not allowed",
        ),
        (
            lambda g: g["graders"].update(c={"type": "multi"}),
            "method.reinforcement.grader.graders.c.type",
            "not allowed here",
        ),
        (
            lambda g: g["graders"].update(c={"type": "python", "name": "p", "source": "x = 1"}),
            "method.reinforcement.grader.graders.c",
            "grade(sample, item)",
        ),
        (
            lambda g: g["graders"].update(
                c={"type": "python", "name": "p", "source": "def grade(:\n"}
            ),
            "method.reinforcement.grader.graders.c",
            "not valid Python (line 1)",
        ),
        (
            lambda g: g["graders"].update(
                c={
                    "type": "score_model",
                    "name": "s",
                    "model": "m",
                    "input": [{"role": "user", "content": [{"type": "input_txt", "text": "x"}]}],
                }
            ),
            "method.reinforcement.grader.graders.c.input[0].content[0]",
            "input_txt",
        ),
        (
            lambda g: g["graders"].update(
                c={"type": "score_model", "name": "s", "model": "m", "input": [], "range": [1, 0]}
            ),
            "method.reinforcement.grader.graders.c",
            "low < high",
        ),
        (
            lambda g: g["graders"].update(
                c={
                    "type": "label_model",
                    "name": "l",
                    "model": "m",
                    "input": [{"role": "user", "content": "{{sample.output_text}}"}],
                    "labels": ["yes", "no"],
                    "passing_labels": ["maybe"],
                }
            ),
            "method.reinforcement.grader.graders.c",
            "subset of labels",
        ),
    ],
)
def test_bad_graders_are_refused_naming_the_field(mutate: Any, path: str, words: str) -> None:
    grader: dict[str, Any] = {
        "type": "multi",
        "name": "m",
        "graders": {
            "a": example("GraderStringCheck"),
            "b": example("GraderTextSimilarity"),
        },
        "calculate_output": "a * 0.5 + b * 0.5",
    }
    mutate(grader)
    with pytest.raises(GraderError) as err:
        parse_grader(grader, "method.reinforcement.grader")
    assert err.value.path == path, err.value
    assert words in err.value.message, err.value.message


def test_templates_as_openai_defines_them() -> None:
    sample = Sample.from_text('{"city": "Paris", "n": [1, 2]}')
    item = {"label": "Paris", "answer": {"value": 3, "alts": ["x", "y"]}}
    assert render("{{ sample.output_json.city }}", sample, item) == "Paris"
    assert render("{{sample.output_json.n[1]}}", sample, item) == "2"
    assert render("{{item.answer.alts[1]}}/{{item.answer.value}}", sample, item) == "y/3"
    assert render("{{item.answer}}", sample, item) == '{"value": 3, "alts": ["x", "y"]}'
    assert render("{{sample.output_text}}", sample, item) == sample.output_text
    assert Sample.from_text("not json").output_json is None
    with pytest.raises(TemplateError, match="'missing' not found"):
        render("{{item.missing}}", sample, item)
    with pytest.raises(TemplateError, match="local engine samples text only"):
        render("{{sample.output_tools}}", sample, item)


def test_formula_errors_at_evaluation_are_math_errors() -> None:
    grader = parse_grader(
        {
            "type": "multi",
            "name": "m",
            "graders": {"a": example("GraderStringCheck")},
            "calculate_output": "1 / a + sqrt(a) + log(a + 1) + floor(a) + ceil(a) + exp(a) + abs(-a)",
        }
    )
    assert isinstance(grader, MultiGrader)
    with pytest.raises(ZeroDivisionError):
        grader.formula.evaluate({"a": 0.0})
    assert grader.formula.evaluate({"a": 1.0}) > 0
