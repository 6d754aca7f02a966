"""Extract from OpenAI's published OpenAPI document the facts our responses must meet.

    python scripts/openai_spec_facts.py OPENAPI_JSON --commit SHA --date YYYY-MM-DD \
        > tests/server/openai_spec_facts.json

OPENAPI_JSON is `openapi.json` of https://github.com/openai/openai-openapi at that
commit. For each response kind the local server sends (files, jobs, events,
checkpoints, models, lists, deletions, completions, chat completions and their
stream chunks, errors) it keeps the schema's fields, types, required lists and enums,
and nothing else (descriptions, examples and docs metadata go), with every `$ref`
the kind needs copied under `$defs`, as JSON Schema 2020-12 that a validator reads
directly. OpenAPI 3.0 leftovers in the document are translated (`nullable: true`
adds "null" to the type; a boolean `exclusiveMinimum` becomes a number).
Parts of the spec the server never sends (reinforcement graders, integrations,
audio, tool calls) are cut to `{}` so the fixture stays small; they are listed in
the output's `not_extracted`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

KINDS = (
    "OpenAIFile",
    "ListFilesResponse",
    "DeleteFileResponse",
    "FineTuningJob",
    "ListPaginatedFineTuningJobsResponse",
    "FineTuningJobEvent",
    "ListFineTuningJobEventsResponse",
    "FineTuningJobCheckpoint",
    "ListFineTuningJobCheckpointsResponse",
    "Model",
    "ListModelsResponse",
    "DeleteModelResponse",
    "CreateCompletionResponse",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "ErrorResponse",
)
NOT_EXTRACTED = (
    "FineTuneReinforcementMethod",
    "FineTuningIntegration",
    "ChatCompletionMessageToolCalls",
    "ChatCompletionMessageToolCallChunk",
    "ChatCompletionModeration",
)
KEEP = {
    "type", "properties", "required", "enum", "items", "anyOf", "oneOf", "allOf",
    "additionalProperties", "const", "$ref", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minItems", "maxItems", "nullable",
}  # fmt: skip


def _clean(node: Any, refs: set[str]) -> Any:
    if isinstance(node, list):
        return [_clean(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in KEEP:
            continue
        if key == "properties":
            out[key] = {name: _clean(sub, refs) for name, sub in value.items()}
        elif key == "$ref":
            name = value.rsplit("/", 1)[-1]
            refs.add(name)
            out[key] = f"#/$defs/{name}"
        elif key in ("nullable", "exclusiveMinimum", "exclusiveMaximum"):
            continue  # translated below
        else:
            out[key] = _clean(value, refs)
    if node.get("exclusiveMinimum") is True and "minimum" in out:
        out["exclusiveMinimum"] = out.pop("minimum")
    elif isinstance(node.get("exclusiveMinimum"), (int, float)):
        out["exclusiveMinimum"] = node["exclusiveMinimum"]
    if node.get("exclusiveMaximum") is True and "maximum" in out:
        out["exclusiveMaximum"] = out.pop("maximum")
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        elif "$ref" in out or "oneOf" in out or "anyOf" in out or "allOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


# `--requests`: the request bodies fttui sends, whole (graders and integrations
# included), so a job the app builds is checked against the spec's own schema.
REQUEST_KINDS = ("CreateFineTuningJobRequest",)


def extract(
    document: dict[str, Any],
    kinds: tuple[str, ...] = KINDS,
    not_extracted: tuple[str, ...] = NOT_EXTRACTED,
) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    defs: dict[str, Any] = {}
    todo = list(kinds)
    while todo:
        name = todo.pop()
        if name in defs:
            continue
        if name in not_extracted:
            defs[name] = {}
            continue
        refs: set[str] = set()
        defs[name] = _clean(schemas[name], refs)
        todo.extend(sorted(refs - set(defs)))
    return {"$defs": dict(sorted(defs.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("openapi_json")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--date", required=True, help="the commit's date, YYYY-MM-DD")
    parser.add_argument(
        "--requests",
        action="store_true",
        help="the request bodies fttui sends (tests/server/openai_request_facts.json)",
    )
    args = parser.parse_args(argv)
    kinds, cut = (REQUEST_KINDS, ()) if args.requests else (KINDS, NOT_EXTRACTED)
    with open(args.openapi_json, encoding="utf-8") as fh:
        document = json.load(fh)
    facts = {
        "source": {
            "repository": "https://github.com/openai/openai-openapi",
            "file": "openapi.json",
            "commit": args.commit,
            "date": args.date,
            "spec_version": document["info"]["version"],
        },
        "kinds": list(kinds),
        "not_extracted": list(cut),
        **extract(document, kinds, cut),
    }
    json.dump(facts, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
