"""Function calling end to end: a tiny model fine-tuned until it emits a call (it
memorises one) answers a `tools` request with `tool_calls` that the `openai` SDK reads,
streamed and not; `tool_choice` and `parallel_tool_calls` steer it; a model whose chat
template has no tools gets a 400 naming `tools`.

Memorising the call takes ~4 min on 2 busy cores, so those tests are behind `long`;
CI runs the parser on calls as the templates write them (test_output_parser) and the
trained span of a call (test_show_trained).

The tiny model's template writes tools and calls as Qwen2.5 / Qwen3 do (hermes-style
`<tool_call>` blocks), so its calls are read by the Qwen parser; its small vocabulary
lets it memorise in seconds what a real-vocabulary model needs minutes for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import ServerProcess, free_port

from tests.train.conftest import create_job, upload, wait_for

from .conftest import family_model

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
ASK = [{"role": "user", "content": "cat weather"}]
CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "red"}'},
        },
    ],
}


@pytest.fixture(scope="module")
def tools_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("tools-served")
    models = [{"id": "tiny", "source": str(tiny_model_dir), "base_learning_rate": 0.05}]
    (data_dir / "models.json").write_text(json.dumps({"models": models}))
    srv = ServerProcess(data_dir=data_dir, port=free_port(), env={"HF_HUB_OFFLINE": "1"})
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def tuned(tools_server: ServerProcess) -> str:
    row = {"messages": [*ASK, CALL], "tools": [WEATHER, TIME]}
    file_id = upload(tools_server, "calls.jsonl", [json.dumps(row)] * 12)
    job = create_job(
        tools_server,
        model="tiny",
        training_file=file_id,
        hyperparameters={"n_epochs": 30, "batch_size": 2},
        seed=3,
    )
    job = wait_for(tools_server, job["id"], {"succeeded", "failed", "cancelled"}, timeout=900)
    assert job["status"] == "succeeded", job["error"]
    return str(job["fine_tuned_model"])


@pytest.fixture
def sdk(tools_server: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=tools_server.base_url, api_key="local", max_retries=0) as client:
        yield client


def ask(sdk: openai.OpenAI, model: str, **extra: Any) -> Any:
    return sdk.chat.completions.create(
        model=model,
        messages=ASK,  # type: ignore[arg-type]
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        temperature=0,
        max_tokens=80,
        **extra,
    )


def calls(message: Any) -> list[tuple[str, Any]]:
    return [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]


@pytest.mark.long
def test_a_tuned_model_answers_tools_with_tool_calls_the_sdk_reads(
    sdk: openai.OpenAI, tuned: str
) -> None:
    answer = ask(sdk, tuned)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls", choice.message
    assert calls(choice.message) == [("get_weather", {"city": "red"})]
    assert choice.message.content is None
    assert all(c.id.startswith("call_") and c.type == "function" for c in choice.message.tool_calls)
    # Streamed: the SDK's own accumulation of the deltas reads the same calls.
    with sdk.chat.completions.stream(
        model=tuned,
        messages=ASK,  # type: ignore[arg-type]
        tools=[WEATHER, TIME],  # type: ignore[list-item]
        temperature=0,
        max_tokens=80,
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].finish_reason == "tool_calls"
    assert calls(final.choices[0].message) == calls(choice.message)


@pytest.mark.long
def test_tool_choice_and_parallel_tool_calls_steer_the_calls(
    sdk: openai.OpenAI, tuned: str
) -> None:
    one = ask(sdk, tuned, parallel_tool_calls=False).choices[0]
    assert calls(one.message) == [("get_weather", {"city": "red"})]
    assert one.finish_reason == "tool_calls"
    # "required" and a named function: the call is started for the model (its opening
    # put in its mouth), and read back as a call.
    for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
        forced = ask(sdk, tuned, tool_choice=choice).choices[0]
        assert calls(forced.message) == [("get_weather", {"city": "red"})], choice
        assert forced.finish_reason == "tool_calls"
    # "none": the tools are not offered, so no call is read back.
    none = ask(sdk, tuned, tool_choice="none").choices[0]
    assert none.message.tool_calls is None and none.finish_reason != "tool_calls"


def test_a_template_without_tools_is_a_400_naming_tools(tmp_path: Path) -> None:
    llama = family_model("llama3")  # Llama 3.1's base template renders no tools
    (tmp_path / "models.json").write_text(
        json.dumps({"models": [{"id": "tiny-llama3", "source": str(llama)}]})
    )
    srv = ServerProcess(data_dir=tmp_path, port=free_port(), env={"HF_HUB_OFFLINE": "1"})
    srv.start()
    try:
        with openai.OpenAI(base_url=srv.base_url, api_key="local", max_retries=0) as sdk:
            with pytest.raises(openai.BadRequestError) as caught:
                ask(sdk, "tiny-llama3")
            assert caught.value.param == "tools"  # type: ignore[attr-defined]
            assert "does not render tools" in caught.value.message
            with pytest.raises(openai.BadRequestError) as caught:
                sdk.chat.completions.create(  # type: ignore[call-overload]
                    model="tiny-llama3",
                    messages=ASK,
                    reasoning_effort="high",
                    max_tokens=2,
                )
            assert caught.value.param == "reasoning_effort"  # type: ignore[attr-defined]
    finally:
        srv.stop()
