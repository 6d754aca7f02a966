"""Retries, Retry-After, timeouts and the error family, against a scripted loopback server.

The fttui server cannot be told to answer 429/503 on cue, so these tests use a tiny
real HTTP server speaking OpenAI's error format; gaps between requests are timed.
"""

from __future__ import annotations

import email.utils
import json
import time

import pytest
from conftest import other_program

from fttui.api import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    Client,
    FineTuningJob,
    InternalServerError,
    RateLimitError,
)

from .helpers import Reply, ScriptedServer, openai_error

JOB = {
    "id": "ftjob-1",
    "object": "fine_tuning.job",
    "created_at": 1,
    "model": "gpt-4o-mini",
    "status": "queued",
    "hyperparameters": {"n_epochs": "auto"},
    "training_file": "file-1",
    "result_files": [],
    "error": {},
    "provider_specific": "tolerated",
}


def fail_then_ok(n_failures: int, status: int, headers: dict[str, str]) -> ScriptedServer:
    def script(n: int, method: str, path: str) -> Reply:
        if n < n_failures:
            return Reply(status, openai_error("slow down", "rate_limit_exceeded"), headers)
        return Reply(200, JOB)

    return ScriptedServer(script)


async def test_429_is_retried_after_retry_after_seconds() -> None:
    with fail_then_ok(2, 429, {"Retry-After": "1"}) as srv:
        async with Client(srv.base_url, max_retries=4) as client:
            job = await client.jobs.retrieve("ftjob-1")
    assert isinstance(job, FineTuningJob) and job.error is None
    assert job.model_extra == {"provider_specific": "tolerated"}
    assert len(srv.requests) == 3
    assert all(0.95 <= gap < 2.5 for gap in srv.gaps()), srv.gaps()


async def test_503_honours_retry_after_as_http_date() -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    with fail_then_ok(1, 503, {"Retry-After": when}) as srv:
        async with Client(srv.base_url) as client:
            await client.jobs.retrieve("ftjob-1")
    assert len(srv.requests) == 2
    # An HTTP date has 1-second resolution: the wait is between 1 and 2 seconds.
    assert 0.9 <= srv.gaps()[0] < 3.0, srv.gaps()


async def test_5xx_without_retry_after_backs_off_exponentially() -> None:
    with fail_then_ok(3, 502, {}) as srv:
        async with Client(srv.base_url, retry_initial_delay=0.2, retry_max_delay=5) as client:
            await client.files.list()
    gaps = srv.gaps()
    assert len(srv.requests) == 4
    # Jittered within [base/2, base] for bases 0.2, 0.4, 0.8 (plus scheduling slack).
    for gap, base in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert base / 2 - 0.02 <= gap <= base + 0.5, gaps


async def test_retry_after_is_capped() -> None:
    with fail_then_ok(1, 429, {"Retry-After": "3600"}) as srv:
        async with Client(srv.base_url, retry_after_cap=0.3) as client:
            await client.files.list()
    assert srv.gaps()[0] < 1.5


async def test_retries_run_out_with_the_servers_message() -> None:
    with fail_then_ok(100, 429, {"Retry-After": "0", "x-request-id": "req_42"}) as srv:
        async with Client(srv.base_url, max_retries=2) as client:
            with pytest.raises(RateLimitError) as info:
                await client.files.list()
    assert len(srv.requests) == 3
    err = info.value
    assert (err.status_code, err.type, err.request_id) == (429, "rate_limit_exceeded", "req_42")
    assert str(err) == "slow down [HTTP 429]"


async def test_job_create_is_not_resent_after_a_5xx() -> None:
    """A create whose body reached the server may have started a (paid) job."""
    with fail_then_ok(1, 503, {"Retry-After": "0"}) as srv:
        async with Client(srv.base_url) as client:
            with pytest.raises(InternalServerError):
                await client.jobs.create(training_file="file-1", model="gpt-4o-mini")
    assert len(srv.requests) == 1


async def test_job_create_is_resent_after_a_429() -> None:
    """A 429 means the server refused without acting, so sending again is safe."""
    with fail_then_ok(1, 429, {"Retry-After": "0"}) as srv:
        async with Client(srv.base_url) as client:
            job = await client.jobs.create(training_file="file-1", model="gpt-4o-mini")
    assert job.id == "ftjob-1" and [r.method for r in srv.requests] == ["POST", "POST"]


