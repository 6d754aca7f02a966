"""gpt-oss function calling end to end: the tiny gpt-oss model (harmony format, real
o200k_harmony vocabulary) fine-tuned until it emits a call answers a `tools` request
with `tool_calls` the `openai` SDK reads, and its channels never reach `content`.

Memorising a call with a 200k-token vocabulary takes minutes on 2 busy cores: `long`.
CI covers the same path by parts (test_gptoss: the trained span of a call is harmony's
own rendering, and the parser reads harmony's rendering of a call back as that call;
test_family_jobs: full and LoRA jobs on gpt-oss through the server)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from conftest import ServerProcess, free_port

from tests.train.conftest import create_job, upload, wait_for

from .conftest import family_model

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
ASK = [{"role": "user", "content": "cat weather"}]
CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "red"}'},
        }
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("gptoss-tools")
    models = [{"id": "oss", "source": str(family_model("gptoss")), "base_learning_rate": 0.05}]
    (data_dir / "models.json").write_text(json.dumps({"models": models}))
    srv = ServerProcess(data_dir=data_dir, port=free_port(), env={"HF_HUB_OFFLINE": "1"})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.long
def test_a_tuned_gpt_oss_answers_tools_with_a_call_the_sdk_reads(server: ServerProcess) -> None:
    row = {"messages": [*ASK, CALL], "tools": [WEATHER]}
    file_id = upload(server, "calls.jsonl", [json.dumps(row)] * 12)
    job = create_job(
        server,
        model="oss",
        training_file=file_id,
        hyperparameters={"n_epochs": 20, "batch_size": 4},
        seed=3,
    )
    job = wait_for(server, job["id"], {"succeeded", "failed", "cancelled"}, timeout=1200)
    assert job["status"] == "succeeded", job["error"]
    with openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0) as sdk:
        answer = sdk.chat.completions.create(
            model=str(job["fine_tuned_model"]),
            messages=ASK,  # type: ignore[arg-type]
            tools=[WEATHER],  # type: ignore[list-item]
            temperature=0,
            max_tokens=40,
        )
    choice = answer.choices[0]
    calls = [
        (c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls or []
    ]  # type: ignore[union-attr]
    assert calls == [("get_weather", {"city": "red"})], choice.message
    assert choice.finish_reason == "tool_calls"
    assert not choice.message.content
