"""The local server refuses a bad job as OpenAI does, so SDK code catches the same class.

OpenAI answers an unknown training or validation file and an unknown model on job
create with a 400 `invalid_request_error` naming the param: `openai.BadRequestError`
(a 404 would be `NotFoundError`, which such code does not catch).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import openai
import pytest
from conftest import ServerProcess

from fttui.server.trainer_service import control
from fttui.store.db import Store

LINES = b"".join(
    b'{"prompt": "q%d\\n\\n###\\n\\n", "completion": " a%d END"}\n' % (i, i) for i in range(12)
)


@pytest.fixture(scope="module")
def sdk(queued_server: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=queued_server.base_url, api_key="local", max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def train_id(sdk: openai.OpenAI) -> str:
    return sdk.files.create(file=("t.jsonl", io.BytesIO(LINES)), purpose="fine-tune").id


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"training_file": "file-nope"}, "training_file"),
        ({"validation_file": "file-nope"}, "validation_file"),
        ({"model": "gpt-9"}, "model"),
    ],
)
def test_a_bad_create_is_a_bad_request_naming_the_param(
    sdk: openai.OpenAI, train_id: str, fields: dict[str, str], param: str
) -> None:
    body = {"model": "davinci", "training_file": train_id, **fields}
    with pytest.raises(openai.BadRequestError) as info:
        sdk.fine_tuning.jobs.create(**body)  # type: ignore[arg-type]
    assert info.value.status_code == 400 and info.value.param == param
    assert info.value.type == "invalid_request_error"


def test_not_found_codes_are_spelled_one_way(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        sdk.fine_tuning.jobs.retrieve("ftjob-nope")
    assert info.value.code == "fine_tuning_job_not_found"


def test_resume_right_after_pause_is_accepted(
    sdk: openai.OpenAI, train_id: str, queued_server: ServerProcess
) -> None:
    """A job whose status says paused resumes, also while its trainer is still saving
    the checkpoint (never a 409): it is queued, and that trainer is told to finish its
    pause, so the next one starts from the checkpoint it saves."""
    job = sdk.fine_tuning.jobs.create(model="davinci", training_file=train_id)
    deadline = time.monotonic() + 30
    while sdk.fine_tuning.jobs.retrieve(job.id).status != "queued":  # files validated
        assert time.monotonic() < deadline, "the job never got queued"
        time.sleep(0.05)
    # The moment after a pause: status paused, the trainer still saving (a real
    # trainer takes seconds to get here; the store is the server's own database).
    store = Store(queued_server.data_dir)
    assert store.transition(job.id, ["queued"], "paused", pause_requested=1)
    resumed = sdk.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "queued"
    row = store.get_job(job.id)
    assert row is not None and row["pause_requested"] == 1
    assert control(row) == {"action": "pause", "status": "paused"}
    events = [e.message for e in sdk.fine_tuning.jobs.list_events(job.id)]
    assert any("checkpoint its trainer is saving now" in m for m in events), events
