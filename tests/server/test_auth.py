"""Auth: loopback needs no key; with a key every request needs it; off loopback a key is required."""

from __future__ import annotations

import subprocess
import sys

import httpx
import openai
import pytest
from conftest import ServerProcess

from .conftest import StartServer
from .helpers import assert_openai_error, client

KEY = "sk-test-0123456789"


@pytest.fixture(scope="module")
def keyed(start_server: StartServer) -> ServerProcess:
    return start_server("--concurrency", "0", env={"FTTUI_API_KEY": KEY})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": KEY},
        {"Authorization": f"Basic {KEY}"},
    ],
    ids=["none", "wrong key", "no scheme", "basic"],
)
def test_requests_without_the_key_get_401(keyed: ServerProcess, headers: dict[str, str]) -> None:
    with client(keyed, headers=headers) as api:
        for resp in (
            api.get("/files"),
            api.post("/fine_tuning/jobs", json={}),
            api.get("/fttui/usage"),
        ):
            err = assert_openai_error(resp, 401)
            assert err["code"] == "invalid_api_key"
            assert KEY not in resp.text


def test_the_key_opens_the_api(keyed: ServerProcess) -> None:
    sdk = openai.OpenAI(base_url=keyed.base_url, api_key=KEY, max_retries=0)
    assert sdk.files.list().data == []
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=keyed.base_url, api_key="nope", max_retries=0).models.list()
    assert KEY not in keyed.log()  # the key is never logged


def test_loopback_needs_no_key(queued_server: ServerProcess) -> None:
    assert httpx.get(f"{queued_server.base_url}/files").status_code == 200


def test_non_loopback_bind_without_key_refuses_to_start(tmp_path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k != "FTTUI_API_KEY"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fttui",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "8",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "without an API key" in proc.stderr and "--api-key" in proc.stderr
    assert "Traceback" not in proc.stderr
