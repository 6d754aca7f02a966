"""Validate real responses against OpenAI's published OpenAPI spec.

`openai_spec_facts.json` holds the facts (fields, types, required lists, enums) that
the spec declares for every kind of response the local server sends; it names the
spec's repository, commit and date, and `scripts/openai_spec_facts.py` rebuilds it.

Where OpenAI's live API itself departs from its published spec, the server follows
the live API, and the difference is spelled out here (DEVIATIONS), never hidden:
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

FACTS = Path(__file__).with_name("openai_spec_facts.json")

DEVIATIONS = {
    # The spec declares no stream schema for /completions; OpenAI streams chunks of
    # CreateCompletionResponse whose finish_reason is null until a choice ends.
    "CompletionChunk": "CreateCompletionResponse with choices[].finish_reason nullable",
    # With `echo` and `logprobs`, the prompt's first token has no context: OpenAI (and
    # the legacy guide's scoring recipe) show null for its logprob and alternatives.
    "CompletionEchoLogprobs": "logprobs.token_logprobs[0] and top_logprobs[0] may be null",
    # The spec's job status enum lacks `paused`, though its own pause endpoint
    # (`POST /fine_tuning/jobs/{id}/pause`) returns the job paused, as OpenAI's API
    # reference shows; the SDK parses it as any string.
    "FineTuningJobPaused": "FineTuningJob with status 'paused'",
    # The spec's GraderMulti types `graders` as ONE grader object, its own example
    # shows a list, and OpenAI's graders guide (and fttui.core.graders) a mapping of
    # names to graders, which the formula refers to: request bodies are checked with
    # `graders` as that mapping.
    "GraderMultiGraders": "GraderMulti.graders an object of named graders",
}


@cache
def facts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FACTS.read_text())
    return data


def _completion_variant(*, chunk: bool, echo: bool) -> dict[str, Any]:
    schema = copy.deepcopy(facts()["$defs"]["CreateCompletionResponse"])
    choice = schema["properties"]["choices"]["items"]["properties"]
    if chunk:
        choice["finish_reason"] = {"anyOf": [choice["finish_reason"], {"type": "null"}]}
    if echo:
        logprobs = choice["logprobs"]["anyOf"][0]["properties"]
        for key in ("token_logprobs", "top_logprobs"):
            logprobs[key]["items"] = {"anyOf": [logprobs[key]["items"], {"type": "null"}]}
    return schema


@cache
def _validator(kind: str) -> Any:
    defs = facts()["$defs"]
    if kind == "CompletionChunk":
        root = _completion_variant(chunk=True, echo=True)
    elif kind == "CompletionEcho":
        root = _completion_variant(chunk=False, echo=True)
    elif kind == "FineTuningJobPaused":
        root = copy.deepcopy(defs["FineTuningJob"])
        root["properties"]["status"] = {"type": "string", "enum": ["paused"]}
    else:
        root = {"$ref": f"#/$defs/{kind}"}
    return jsonschema_rs.Draft202012Validator({**root, "$defs": defs})


def check(kind: str, obj: Any) -> Any:
    """Assert `obj` is a valid `kind` (a schema name of the spec); returns it."""
    errors = [
        f"{'/'.join(map(str, e.instance_path)) or '(root)'}: {e.message}"
        for e in _validator(kind).iter_errors(obj)
    ]
    assert not errors, f"{kind} off OpenAI's spec:\n" + "\n".join(errors[:10]) + f"\n{obj}"
    return obj


def sse_events(body: str) -> list[Any]:
    """The JSON objects of a server-sent event stream; asserts it ends with [DONE]."""
    datas = [line[len("data: ") :] for line in body.splitlines() if line.startswith("data: ")]
    assert datas and datas[-1] == "[DONE]", datas[-3:]
    return [json.loads(d) for d in datas[:-1]]


REQUEST_FACTS = Path(__file__).with_name("openai_request_facts.json")


@cache
def _request_validator(kind: str) -> Any:
    """The spec's schema of a request body fttui sends (`scripts/openai_spec_facts.py
    --requests`: graders and integrations whole)."""
    defs = json.loads(REQUEST_FACTS.read_text())["$defs"]
    multi = defs["GraderMulti"]["properties"]
    multi["graders"] = {"type": "object", "additionalProperties": multi["graders"]}
    return jsonschema_rs.Draft202012Validator({"$ref": f"#/$defs/{kind}", "$defs": defs})


def check_request(kind: str, obj: Any) -> Any:
    """Assert `obj` is a valid `kind` request body of OpenAI's spec; returns it."""
    errors = [
        f"{'/'.join(map(str, e.instance_path)) or '(root)'}: {e.message}"
        for e in _request_validator(kind).iter_errors(obj)
    ]
    assert not errors, f"{kind} off OpenAI's spec:\n" + "\n".join(errors[:10]) + f"\n{obj}"
    return obj
