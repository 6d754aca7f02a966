"""OpenAI's grader objects: typed models, validation, template references, formulas.

A reinforcement fine-tuning job names its grader as OpenAI's API does
(`method.reinforcement.grader`). This module is the one place that knows the grader
objects of OpenAI's published OpenAPI spec (the `Grader*` schemas:
`string_check`, `text_similarity`, `python`, `score_model`, `label_model`, `multi`),
so the server, the data check, the trainer and the TUI's form refuse the same bad
grader with the same message, naming the field as it was sent
(`method.reinforcement.grader.graders.a.operation: ...`).

Light on purpose (pydantic and the standard library only): running a grader lives
with the trainer; this module only describes, checks and renders.

Templates are OpenAI's: `{{ namespace.variable }}` where the namespace is `item` (the
training example's own fields) or `sample` (the model's answer: `output_text`, and
`output_json` when that text is valid JSON); nested values are reached with a JSON
path (`{{item.answer.value}}`, `{{item.choices[0]}}`).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "GRADER_TYPES",
    "MULTI_SUBGRADER_TYPES",
    "RFT_GRADER_TYPES",
    "SAMPLE_VARIABLES",
    "TEXT_SIMILARITY_METRICS",
    "Formula",
    "Grader",
    "GraderError",
    "LabelModelGrader",
    "MultiGrader",
    "PythonGrader",
    "Reference",
    "Sample",
    "ScoreModelGrader",
    "StringCheckGrader",
    "TemplateError",
    "TextSimilarityGrader",
    "item_references",
    "template_references",
    "iter_graders",
    "parse_formula",
    "parse_grader",
    "references",
    "render",
    "resolve_reference",
]

TEXT_SIMILARITY_METRICS: tuple[str, ...] = (
    "cosine",
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
)
# The `sample` namespace as OpenAI's graders guide defines it. The local engine
# samples plain text, so it fills `output_text` and `output_json` (see `Sample`).
SAMPLE_VARIABLES: tuple[str, ...] = ("output_text", "output_json", "output_tools", "choices")
# fttui's limits on untrusted text it parses (grader code, formulas).
MAX_PYTHON_SOURCE = 256 * 1024
MAX_FORMULA = 4096


class GraderError(ValueError):
    """A grader that cannot be used, with the field it is about (`path`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class TemplateError(ValueError):
    """A template reference that names nothing (OpenAI's `invalid_variable_error`)."""


class _Strict(BaseModel):
    # Unknown fields are refused, never ignored; no type coercion ("1" is not 1).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# -- content of a model grader's messages (OpenAI's EvalItem) ------------------------


class InputText(_Strict):
    type: Literal["input_text"]
    text: str
    prompt_cache_breakpoint: Any = None


class OutputText(_Strict):
    type: Literal["output_text"]
    text: str


class InputImage(_Strict):
    type: Literal["input_image"]
    image_url: str
    detail: str | None = None
    file_id: str | None = None  # in OpenAI's own examples, though not in the schema


class _AudioData(_Strict):
    data: str
    format: str


class InputAudio(_Strict):
    type: Literal["input_audio"]
    input_audio: _AudioData


ContentItem = Annotated[
    InputText | OutputText | InputImage | InputAudio, Field(discriminator="type")
]


class EvalItem(_Strict):
    """One message of a model grader's prompt; content may hold templates."""

    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentItem] | ContentItem
    type: Literal["message"] | None = None

    def parts(self) -> list[str | InputText | OutputText | InputImage | InputAudio]:
        if isinstance(self.content, list):
            return list(self.content)
        return [self.content]


class SamplingParams(_Strict):
    max_completions_tokens: Annotated[int, Field(ge=1)] | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = (
        None
    )
    seed: int | None = None
    temperature: float | None = None
    top_p: float | None = None


# -- the graders ---------------------------------------------------------------------


class StringCheckGrader(_Strict):
    """1.0 when the check holds, else 0.0 (`like`/`ilike`: `reference` occurs in `input`)."""

    type: Literal["string_check"]
    name: str
    input: str
    reference: str
    operation: Literal["eq", "ne", "like", "ilike"]


class TextSimilarityGrader(_Strict):
    type: Literal["text_similarity"]
    name: str
    input: str
    reference: str
    evaluation_metric: Literal[
        "cosine",
        "fuzzy_match",
        "bleu",
        "gleu",
        "meteor",
        "rouge_1",
        "rouge_2",
        "rouge_3",
        "rouge_4",
        "rouge_5",
        "rouge_l",
    ]