async def test_auth_error_carries_openai_fields() -> None:
    def script(n: int, method: str, path: str) -> Reply:
        body = openai_error(
            "Incorrect API key provided: sk-ab***yz.",
            "invalid_request_error",
            code="invalid_api_key",
        )
        return Reply(401, body, {"x-request-id": "req_7"})

    with ScriptedServer(script) as srv:
        async with Client(srv.base_url, api_key="sk-abcdefghijklmnopqrstuvwxyz") as client:
            with pytest.raises(AuthenticationError) as info:
                await client.models.list()
    err = info.value
    assert (err.code, err.type, err.request_id) == (
        "invalid_api_key",
        "invalid_request_error",
        "req_7",
    )
    assert len(srv.requests) == 1  # 4xx other than 429 is never retried
    assert "sk-abcdefghijklmnopqrstuvwxyz" not in str(err)


async def test_usage_is_none_where_the_backend_lacks_it() -> None:
    with ScriptedServer(lambda n, m, p: Reply(404, openai_error("no route", "not_found"))) as srv:
        async with Client(srv.base_url) as client:
            assert await client.usage() is None


async def test_timeout_is_configurable_and_reported() -> None:
    with ScriptedServer(lambda n, m, p: Reply(200, JOB, delay=1.5)) as srv:
        async with Client(srv.base_url, timeout=0.3, max_retries=0) as client:
            start = time.monotonic()
            with pytest.raises(APITimeoutError) as info:
                await client.jobs.retrieve("ftjob-1")
    assert time.monotonic() - start < 1.2
    assert "timed out" in str(info.value)


async def test_unreachable_server_is_a_connection_error() -> None:
    from conftest import free_port

    async with Client(
        f"http://127.0.0.1:{free_port()}/v1", max_retries=1, retry_initial_delay=0.01
    ) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.files.list()
    assert "cannot reach" in str(info.value)


async def test_malformed_response_is_a_readable_error() -> None:
    with ScriptedServer(lambda n, m, p: Reply(200, {"object": "fine_tuning.job"})) as srv:
        async with Client(srv.base_url) as client:
            with pytest.raises(APIError, match="FineTuningJob field 'id': Field required"):
                await client.jobs.retrieve("ftjob-1")


COMPLETION = {
    "id": "cmpl-1",
    "object": "text_completion",
    "created": 1,
    "model": "davinci:ft-acme:reviews-2022-02-15-04-21-04",
    "choices": [
        {
            "text": " positive",
            "index": 0,
            "finish_reason": "length",
            "logprobs": {
                "tokens": [" positive"],
                "token_logprobs": [-0.01],
                "top_logprobs": [{" positive": -0.01, " negative": -4.6}],
                "text_offset": [20],
            },
        }
    ],
    "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
}


async def test_classification_inference_sends_the_seeds_parameters() -> None:
    """As OpenAI's legacy fine-tuning guide says: same separator, max_tokens=1, logprobs=5 for the top classes."""
    with ScriptedServer(lambda n, m, p: Reply(200, COMPLETION)) as srv:
        async with Client(srv.base_url) as client:
            done = await client.completions.create(
                model=COMPLETION["model"], prompt="Great phone\n\n###\n\n", max_tokens=1,
                logprobs=5, stop=["\n"],
            )  # fmt: skip
    sent = json.loads(srv.requests[0].body)
    assert srv.requests[0].path == "/v1/completions"
    assert (sent["max_tokens"], sent["logprobs"], sent["stop"]) == (1, 5, ["\n"])
    assert done.text == " positive"
    top = done.choices[0].logprobs
    assert top is not None and top.top_logprobs == [{" positive": -0.01, " negative": -4.6}]


async def test_chat_completion_text() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                     "finish_reason": "stop"}],
    }  # fmt: skip
    with ScriptedServer(lambda n, m, p: Reply(200, body)) as srv:
        async with Client(srv.base_url) as client:
            done = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hello"}], max_tokens=5
            )
    assert (
        done.text == "hi" and json.loads(srv.requests[0].body)["messages"][0]["content"] == "hello"
    )


async def test_an_html_error_page_is_summarised_not_dumped() -> None:
    """Something that is not an OpenAI-compatible API answers with a web page: the
    error says the status and the page's title, in one short line."""
    with other_program() as port:
        async with Client(f"http://127.0.0.1:{port}/v1", max_retries=1) as client:
            with pytest.raises(APIError) as info:
                await client.jobs.list()
    text = str(info.value)
    assert text == "Error response [HTTP 404]", text
    assert len(text) < 100
