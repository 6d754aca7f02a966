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

from tests.openai_fixture_server import EXAMPLES_PATH, GRADER_SCHEMAS


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
