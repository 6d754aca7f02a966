"""schemathesis against the local server's own OpenAPI schema, on a real server.

Every operation gets generated (valid and invalid) inputs; each response must not be a
5xx and must conform to the schema (status code, content type, body). The job-create
and upload bodies are in the schema (`fttui/server/request_schemas.py`), with the
server's real file ids and models patched in, so generated jobs reach the
validation code, and schema-valid ones must be accepted (`positive_data_acceptance`).
The CI profile is bounded by `FTTUI_FUZZ_EXAMPLES` (default 10 per operation); the
long profile is `benchmarks/fuzz_long.sh`, which raises it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import ServerProcess  # tests/conftest.py
from hypothesis import HealthCheck, settings

from fttui.server.app import create_app
from fttui.server.settings import Settings

from .helpers import api, create_job, make_server, toy_jsonl, upload

EXAMPLES = int(os.environ.get("FTTUI_FUZZ_EXAMPLES", "10"))


def openapi_document() -> dict[str, Any]:
    """The schema FastAPI derives from the routes (the server does not publish it)."""
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(Settings(data_dir=Path(scratch)))
        document = app.openapi()
        app.state.ctx.store.close()
    return document


def with_real_ids(document: dict[str, Any], training: str, validation: str) -> dict[str, Any]:
    """Job bodies name this server's files and models, so they get past the lookups."""
    models = [m["id"] for m in httpx.get(f"{FUZZ_BASE[0]}/models", timeout=30).json()["data"]]
    for path in ("/v1/fine_tuning/jobs", "/v1/fine-tunes"):
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        props = body["schema"]["properties"]
        props["training_file"] = {"enum": [training]}
        props["validation_file"] = {"anyOf": [{"type": "null"}, {"enum": [validation]}]}
        known = {"enum": models}
        # the legacy API defaults the model (curie) when it is absent or null
        props["model"] = (
            known if path == "/v1/fine_tuning/jobs" else {"anyOf": [known, {"type": "null"}]}
        )
    return document


FUZZ_BASE: list[str] = []
IDS: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with a training and a validation file and one queued job."""
    srv = make_server(tmp_path_factory.mktemp("fuzz"), "--concurrency", "0")
    FUZZ_BASE[:] = [srv.base_url]
    with api(srv) as c:
        IDS["training"] = upload(c, toy_jsonl(6)).json()["id"]
        IDS["validation"] = upload(c, toy_jsonl(4), name="valid.jsonl").json()["id"]
        create_job(c, IDS["training"], model="ada")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess) -> schemathesis.BaseSchema:
    document = with_real_ids(openapi_document(), IDS["training"], IDS["validation"])
    return schemathesis.openapi.from_dict(document)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_never_answers_5xx_or_off_schema(
    case: schemathesis.Case, fuzz_server: ServerProcess
) -> None:
    # Schema-valid must mean accepted, except where the schema cannot say what is valid:
    # an upload's file must be good JSONL for purpose fine-tune, a grader's templates and
    # python source are checked by the grading code, and the inference bodies are not in
    # the schema (a valid one would load a model per example).
    unsure = case.path in (
        "/v1/files",
        "/v1/fine_tuning/alpha/graders/run",
        "/v1/completions",
        "/v1/chat/completions",
        "/v1/responses",
    )
    excluded = [schemathesis.checks.positive_data_acceptance] if unsure else []
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{fuzz_server.port}", timeout=30, excluded_checks=excluded
    )
