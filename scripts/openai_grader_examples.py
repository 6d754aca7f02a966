"""Extract OpenAI's own grader examples from its published OpenAPI document.

    python scripts/openai_grader_examples.py OPENAPI_YAML --commit SHA --date YYYY-MM-DD \
        > tests/core/openai_grader_examples.json

OPENAPI_YAML is `openapi.yaml` of https://github.com/openai/openai-openapi at that
commit. It keeps, unchanged, the example of each Grader* schema (`x-oaiMeta.example`),
the `grader`/`item`/`model_sample` of the run-grader request example, the
validate-grader request example and the reinforcement job-creation request example.
Two schema examples are written as Python rather than JSON in the spec (the python
grader's `source` is a triple-quoted string, the score model's prompt is a
parenthesised string concatenation); they are read as Python literals, nothing else
is changed. Fixtures built from this file are OpenAI's, never shaped to fttui.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from typing import Any

import yaml

GRADERS = (
    "GraderStringCheck",
    "GraderTextSimilarity",
    "GraderPython",
    "GraderScoreModel",
    "GraderLabelModel",
    "GraderMulti",
)


def _python_literal(text: str) -> Any:
    """The spec's Python-flavoured examples, read as Python literals (null -> None)."""
    text = re.sub(r"\bnull\b", "None", text)
    return ast.literal_eval(text)


def _schema_example(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if name == "GraderPython":
        # `"source": """...""",` with the docstring's quotes escaped as \"""
        start = text.index('"""') + 3
        end = text.rindex('"""')
        source = text[start:end].replace('\\"""', '"""')
        head = text[: text.index('"source"')] + '"source": ""}'
        value = json.loads(re.sub(r",\s*\"source\": \"\"}", ', "source": ""}', head))
        value["source"] = source
        return value
    return _python_literal(text)


def _curl_body(curl: str) -> Any:
    body = curl[curl.index("-d '") + 4 : curl.rindex("'")]
    return json.loads(body)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("spec")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--date", required=True)
    args = parser.parse_args()
    with open(args.spec) as fh:
        spec = yaml.safe_load(fh)
    schemas = spec["components"]["schemas"]
    out: dict[str, Any] = {
        "source": {
            "repository": "https://github.com/openai/openai-openapi",
            "file": "openapi.yaml",
            "commit": args.commit,
            "date": args.date,
        },
        "schema_examples": {
            name: _schema_example(name, schemas[name]["x-oaiMeta"]["example"]) for name in GRADERS
        },
    }
    paths = spec["paths"]
    run = paths["/fine_tuning/alpha/graders/run"]["post"]["x-oaiMeta"]["examples"]
    out["run_grader_requests"] = [_curl_body(ex["request"]["curl"]) for ex in run]
    out["run_grader_response"] = json.loads(run[0]["response"])
    validate = paths["/fine_tuning/alpha/graders/validate"]["post"]["x-oaiMeta"]["examples"]
    out["validate_grader_request"] = _curl_body(validate["request"]["curl"])
    jobs = paths["/fine_tuning/jobs"]["post"]["x-oaiMeta"]["examples"]
    rft = next(ex for ex in jobs if ex["title"] == "Reinforcement")
    out["reinforcement_job_request"] = _curl_body(rft["request"]["curl"])
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
