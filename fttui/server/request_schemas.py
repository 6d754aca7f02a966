"""JSON Schemas of the request bodies that routes parse by hand, for the OpenAPI document.

The job and upload routes read their bodies themselves (to name a bad field OpenAI's
way, and to stream uploads to disk), so FastAPI cannot derive their schemas. The job
bodies' schemas are generated from the job contract (`fttui.core.job_spec`), the
same tables `JobSpec.from_request` checks with, so a fuzzer
(tests/reliability/test_fuzz_api.py) generates bodies that reach the validation code
and checks that schema-valid bodies are accepted and others refused.
"""

from __future__ import annotations

from typing import Any

from fttui.core.job_spec import request_schema
from fttui.server.uploads import PURPOSES


def _body(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {media: {"schema": schema}}}}


JOB_REQUEST = _body(request_schema(legacy=False))
LEGACY_JOB_REQUEST = _body(request_schema(legacy=True))
UPLOAD_REQUEST = _body(
    {
        "type": "object",
        "required": ["purpose", "file"],
        "properties": {
            "purpose": {"enum": list(PURPOSES)},
            "file": {"type": "string", "format": "binary"},
        },
    },
    "multipart/form-data",
)