class PythonGrader(_Strict):
    """`source` defines `grade(sample: dict, item: dict) -> float`."""

    type: Literal["python"]
    name: str
    source: str
    image_tag: str | None = None

    @model_validator(mode="after")
    def _defines_grade(self) -> PythonGrader:
        if len(self.source.encode()) > MAX_PYTHON_SOURCE:
            raise ValueError(f"source is over {MAX_PYTHON_SOURCE // 1024} KiB")
        try:
            tree = ast.parse(self.source)
        except SyntaxError as exc:
            raise ValueError(f"source is not valid Python (line {exc.lineno}): {exc.msg}") from None
        except (RecursionError, MemoryError):
            raise ValueError("source is nested too deeply to read") from None
        if not any(
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "grade"
            for node in tree.body
        ):
            raise ValueError("source must define a top-level function grade(sample, item)")
        return self


class ScoreModelGrader(_Strict):
    """A model reads `input` and answers with a number in `range` (default [0, 1])."""

    type: Literal["score_model"]
    name: str
    input: list[EvalItem]
    model: str
    range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    sampling_params: SamplingParams | None = None

    @model_validator(mode="after")
    def _ordered_range(self) -> ScoreModelGrader:
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range must be [low, high] with low < high, got {self.range}")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        low, high = self.range or (0.0, 1.0)
        return float(low), float(high)


class LabelModelGrader(_Strict):
    """A model picks one of `labels`; 1.0 when it is one of `passing_labels`."""

    type: Literal["label_model"]
    name: str
    input: list[EvalItem]
    model: str
    labels: Annotated[list[str], Field(min_length=1)]
    passing_labels: Annotated[list[str], Field(min_length=1)]

    @model_validator(mode="after")
    def _passing_subset(self) -> LabelModelGrader:
        extra = [label for label in self.passing_labels if label not in self.labels]
        if extra:
            raise ValueError(f"passing_labels must be a subset of labels; not in labels: {extra}")
        return self


SubGrader = (
    StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | LabelModelGrader
)


@dataclass(frozen=True)
class MultiGrader:
    """Several graders combined by `calculate_output`, a formula over their keys."""

    name: str
    graders: dict[str, SubGrader]
    calculate_output: str
    formula: Formula
    type: Literal["multi"] = "multi"


Grader = SubGrader | MultiGrader

_MODELS: dict[str, type[_Strict]] = {
    "string_check": StringCheckGrader,
    "text_similarity": TextSimilarityGrader,
    "python": PythonGrader,
    "score_model": ScoreModelGrader,
    "label_model": LabelModelGrader,
}
GRADER_TYPES: tuple[str, ...] = (*_MODELS, "multi")
# OpenAI's FineTuneReinforcementMethod.grader: label_model only inside a multi grader.
RFT_GRADER_TYPES: tuple[str, ...] = (
    "string_check",
    "text_similarity",
    "python",
    "score_model",
    "multi",
)
MULTI_SUBGRADER_TYPES: tuple[str, ...] = tuple(_MODELS)


# -- templates -----------------------------------------------------------------------

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]|\[\"([^\"]*)\"\]|\['([^']*)'\]")


@dataclass(frozen=True)
class Reference:
    """`{{ item.answer.value }}` -> namespace 'item', path ('answer', 'value')."""

    namespace: Literal["item", "sample"]
    path: tuple[str | int, ...]
    text: str

    @property
    def top(self) -> str:
        """The first field the reference reads (`answer` for `item.answer.value`)."""
        return str(self.path[0])


