"""Extract OpenAI's `CreateFineTuningJobRequest` schema, every `$ref` inlined, into
tests/openai_create_job_schema.json (what `fttui migrate --dry-run` bodies are checked
against).

Source: github openai/openai-openapi, `openapi.json`. Run with the repository's path:

    python scripts/openai_create_job_schema.py /path/to/openai-openapi [COMMIT DATE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

NAME = "CreateFineTuningJobRequest"
OUT = Path(__file__).resolve().parent.parent / "tests" / "openai_create_job_schema.json"


def inline(node: Any, schemas: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name in seen:  # a recursive schema (multi graders): stop at any object
                return {}
            return inline(schemas[name], schemas, (*seen, name))
        return {
            k: inline(v, schemas, seen)
            for k, v in node.items()
            if k not in ("x-oaiMeta", "x-oaiTypeLabel", "x-oaiExpandable", "x-stainless-const")
        }
    if isinstance(node, list):
        return [inline(v, schemas, seen) for v in node]
    return node


def draft2020(node: Any) -> Any:
    """OpenAPI 3.0's forms as JSON Schema 2020-12 (what validators read): a boolean
    `exclusiveMinimum`/`exclusiveMaximum` beside its bound, `nullable: true`."""
    if isinstance(node, list):
        return [draft2020(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: draft2020(v) for k, v in node.items()}
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(flag), bool):
            if out.pop(flag) and bound in out:
                out[flag] = out.pop(bound)
    if out.pop("nullable", False):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def main(argv: list[str]) -> int:
    repo = Path(argv[1])
    spec = json.loads((repo / "openapi.json").read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    schema = draft2020(inline(schemas[NAME], schemas, (NAME,)))
    out = {
        "source": "github.com/openai/openai-openapi openapi.json, components.schemas." + NAME,
        "commit": argv[2] if len(argv) > 2 else "",
        "date": argv[3] if len(argv) > 3 else "",
        "schema": schema,
    }
    OUT.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
