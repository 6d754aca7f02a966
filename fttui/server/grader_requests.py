"""A reinforcement job's grader: OpenAI's object, then what the local engine can run.

`fttui.core.graders` decides what a valid grader object is (OpenAI's schemas); this
module adds what this server can honour, so a job the local engine cannot grade is a
400 naming the field at creation, never a failure hours later:

- `text_similarity`: fuzzy_match, bleu and rouge_1..rouge_5/rouge_l run locally;
  `cosine` needs an embedding model, `gleu` and `meteor` need NLTK's data: refused.
- `score_model` / `label_model`: the judge is a local model (a base model of
  models.json or a fine-tune of this server), text only (no image or audio parts);
  `sampling_params.reasoning_effort` is refused (no local model reasons).
- `{{sample.output_tools}}` / `{{sample.choices}}`: refused (the local engine samples
  plain text).
- `python`: `image_tag` names OpenAI's grader image; the local grader runs the
  server's own Python in a sandbox (`fttui.train.sandbox`), said in an event.
"""

from __future__ import annotations

from typing import Any

from fttui.core.graders import (
    GraderError,
    InputAudio,
    InputImage,
    LabelModelGrader,
    PythonGrader,
    ScoreModelGrader,
    TextSimilarityGrader,
    iter_graders,
    parse_grader,
    template_references,
)
from fttui.core.models import BaseModelSpec, resolve_model
from fttui.server.errors import APIError
from fttui.store.db import Store

__all__ = ["LOCAL_METRICS", "check_grader"]

LOCAL_METRICS = (
    "fuzzy_match",
    "bleu",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
)
PATH = "method.reinforcement.grader"


def _bad(path: str, message: str) -> APIError:
    return APIError(400, f"{path}: {message}", param=path, code="invalid_grader")


def check_grader(
    store: Store,
    registry: dict[str, BaseModelSpec],
    obj: Any,
    *,
    base: str | None = None,
    path: str = PATH,
) -> tuple[dict[str, Any], list[str]]:
    """(the grader object as sent, notes for the job's events); APIError naming the field.

    `base`: the job's base model; a model grader's judge must be it (the trainer judges
    with the weights it starts from: the reference model, no second model loaded)."""
    if obj is None:
        raise APIError(
            400,
            f"{path} is required for a reinforcement job: the grader that scores each answer",
            param=path,
            code="missing_required_parameter",
        )
    try:
        grader = parse_grader(obj, path)
    except GraderError as exc:
        raise _bad(exc.path, exc.message) from None
    notes: list[str] = []
    for field, ref in template_references(grader, path):
        if ref.namespace == "sample" and ref.top not in ("output_text", "output_json"):
            raise _bad(
                field,
                f"{{{{{ref.text}}}}}: the local engine samples plain text; it fills "
                "sample.output_text and sample.output_json only",
            )
    for where, sub in _paths(obj, grader, path):
        if isinstance(sub, TextSimilarityGrader) and sub.evaluation_metric not in LOCAL_METRICS:
            why = (
                "needs an embedding model, and the local server has none"
                if sub.evaluation_metric == "cosine"
                else "needs NLTK's data files, which the local server does not ship"
            )
            raise _bad(
                f"{where}.evaluation_metric",
                f"{sub.evaluation_metric!r} {why}; use one of {', '.join(LOCAL_METRICS)}",
            )
        if isinstance(sub, (ScoreModelGrader, LabelModelGrader)):
            _check_judge(store, registry, sub, where, base)
            notes.append(f"Grader {sub.name!r} uses the local model {sub.model!r} as its judge")
        if isinstance(sub, PythonGrader):
            notes.append(
                f"Grader {sub.name!r} runs grade(sample, item) in a sandbox on this machine "
                "(no network, CPU, memory, time and output limits)"
                + (
                    f"; image_tag {sub.image_tag!r} names OpenAI's grader image and is "
                    "not used locally"
                    if sub.image_tag
                    else ""
                )
            )
    return obj, notes


def _paths(obj: dict[str, Any], grader: Any, path: str) -> list[tuple[str, Any]]:
    """(field path as sent, grader) for the grader or each grader of a multi grader."""
    raw = obj.get("graders")
    if grader.type != "multi":
        return [(path, grader)]
    if isinstance(raw, dict) and not isinstance(raw.get("type"), str):
        return list(iter_graders(grader, path))
    if isinstance(raw, list):
        return [(f"{path}.graders[{i}]", sub) for i, sub in enumerate(grader.graders.values())]
    return [(f"{path}.graders", sub) for sub in grader.graders.values()]


def _check_judge(
    store: Store,
    registry: dict[str, BaseModelSpec],
    grader: ScoreModelGrader | LabelModelGrader,
    where: str,
    base: str | None,
) -> None:
    spec = resolve_model(registry, grader.model)
    if spec is None:
        raise _bad(
            f"{where}.model",
            f"{grader.model!r} is not a base model of this server; the local judge is the "
            f"job's base model ({base or ', '.join(sorted(registry))})",
        )
    if base is not None and spec.id != base:
        raise _bad(
            f"{where}.model",
            f"the local judge is the job's base model {base!r} (the weights training starts "
            f"from, already in memory); {grader.model!r} would be a second model",
        )
    for i, message in enumerate(grader.input):
        for j, part in enumerate(message.parts()):
            if isinstance(part, (InputImage, InputAudio)):
                raise _bad(
                    f"{where}.input[{i}].content" + (f"[{j}]" if len(message.parts()) > 1 else ""),
                    f"{part.type} parts are not supported: the local judge reads text only",
                )
    params = getattr(grader, "sampling_params", None)
    if params is not None and params.reasoning_effort is not None:
        raise _bad(
            f"{where}.sampling_params.reasoning_effort",
            "the local models do not reason; leave reasoning_effort out",
        )
