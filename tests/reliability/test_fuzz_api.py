"""schemathesis against the local server's own OpenAPI schema, on a real server.

Every operation gets generated (valid and invalid) inputs; each response must not be a
5xx and must conform to the schema (status code, content type, body). The CI profile
is bounded by `FTTUI_FUZZ_EXAMPLES` (default 10 per operation); the long profile is
`benchmarks/fuzz_long.sh`, which raises it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from conftest import ServerProcess  # tests/conftest.py
from hypothesis import HealthCheck, settings

from fttui.server.app import create_app
from fttui.server.settings import Settings

from .helpers import api, create_job, make_server, toy_jsonl, upload

EXAMPLES = int(os.environ.get("FTTUI_FUZZ_EXAMPLES", "10"))


def openapi_document() -> dict[str, object]:
    """The schema FastAPI derives from the routes (the server does not publish it)."""
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(Settings(data_dir=Path(scratch)))
        document = app.openapi()
        app.state.ctx.store.close()
    return document


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with one file and one queued job, so valid ids exist too."""
    srv = make_server(tmp_path_factory.mktemp("fuzz"), "--concurrency", "0")
    with api(srv) as c:
        create_job(c, upload(c, toy_jsonl(6)).json()["id"], model="ada")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_dict(openapi_document())


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
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{fuzz_server.port}",
        timeout=30,
        # Request bodies are parsed by hand (to name the bad field OpenAI's way), so the
        # schema does not declare them and "schema-valid" says nothing about a body.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