def _parse_reference(text: str) -> Reference:
    inner = text.strip()
    match = re.match(r"(item|sample)\b", inner)
    if match is None:
        raise TemplateError(
            f"{{{{{inner}}}}} must start with a namespace: item or sample "
            "(e.g. {{item.label}}, {{sample.output_text}})"
        )
    namespace = match.group(1)
    path: list[str | int] = []
    pos = match.end()
    while pos < len(inner):
        step = _STEP.match(inner, pos)
        if step is None:
            raise TemplateError(
                f"{{{{{inner}}}}}: cannot read {inner[pos:]!r}; use a JSON path such as "
                f"{namespace}.field.subfield or {namespace}.list[0]"
            )
        name, index, dq, sq = step.groups()
        if index is not None:
            path.append(int(index))
        else:
            path.append(name if name is not None else (dq if dq is not None else sq))
        pos = step.end()
    if not path or isinstance(path[0], int):
        raise TemplateError(f"{{{{{inner}}}}} must name a variable: {namespace}.<variable>")
    if namespace == "sample" and path[0] not in SAMPLE_VARIABLES:
        raise TemplateError(
            f"{{{{{inner}}}}}: the sample namespace has {', '.join(SAMPLE_VARIABLES)}; "
            f"not {path[0]!r}"
        )
    return Reference(namespace, tuple(path), inner)  # type: ignore[arg-type]


def references(template: str) -> list[Reference]:
    """Every `{{...}}` reference in `template`, in order (TemplateError if one is bad)."""
    return [_parse_reference(m.group(1)) for m in _TEMPLATE.finditer(template)]


@dataclass(frozen=True)
class Sample:
    """The model's answer as graders see it (OpenAI's `sample` namespace).

    `output_json` is the answer parsed as JSON when it is valid JSON, else None.
    """

    output_text: str
    output_json: Any = field(default=None)

    @classmethod
    def from_text(cls, text: str) -> Sample:
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            parsed = None
        return cls(text, parsed)

    def as_dict(self) -> dict[str, Any]:
        """What a python grader's `grade(sample, item)` receives as `sample`."""
        return {"output_text": self.output_text, "output_json": self.output_json}


def resolve_reference(ref: Reference, sample: Sample | None, item: Mapping[str, Any]) -> Any:
    """The value `ref` names (TemplateError naming the missing step)."""
    if ref.namespace == "sample":
        if sample is None:
            raise TemplateError(f"{{{{{ref.text}}}}}: no sample to read here")
        if ref.path[0] not in ("output_text", "output_json"):
            raise TemplateError(
                f"{{{{{ref.text}}}}}: the local engine samples text only; "
                "it fills sample.output_text and sample.output_json"
            )
        value: Any = sample.as_dict()
    else:
        value = item
    for step in ref.path:
        in_list = (
            isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value)
        )
        if in_list or (isinstance(step, str) and isinstance(value, Mapping) and step in value):
            value = value[step]
        else:
            raise TemplateError(f"{{{{{ref.text}}}}}: {step!r} not found")
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def render(template: str, sample: Sample | None, item: Mapping[str, Any]) -> str:
    """`template` with each reference replaced by its value (strings as they are,
    anything else as JSON). Raises TemplateError when a reference names nothing."""

    def one(match: re.Match[str]) -> str:
        return _as_text(resolve_reference(_parse_reference(match.group(1)), sample, item))

    return _TEMPLATE.sub(one, template)


# -- multi grader formulas -----------------------------------------------------------

_FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "log": math.log,
}
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


