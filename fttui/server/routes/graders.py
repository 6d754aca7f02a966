"""OpenAI's `POST /v1/fine_tuning/alpha/graders/run`: score one model sample with a grader.

The same grader objects and the same grading code (`fttui.train.grading`) as a
reinforcement job, so a grader can be tried before a job and a model's answers can be
scored afterwards (`fttui.evaluate` scores a reinforcement job's validation file this
way). The body is OpenAI's `RunGraderRequest` (`grader`, `model_sample`, `item`); the
answer OpenAI's `RunGraderResponse` (`reward`, `metadata` with the error flags,
`sub_rewards`).

What the local engine cannot run is a 400 naming the field, as at job creation
(`fttui.server.grader_requests`). Model graders (`score_model`, `label_model`) are a
400 here: locally their judge is a job's base model, which only a running job holds.
A `python` grader runs in the sandbox, one process per request.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from fttui.core.graders import LabelModelGrader, ScoreModelGrader, parse_grader
from fttui.server.context import ServerContext, current_ctx, json_body
from fttui.server.errors import APIError
from fttui.server.grader_requests import check_grader

router = APIRouter(prefix="/fine_tuning/alpha/graders")
Ctx = Annotated[ServerContext, Depends(current_ctx)]
FIELDS = {"grader", "model_sample", "item"}
# OpenAI's RunGraderRequest as this server reads it, for the OpenAPI document (what a
# client generator and the API fuzz test see); the grader object itself is checked by
# `check_grader`, which a schema cannot say (templates, python source, nesting).
RUN_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["grader", "model_sample"],
                    "additionalProperties": False,
                    "properties": {
                        "grader": {"type": "object"},
                        "model_sample": {"type": "string"},
                        "item": {"type": "object"},
                    },
                }
            }
        },
    }
}
# OpenAI's RunGraderResponse.metadata.errors flags, all required.
ERROR_FLAGS = (
    "formula_parse_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
    "invalid_variable_error",
    "other_error",
    "python_grader_server_error",
    "python_grader_runtime_error",
    "model_grader_server_error",
    "model_grader_refusal_error",
    "model_grader_parse_error",
)


def _bad(param: str, message: str) -> APIError:
    return APIError(400, f"{param}: {message}", param=param, code="invalid_request")


def _check(ctx: ServerContext, body: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise APIError(400, "The request body must be a JSON object", param="body")
    for key in body:
        if key not in FIELDS:
            raise _bad(key, f"unknown field; the fields are {', '.join(sorted(FIELDS))}")
    sample, item = body.get("model_sample"), body.get("item", {})
    if not isinstance(sample, str):
        raise _bad("model_sample", "required: the model's answer, a string")
    if not isinstance(item, dict):
        raise _bad("item", "must be a JSON object (what {{item.<field>}} reads)")
    grader, _ = check_grader(ctx.store, ctx.registry(), body.get("grader"), path="grader")
    parsed = parse_grader(grader, "grader")
    subs = parsed.graders.values() if parsed.type == "multi" else [parsed]
    for sub in subs:
        if isinstance(sub, (ScoreModelGrader, LabelModelGrader)):
            raise _bad(
                "grader.type" if sub is parsed else f"grader.graders.{sub.name}.type",
                f"{sub.type} graders run only inside a reinforcement job on this server, "
                "where the job's base model is the judge",
            )
    return grader, sample, item


def _run(grader: dict[str, Any], sample: str, item: dict[str, Any]) -> dict[str, Any]:
    from fttui.train.grading import Grading

    start = time.monotonic()
    grading = Grading(grader)
    graded = grading.grade([sample], [item])[0]
    errors: dict[str, Any] = dict.fromkeys(ERROR_FLAGS, False)
    errors.update(
        python_grader_server_error_type=None,
        python_grader_runtime_error_details=None,
        model_grader_server_error_details=None,
    )
    if graded.error is not None:
        python = grading.grader.type == "python" or any(
            p.type == "python" for p in grading.parts.values()
        )
        flag = "python_grader_runtime_error" if python else "other_error"
        errors[flag] = True
        if python:
            errors["python_grader_runtime_error_details"] = graded.error
    return {
        "reward": graded.reward,
        "metadata": {
            "name": grading.grader.name,
            "type": grading.grader.type,
            "errors": errors,
            "execution_time": round(time.monotonic() - start, 4),
            "scores": dict(graded.scores),
            "token_usage": None,
            "sampled_model_name": None,
        },
        "sub_rewards": dict(graded.scores) if grading.grader.type == "multi" else {},
        "model_grader_token_usage_per_model": {},
        # Not in OpenAI's response: the grader's failure as a sentence (reward 0).
        "error": graded.error,
    }


@router.post("/run", openapi_extra=RUN_REQUEST)
async def run_grader(request: Request, ctx: Ctx) -> dict[str, Any]:
    grader, sample, item = _check(ctx, await json_body(request))
    return await run_in_threadpool(_run, grader, sample, item)
