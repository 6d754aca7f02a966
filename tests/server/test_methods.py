"""A wrong method gets a 405 whose `Allow` header lists exactly what the path serves."""

from __future__ import annotations

import httpx
import pytest
from conftest import ServerProcess

from .helpers import assert_openai_error, client

CASES = [
    ("PUT", "/fine-tunes/ft-x", {"GET", "DELETE"}),
    ("PATCH", "/files", {"GET", "POST"}),
    ("GET", "/fine-tunes/ft-x/cancel", {"POST"}),
    ("DELETE", "/fine_tuning/jobs/ftjob-x", {"GET"}),
    ("POST", "/models/some-model", {"GET", "DELETE"}),
    ("GET", "/chat/completions", {"POST"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), CASES)
def test_405_lists_every_allowed_method(
    queued_server: ServerProcess, method: str, path: str, allowed: set[str]
) -> None:
    with client(queued_server) as api:
        resp = api.request(method, path)
    assert_openai_error(resp, 405, contains=f"Method {method} is not allowed")
    listed = {m.strip() for m in resp.headers["allow"].split(",") if m.strip()}
    assert listed - {"HEAD"} == allowed, resp.headers["allow"]


def test_unknown_path_is_404_not_405(queued_server: ServerProcess) -> None:
    resp = httpx.delete(f"{queued_server.base_url}/no-such-thing", timeout=10)
    assert_openai_error(resp, 404)