@dataclass(frozen=True)
class Formula:
    """A checked `calculate_output`: numbers, grader keys, + - * / ^ (power),
    parentheses and min max abs floor ceil exp sqrt log. Nothing else runs."""

    text: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The formula's value for the graders' scores (ArithmeticError/ValueError on
        a math error such as a division by zero)."""

        def ev(node: ast.AST) -> float:
            if isinstance(node, ast.Expression):
                return ev(node.body)
            if isinstance(node, ast.Constant):
                return float(node.value)  # type: ignore[arg-type]  # numbers only: parse_formula
            if isinstance(node, ast.Name):
                return float(values[node.id])
            if isinstance(node, ast.UnaryOp):
                operand = ev(node.operand)
                return -operand if isinstance(node.op, ast.USub) else operand
            if isinstance(node, ast.BinOp):
                result = _BINARY[type(node.op)](ev(node.left), ev(node.right))
                if isinstance(result, complex):
                    raise ValueError("the formula's value is not a real number")
                return float(result)
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            return float(_FUNCTIONS[node.func.id](*(ev(arg) for arg in node.args)))

        return ev(self.tree)


def parse_formula(text: str, names: set[str] | frozenset[str], path: str) -> Formula:
    """Check `calculate_output` against the graders' keys; GraderError at `path`."""
    if len(text) > MAX_FORMULA:
        raise GraderError(path, f"is over {MAX_FORMULA} characters")
    if not text.strip():
        raise GraderError(
            path, "must be a formula over the graders' keys, e.g. '0.5 * a + 0.5 * b'"
        )
    try:
        tree = ast.parse(text.replace("^", "**").strip(), mode="eval")
    except SyntaxError as exc:
        raise GraderError(path, f"{text!r} is not a valid formula ({exc.msg})") from None
    except (RecursionError, MemoryError):
        raise GraderError(path, "is nested too deeply") from None
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (
                isinstance(node.func, ast.Name)
                and node.func.id in _FUNCTIONS
                and not node.keywords
                and node.args
            ):
                raise GraderError(
                    path, f"only these functions may be called: {', '.join(_FUNCTIONS)}"
                )
        elif isinstance(node, ast.Name):
            if node.id in _FUNCTIONS and isinstance(node.ctx, ast.Load):
                continue
            if node.id not in names:
                usable = sorted(n for n in names if n.isidentifier())
                raise GraderError(
                    path,
                    f"{node.id!r} is not one of the graders' keys "
                    f"({', '.join(usable) or 'none is a name of letters, digits and _'})",
                )
            used.add(node.id)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise GraderError(path, f"{node.value!r} is not a number")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise GraderError(path, "operators are + - * / and ^ (power)")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise GraderError(path, "operators are + - * / and ^ (power)")
        elif not isinstance(node, (ast.Expression, ast.Load, ast.operator, ast.unaryop)):
            raise GraderError(path, f"{type(node).__name__} is not allowed in a formula")
    # Calls' function names are Names too: they were skipped above.
    return Formula(text, tree, frozenset(used))


# -- parsing -------------------------------------------------------------------------


def _format_loc(obj: Any, loc: tuple[int | str, ...]) -> str:
    """A pydantic location as the field path the user sent (`input[0].content`).

    Union members and discriminator tags in pydantic's location are not fields of the
    input: each step is kept only when the input at that point has it."""
    out = ""
    current = obj
    for step in loc:
        if isinstance(step, int) and isinstance(current, list) and 0 <= step < len(current):
            out += f"[{step}]"
            current = current[step]
        elif isinstance(step, str) and isinstance(current, dict) and step in current:
            out += f".{step}"
            current = current[step]
        elif isinstance(step, str) and isinstance(current, dict) and not _union_member(step):
            out += f".{step}"  # a missing field
            current = None
    return out


def _union_member(step: str) -> bool:
    return (
        step in ("input_text", "output_text", "input_image", "input_audio", "str")
        or "[" in step
        or step[:1].isupper()
        or step.startswith("function-")
    )


def _first_error(obj: Any, exc: ValidationError, path: str) -> GraderError:
    errors = exc.errors(include_url=False)
    # A value that fits no member of a union gets one error per member: the deepest
    # (most specific) one is the one that helps.
    best = max(errors, key=lambda e: len(_format_loc(obj, tuple(e["loc"]))))
    where = path + _format_loc(obj, tuple(best["loc"]))
    message = str(best["msg"])
    if best["type"] == "extra_forbidden":
        message = "is not a field of this grader type (unknown fields are refused, not ignored)"
    elif best["type"] == "missing":
        message = "is required"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return GraderError(where, message)


def parse_grader(
    obj: Any, path: str = "grader", *, allowed: tuple[str, ...] = RFT_GRADER_TYPES
) -> Grader:
    """Check `obj` as one of OpenAI's grader objects; GraderError names the bad field.

    `allowed`: the grader types that may appear here (a reinforcement job's grader by
    default: OpenAI's FineTuneReinforcementMethod takes label_model only in a multi).
    """
    if not isinstance(obj, dict):
        raise GraderError(path, "must be a grader object with a 'type'")
    gtype = obj.get("type")
    if gtype is None:
        raise GraderError(f"{path}.type", f"is required: one of {', '.join(allowed)}")
    if gtype not in allowed:
        known = gtype in GRADER_TYPES
        raise GraderError(
            f"{path}.type",
            f"{gtype!r} is not "
            + ("allowed here" if known else "a grader type")
            + f"; use one of {', '.join(allowed)}",
        )
    if gtype == "multi":
        return _parse_multi(obj, path)
    try:
        grader: SubGrader = _MODELS[gtype].model_validate(obj)  # type: ignore[assignment]
    except ValidationError as exc:
        raise _first_error(obj, exc, path) from None
    template_references(grader, path)  # a malformed {{...}} is refused here, by field
    return grader


