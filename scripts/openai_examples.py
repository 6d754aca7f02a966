"""Extract OpenAI's published example responses for the routes fttui uses.

    python scripts/openai_examples.py OPENAPI_JSON --commit SHA --date YYYY-MM-DD \
        > tests/openai_examples.json

OPENAPI_JSON is `openapi.json` of https://github.com/openai/openai-openapi at that
commit. The examples are the `x-oaiMeta` ones of OpenAI's API reference: for each
route fttui calls (files, fine-tuning jobs and their actions, events, checkpoints,
models, completions, chat completions) every example response, and the schema
examples of the objects those routes return (job, event, checkpoint, file, model,
the grader types). They are kept as OpenAI publishes them, including where they
break OpenAI's own schema (a DPO job with `"hyperparameters": null`, `"error": {}`,
events with `"data": null`, files without `status`): those are what a client meets.

The reference's examples are not all strict JSON (trailing commas, Python's `None`,
a missing comma, `{ ... }` placeholders in a list, a Python triple-quoted string).
They are read as Python literals after mapping `null`/`true`/`false`; each repair
that reading needed is listed under `repairs`, with the example it was made in.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import sys
import tokenize
from typing import Any

ROUTES = (
    ("GET", "/files"),
    ("POST", "/files"),
    ("GET", "/files/{file_id}"),
    ("DELETE", "/files/{file_id}"),
    ("GET", "/fine_tuning/jobs"),
    ("POST", "/fine_tuning/jobs"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/pause"),
    ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/resume"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events"),
    ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints"),
    ("GET", "/models"),
    ("GET", "/models/{model}"),
    ("DELETE", "/models/{model}"),
    ("POST", "/completions"),
    ("POST", "/chat/completions"),
)
SCHEMAS = (
    "FineTuningJob",
    "FineTuningJobEvent",
    "FineTuningJobCheckpoint",
    "OpenAIFile",
    "Model",
    "GraderStringCheck",
    "GraderTextSimilarity",
    "GraderScoreModel",
    "GraderLabelModel",
    "GraderPython",
    "GraderMulti",
)
# Streaming examples are several chunks with "...." between them, not one body.
SKIP_TITLES = {"Streaming"}
_CONSTANTS = {"null": "None", "true": "True", "false": "False"}
_VALUE_END = {tokenize.STRING, tokenize.NUMBER, tokenize.NAME}


def _to_python(text: str) -> tuple[str, list[str]]:
    """JSON-ish text as a Python literal; the repairs it needed."""
    repairs: set[str] = set()
    out: list[tokenize.TokenInfo] = []
    stack: list[str] = []
    prev: tokenize.TokenInfo | None = None
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                        tokenize.DEDENT):  # fmt: skip
            out.append(tok)
            continue
        if tok.type == tokenize.NAME and tok.string in _CONSTANTS:
            tok = tok._replace(string=_CONSTANTS[tok.string])
        elif tok.type == tokenize.NAME and tok.string == "None":
            repairs.add("Python's None read as null")
        if tok.type == tokenize.OP and tok.string in "{[(":
            stack.append(tok.string)
        elif tok.type == tokenize.OP and tok.string in "}])":
            after_comma = prev is not None and prev.type == tokenize.OP and prev.string == ","
            if after_comma and tok.string != ")":
                repairs.add("trailing comma dropped")
            if stack:
                stack.pop()
        # Two values on separate lines inside an object or array with no comma
        # between them: the comma the example forgot (inside parentheses, adjacent
        # strings are Python's implicit concatenation, which the example means).
        if (
            prev is not None
            and stack
            and stack[-1] in "{["
            and tok.type == tokenize.STRING
            and tok.start[0] > prev.end[0]
            and (prev.type in _VALUE_END or (prev.type == tokenize.OP and prev.string in "}]"))
        ):
            out.append(tokenize.TokenInfo(tokenize.OP, ",", prev.end, prev.end, prev.line))
            repairs.add(f"missing comma inserted before {tok.string}")
        if tok.type == tokenize.STRING and tok.string.startswith(('"""', "'''")):
            repairs.add("Python triple-quoted string read as a string")
        out.append(tok)
        if tok.type != tokenize.ENDMARKER:
            prev = tok
    # Positions no longer line up after an insertion: untokenize from (type, text).
    return tokenize.untokenize((t.type, t.string) for t in out), sorted(repairs)


def _drop_placeholders(node: Any, repairs: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _drop_placeholders(v, repairs) for k, v in node.items()}
    if isinstance(node, list | tuple):
        kept = [item for item in node if not isinstance(item, set | type(Ellipsis))]
        if len(kept) != len(node):
            repairs.append(f"{len(node) - len(kept)} `{{ ... }}` placeholder(s) dropped")
        return [_drop_placeholders(item, repairs) for item in kept]
    return node


def read_example(text: str) -> tuple[Any, list[str]]:
    """One published example as JSON data, and the repairs reading it needed."""
    try:
        return json.loads(text), []
    except json.JSONDecodeError:
        pass
    source, repairs = _to_python(text.strip())
    value = ast.literal_eval(source.strip())
    value = _drop_placeholders(value, repairs)
    return value, repairs


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    routes: dict[str, list[dict[str, Any]]] = {}
    repairs: dict[str, list[str]] = {}
    for method, path in ROUTES:
        examples = spec["paths"][path][method.lower()]["x-oaiMeta"]["examples"]
        for example in examples if isinstance(examples, list) else [examples]:
            title = example.get("title") or "Default"
            if title in SKIP_TITLES:
                continue
            body, fixed = read_example(example["response"])
            key = f"{method} {path}"
            routes.setdefault(key, []).append({"title": title, "response": body})
            if fixed:
                repairs[f"{key} ({title})"] = fixed
    schemas: dict[str, Any] = {}
    for name in SCHEMAS:
        body, fixed = read_example(spec["components"]["schemas"][name]["x-oaiMeta"]["example"])
        schemas[name] = body
        if fixed:
            repairs[f"schema {name}"] = fixed
    return {"routes": routes, "schemas": schemas, "repairs": repairs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("openapi_json")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--date", required=True, help="the commit's date, YYYY-MM-DD")
    args = parser.parse_args(argv)
    with open(args.openapi_json, encoding="utf-8") as fh:
        spec = json.load(fh)
    out = {
        "source": {
            "repository": "https://github.com/openai/openai-openapi",
            "file": "openapi.json",
            "commit": args.commit,
            "date": args.date,
            "spec_version": spec.get("info", {}).get("version"),
            "what": "x-oaiMeta example responses of OpenAI's API reference, as published",
        },
        **extract(spec),
    }
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
