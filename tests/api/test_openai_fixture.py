"""The OpenAI test double (tests/openai_fixture_server.py) is OpenAI's published wire format.

Its examples are OpenAI's own (`tests/openai_examples.json`, from openai/openai-openapi,
commit and date in its `source`); these tests pin what makes it useful: the examples
that break OpenAI's own schema are served as published, every status and method is
in the account, errors have OpenAI's shape (so the official SDK raises its own
exception classes), and nothing of the local fttui server is there.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from server.openai_spec import _validator  # tests/server/openai_spec.py

from fttui.api import Client
from tests.openai_fixture_server import EXAMPLES_PATH, GRADER_SCHEMAS

from .helpers import Reply, ScriptedServer


def _spec_errors(kind: str, obj: object) -> list[str]:
    return [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in _validator(kind).iter_errors(obj)
    ]


def test_examples_are_dated_and_name_their_source() -> None:
    source = json.loads(EXAMPLES_PATH.read_text())["source"]
    assert source["repository"] == "https://github.com/openai/openai-openapi"
    assert len(source["commit"]) == 40 and source["date"] == "2026-08-21"


def test_the_off_spec_examples_are_served_as_published(openai_fixture) -> None:
    http = httpx.Client(base_url=openai_fixture.base_url)
    jobs = http.get("/fine_tuning/jobs", params={"limit": 100}).json()["data"]
    by_id = {j["id"]: j for j in jobs}
    # OpenAI's DPO example: hyperparameters null, which its own schema forbids.
    assert by_id["ftjob-dpo"]["hyperparameters"] is None
    assert any("hyperparameters" in e for e in _spec_errors("FineTuningJob", by_id["ftjob-dpo"]))
    # The reinforcement example: "error": {} (the schema requires code/message/param).
    assert by_id["ftjob-rft"]["error"] == {}
    assert _spec_errors("FineTuningJob", by_id["ftjob-rft"])
    events = http.get("/fine_tuning/jobs/ftjob-succeeded/events").json()["data"]
    assert any(e["data"] is None for e in events)
    assert _spec_errors("FineTuningJobEvent", events[0])
    files = http.get("/files").json()["data"]
    assert files and all("status" not in f for f in files)
    assert _spec_errors("OpenAIFile", files[0])


def test_the_account_has_every_status_and_method_and_grader(openai_fixture) -> None:
    jobs = httpx.get(f"{openai_fixture.base_url}/fine_tuning/jobs?limit=100").json()["data"]
    statuses = {j["status"] for j in jobs}
    assert statuses >= {"validating_files", "queued", "running", "succeeded", "failed",
                        "cancelled", "paused"}  # fmt: skip
    methods = {(j.get("method") or {}).get("type") for j in jobs}
    assert methods >= {"supervised", "dpo", "reinforcement"}
    graders = {
        j["method"]["reinforcement"]["grader"]["type"]
        for j in jobs
        if (j.get("method") or {}).get("type") == "reinforcement"
    }
    assert graders == set(GRADER_SCHEMAS)


def test_errors_have_openais_shape_and_the_sdk_classes(openai_fixture) -> None:
    sdk = openai.OpenAI(base_url=openai_fixture.base_url, api_key="sk-fixture", max_retries=0)
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-nope")
    assert bad.value.param == "training_file"
    with pytest.raises(openai.BadRequestError) as bad_model:
        sdk.fine_tuning.jobs.create(model="no-such-model", training_file="file-abc")
    assert bad_model.value.param == "model"
    openai_fixture.account.refuse_training = True
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-abc")
    assert refused.value.code == "training_not_available"
    with pytest.raises(openai.NotFoundError):
        sdk.fine_tuning.jobs.retrieve("ftjob-nope")
    # The chat/completions split is OpenAI's: a chat model is refused on /completions.
    with pytest.raises(openai.NotFoundError, match="chat model"):
        sdk.completions.create(model="gpt-4o-mini", prompt="hi")
    done = sdk.completions.create(model="davinci-002", prompt="hi")
    assert done.choices[0].text
    # An array of prompts is answered per prompt (n choices each), as OpenAI does.
    many = sdk.completions.create(model="davinci-002", prompt=["a", "b", "c"], n=2)
    assert [c.index for c in many.choices] == list(range(6))
    assert many.usage is not None and many.usage.prompt_tokens == 3 * done.usage.prompt_tokens


def test_no_route_of_the_local_server(openai_fixture) -> None:
    for path in ("/fttui/usage", "/fttui/health", "/fttui/info"):
        answer = httpx.get(openai_fixture.base_url + path)
        assert answer.status_code == 404
        assert answer.json()["error"]["message"].startswith("Invalid URL")


def test_the_sdk_reads_the_whole_account(openai_fixture) -> None:
    sdk = openai.OpenAI(base_url=openai_fixture.base_url, api_key="sk-fixture", max_retries=0)
    ids = [j.id for j in sdk.fine_tuning.jobs.list(limit=7)]  # pages via `after`
    assert ids == [j["id"] for j in openai_fixture.account.jobs]
    job = sdk.fine_tuning.jobs.create(
        model="o4-mini",
        training_file="file-abc",
        method={"type": "reinforcement", "reinforcement": {"grader": {"type": "string_check"}}},
    )
    assert job.status == "validating_files" and job.id in [
        j["id"] for j in openai_fixture.account.jobs
    ]


# -- fttui.api reads all of it -------------------------------------------------------
async def test_client_reads_every_published_shape(openai_fixture) -> None:
    acct = openai_fixture.account
    async with Client(openai_fixture.base_url, api_key="sk-fixture", max_retries=0) as client:
        jobs = [j async for j in client.jobs.iter(page_size=7)]
        assert [j.id for j in jobs] == [j["id"] for j in acct.jobs]
        assert all(j.unreadable is None for j in jobs), [j.unreadable for j in jobs]
        dpo = next(j for j in jobs if j.id == "ftjob-dpo")
        assert dpo.hyperparameters is None and dpo.method["dpo"]["hyperparameters"]["beta"] == 0.1
        rft = next(j for j in jobs if j.id == "ftjob-rft")
        assert rft.error is None and rft.method["reinforcement"]["grader"]["type"] == "string_check"
        failed = next(j for j in jobs if j.id == "ftjob-failed")
        assert failed.error is not None and failed.error.param == "training_file"
        for job in jobs:
            events = (await client.jobs.events(job.id, limit=100)).data
            assert [e.id for e in events] == [e["id"] for e in acct.events[job.id]]
            assert all(e.unreadable is None for e in events)
        ckpts = (await client.jobs.checkpoints("ftjob-succeeded", limit=100)).data
        assert ckpts[0].metrics.full_valid_loss == 0.134
        files = [f async for f in client.files.iter()]
        assert [f.id for f in files] == [f["id"] for f in acct.files]
        assert all(f.status is None and f.expires_at for f in files)
        assert {m.id for m in await client.models.list()} == {m["id"] for m in acct.models}


async def test_a_2xx_answer_to_an_action_is_success_whatever_it_lacks(openai_fixture) -> None:
    async with Client(openai_fixture.base_url, api_key="sk-fixture", max_retries=0) as client:
        created = await client.jobs.create(
            training_file="file-abc", model="gpt-4o-mini", method={"type": "dpo", "dpo": {}}
        )
        # OpenAI's DPO create example answers with hyperparameters null.
        assert created.id.startswith("ftjob-") and created.hyperparameters is None
        paused = await client.jobs.pause("ftjob-running")
        assert paused.status == "paused" and paused.unreadable is None
        resumed = await client.jobs.resume("ftjob-running")
        assert resumed.status == "queued"
        cancelled = await client.jobs.cancel("ftjob-running")
        assert cancelled.status == "cancelled"


async def test_one_item_that_does_not_fit_never_empties_the_list() -> None:
    page = {
        "object": "list",
        "has_more": False,
        "data": [
            {"id": "ftjob-1", "status": "running", "model": "m"},
            {"id": "ftjob-2", "status": "queued", "created_at": "yesterday", "trained_tokens": []},
            "not a job",
            {"status": "succeeded", "model": "m"},
            {"id": "ftjob-5", "status": "brand_new_status", "method": {"type": "new_method"}},
        ],
    }
    with ScriptedServer(lambda n, m, p: Reply(200, page)) as srv:
        async with Client(srv.base_url, max_retries=0) as client:
            jobs = (await client.jobs.list()).data
    assert [j.id for j in jobs][:2] == ["ftjob-1", "ftjob-2"] and len(jobs) == 5
    assert jobs[0].unreadable is None
    assert jobs[1].status == "queued" and "created_at" in (jobs[1].unreadable or "")
    assert "trained_tokens" in (jobs[1].unreadable or "")
    assert "not an object" in (jobs[2].unreadable or "")
    assert jobs[3].status == "succeeded" and "id" in (jobs[3].unreadable or "")
    # Statuses and methods fttui does not know are shown as they come.
    assert jobs[4].status == "brand_new_status" and jobs[4].unreadable is None


async def test_an_empty_2xx_to_create_is_a_created_job() -> None:
    with ScriptedServer(lambda n, m, p: Reply(200, {"object": "fine_tuning.job"})) as srv:
        async with Client(srv.base_url, max_retries=0) as client:
            job = await client.jobs.create(training_file="file-1", model="m")
            cancelled = await client.jobs.cancel("ftjob-9")
    assert job.id == "" and job.unreadable
    assert cancelled.id == "ftjob-9"


async def test_the_backend_is_decided_once_per_connection(openai_fixture, client) -> None:
    """fttui's server says so at its own route; OpenAI's double answers 404 there, once."""
    assert await client.detect() == "local" and client.is_local
    assert (await client.usage()) is not None
    async with Client(openai_fixture.base_url, api_key="sk-fixture", max_retries=0) as other:
        assert other.kind == "local"  # a loopback URL, before asking
        for _ in range(3):
            assert await other.usage() is None
            assert await other.detect() == "compatible"
        assert not other.is_local
    assert openai_fixture.account.fttui_requests() == [("GET", "/v1/fttui/health")]