def _parse_multi(obj: dict[str, Any], path: str) -> MultiGrader:
    for key in obj:
        if key not in ("type", "name", "graders", "calculate_output"):
            raise GraderError(
                f"{path}.{key}",
                "is not a field of this grader type (unknown fields are refused, not ignored)",
            )
    for key in ("name", "calculate_output"):
        if key not in obj:
            raise GraderError(f"{path}.{key}", "is required")
        if not isinstance(obj[key], str):
            raise GraderError(f"{path}.{key}", "must be a string")
    raw = obj.get("graders")
    if raw is None:
        raise GraderError(f"{path}.graders", "is required: an object of key -> grader")
    entries: list[tuple[str, str, Any]] = []  # (key, path, grader object)
    if isinstance(raw, dict) and isinstance(raw.get("type"), str):
        # The spec's schema: one grader object; its name is its key in the formula.
        entries.append((str(raw.get("name")), f"{path}.graders", raw))
    elif isinstance(raw, dict):
        # OpenAI's graders guide: {key: grader}, keys used in calculate_output.
        entries.extend((k, f"{path}.graders.{k}", v) for k, v in raw.items())
    elif isinstance(raw, list):
        # The spec's example: a list; each grader's name is its key.
        entries.extend(
            (str(v.get("name") if isinstance(v, dict) else ""), f"{path}.graders[{i}]", v)
            for i, v in enumerate(raw)
        )
    else:
        raise GraderError(f"{path}.graders", "must be an object of key -> grader")
    if not entries:
        raise GraderError(f"{path}.graders", "must hold at least one grader")
    graders: dict[str, SubGrader] = {}
    for key, where, value in entries:
        grader = parse_grader(value, where, allowed=MULTI_SUBGRADER_TYPES)
        if key in graders:
            raise GraderError(where, f"two graders are named {key!r}")
        graders[key] = grader  # type: ignore[assignment]
    formula = parse_formula(obj["calculate_output"], set(graders), f"{path}.calculate_output")
    return MultiGrader(obj["name"], graders, obj["calculate_output"], formula)


# -- what a grader reads -------------------------------------------------------------


def iter_graders(grader: Grader, path: str = "grader") -> Iterator[tuple[str, SubGrader]]:
    """(path, grader) for `grader` itself or, for a multi grader, each of its graders."""
    if isinstance(grader, MultiGrader):
        for key, sub in grader.graders.items():
            yield f"{path}.graders.{key}", sub
    else:
        yield path, grader


def _templates(grader: SubGrader) -> Iterator[tuple[str, str]]:
    """(field, template text) for every field of `grader` that may hold templates."""
    if isinstance(grader, (StringCheckGrader, TextSimilarityGrader)):
        yield "input", grader.input
        yield "reference", grader.reference
    elif isinstance(grader, (ScoreModelGrader, LabelModelGrader)):
        for i, message in enumerate(grader.input):
            for j, part in enumerate(message.parts()):
                where = f"input[{i}].content" + ("" if len(message.parts()) == 1 else f"[{j}]")
                if isinstance(part, str):
                    yield where, part
                elif isinstance(part, (InputText, OutputText)):
                    yield where + ".text", part.text
                elif isinstance(part, InputImage):
                    yield where + ".image_url", part.image_url
                else:
                    yield where + ".input_audio.data", part.input_audio.data


def template_references(grader: Grader, path: str = "grader") -> list[tuple[str, Reference]]:
    """(field path, reference) for every template in `grader`; GraderError at the
    field whose template is malformed."""
    out: list[tuple[str, Reference]] = []
    for where, sub in iter_graders(grader, path):
        for fname, text in _templates(sub):
            try:
                out.extend((f"{where}.{fname}", ref) for ref in references(text))
            except TemplateError as exc:
                raise GraderError(f"{where}.{fname}", str(exc)) from None
    return out


def item_references(grader: Grader) -> list[Reference]:
    """The `item` references the grader's templates read (the data check looks for
    them in every example). A python grader's reads are its code's, not listed."""
    seen: dict[str, Reference] = {}
    for _where, ref in template_references(grader):
        if ref.namespace == "item":
            seen.setdefault(ref.text, ref)
    return list(seen.values())
