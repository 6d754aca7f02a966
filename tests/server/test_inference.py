"""`/v1/completions` and `/v1/chat/completions` as the official `openai` SDK uses them.

A real server with the tests' tiny model (random weights: what it says is noise, but
noise that greedy decoding and a seed make repeatable) registered as a base model.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
from conftest import ServerProcess, free_port, register_tiny_model

from .conftest import CHAT, MODEL, PROMPT


def test_streamed_text_equals_the_whole_answer_at_temperature_0(sdk: openai.OpenAI) -> None:
    whole = sdk.completions.create(model=MODEL, prompt=PROMPT, max_tokens=24, temperature=0)
    text = whole.choices[0].text
    assert len(text) > 4
    # a stop sequence from the middle of the answer: the stream must hold back text that
    # may start it, and cut exactly where the whole answer is cut
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    for kwargs in ({}, {"stop": [stop]}, {"logprobs": 2}):
        plain = sdk.completions.create(
            model=MODEL, prompt=PROMPT, max_tokens=24, temperature=0, **kwargs
        )
        chunks = list(
            sdk.completions.create(
                model=MODEL, prompt=PROMPT, max_tokens=24, temperature=0, stream=True, **kwargs
            )
        )
        streamed = "".join(c.choices[0].text for c in chunks if c.choices)
        assert streamed == plain.choices[0].text, kwargs
        assert chunks[-1].choices[0].finish_reason == plain.choices[0].finish_reason
        if "stop" in kwargs:
            assert plain.choices[0].text == text[: text.index(stop)]
            assert plain.choices[0].finish_reason == "stop"
        if "logprobs" in kwargs:
            tokens = [
                t
                for c in chunks
                if c.choices and c.choices[0].logprobs
                for t in c.choices[0].logprobs.tokens
            ]  # type: ignore[union-attr]
            assert tokens == plain.choices[0].logprobs.tokens  # type: ignore[union-attr]

    chat = sdk.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=20, temperature=0)  # type: ignore[arg-type]
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=CHAT,  # type: ignore[arg-type]
        max_tokens=20,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == chat.choices[0].message.content
    assert chat.choices[0].message.refusal is None and chat.choices[0].message.role == "assistant"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == chat.usage.completion_tokens  # type: ignore[union-attr]
    assert chunks[-2].choices[0].finish_reason == chat.choices[0].finish_reason


def test_n_returns_that_many_choices(sdk: openai.OpenAI) -> None:
    done = sdk.completions.create(model=MODEL, prompt=PROMPT, max_tokens=5, n=3, seed=1)
    assert [c.index for c in done.choices] == [0, 1, 2]
    two = sdk.completions.create(model=MODEL, prompt=[PROMPT, "dog"], max_tokens=3, n=2)
    assert [c.index for c in two.choices] == [0, 1, 2, 3]
    chat = sdk.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=5, n=3)  # type: ignore[arg-type]
    assert [c.index for c in chat.choices] == [0, 1, 2]
    assert chat.usage is not None and chat.usage.completion_tokens <= 15
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=CHAT,
        max_tokens=4,
        n=3,
        stream=True,  # type: ignore[arg-type]
    )
    finished = {c.choices[0].index for c in stream if c.choices and c.choices[0].finish_reason}
    assert finished == {0, 1, 2}


def test_seed_makes_sampling_reproducible(sdk: openai.OpenAI) -> None:
    def sample(seed: int) -> list[str]:
        out = sdk.completions.create(
            model=MODEL, prompt=PROMPT, max_tokens=16, temperature=1.0, n=2, seed=seed
        )
        return [c.text for c in out.choices]

    first = sample(1234)
    assert sample(1234) == first  # same seed, same text, choice by choice
    assert first[0] != first[1]  # each choice draws its own numbers
    assert sample(99) != first
    streamed = sdk.completions.create(
        model=MODEL, prompt=PROMPT, max_tokens=16, temperature=1.0, n=2, seed=1234, stream=True
    )
    texts = ["", ""]
    for chunk in streamed:
        for choice in chunk.choices:
            texts[choice.index] += choice.text
    assert texts == first
    top_p = sdk.completions.create(
        model=MODEL, prompt=PROMPT, max_tokens=8, temperature=1.0, top_p=0.0, seed=5
    )
    greedy = sdk.completions.create(model=MODEL, prompt=PROMPT, max_tokens=8, temperature=0)
    assert top_p.choices[0].text == greedy.choices[0].text  # top_p 0 keeps only the best token


def test_echo_logprobs_and_token_limits(sdk: openai.OpenAI) -> None:
    echoed = sdk.completions.create(
        model=MODEL, prompt=PROMPT, max_tokens=4, temperature=0, echo=True, logprobs=3
    )
    plain = sdk.completions.create(model=MODEL, prompt=PROMPT, max_tokens=4, temperature=0)
    choice = echoed.choices[0]
    assert choice.text == PROMPT + plain.choices[0].text
    lp = choice.logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.text_offset
    assert "".join(lp.tokens) == choice.text
    assert lp.token_logprobs[0] is None and all(v <= 0 for v in lp.token_logprobs[1:])
    assert lp.text_offset[0] == 0 and lp.text_offset == sorted(lp.text_offset)
    scored = sdk.completions.create(model=MODEL, prompt=PROMPT, max_tokens=0, echo=True, logprobs=0)
    assert scored.choices[0].text == PROMPT and scored.usage.completion_tokens == 0  # type: ignore[union-attr]

    chat = sdk.chat.completions.create(
        model=MODEL,
        messages=CHAT,  # type: ignore[arg-type]
        max_completion_tokens=6,
        temperature=0,
        logprobs=True,
        top_logprobs=4,
    )
    content = chat.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content and chat.usage is not None and chat.usage.completion_tokens <= 6
    assert "".join(t.token for t in content) == chat.choices[0].message.content
    assert all(len(t.top_logprobs) == 4 and t.bytes == list(t.token.encode()) for t in content)
    assert chat.choices[0].logprobs.refusal is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("endpoint", "extra", "param"),
    [
        ("completions", {"suffix": "tail"}, "suffix"),
        ("completions", {"best_of": 2, "stream": True}, "best_of"),
        ("completions", {"frequency_penaltyy": 1}, "frequency_penaltyy"),
        ("completions", {"logprobs": 6}, "logprobs"),
        ("completions", {"n": 9}, "n"),
        ("chat", {"tools": [{"type": "code_interpreter"}]}, "tools[0].type"),
        ("chat", {"response_format": {"type": "json_object"}}, "response_format"),
        ("chat", {"reasoning_effort": "low"}, "reasoning_effort"),
        ("chat", {"top_logprobs": 3}, "top_logprobs"),
        ("chat", {"store": True}, "store"),
        ("chat", {"stream_options": {"include_usage": True}}, "stream_options"),
        ("chat", {"temperature": 2.5}, "temperature"),
        ("chat", {"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            "chat",
            {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content[0]",
        ),
    ],
)
def test_what_is_not_supported_is_a_400_naming_it(
    sdk: openai.OpenAI, endpoint: str, extra: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        if endpoint == "completions":
            sdk.completions.create(model=MODEL, prompt=PROMPT, max_tokens=2, extra_body=extra)
        else:
            body = {"messages": CHAT, **extra}
            sdk.chat.completions.create(model=MODEL, max_tokens=2, extra_body=body, messages=[])
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == param, error
    assert param.split("[")[0] in error["message"] and "Traceback" not in error["message"]


def test_too_long_for_the_context_window_is_a_400(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.completions.create(model=MODEL, prompt=PROMPT, max_tokens=4000)
    assert caught.value.code == "context_length_exceeded"
    # the tiny model's window (max_position_embeddings) is 512 tokens
    assert "maximum context length is 512 tokens" in caught.value.message
    assert "you requested 4018 tokens" in caught.value.message
    assert caught.value.param == "max_tokens"
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.completions.create(model=MODEL, prompt=PROMPT * 40, max_tokens=1)
    assert caught.value.param == "prompt" and "shorten the prompt" in caught.value.message


@pytest.mark.alone  # a list request under 1 s while generating: no other test beside it
def test_generation_never_blocks_the_server_and_a_dropped_stream_stops(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """While the first request imports the engine, loads the model and generates 200
    tokens, other requests answer at once; a client that closes its stream frees the
    engine for the next one within a token or two."""
    register_tiny_model(tmp_path, tiny_model_dir, MODEL)
    tiny = ServerProcess(data_dir=tmp_path, port=free_port(), extra_args=("--concurrency", "0"))
    tiny.start()
    try:
        with openai.OpenAI(base_url=tiny.base_url, api_key="local", max_retries=0) as sdk:
            _never_blocks(tiny, sdk)
    finally:
        tiny.stop()


def _never_blocks(tiny: ServerProcess, sdk: openai.OpenAI) -> None:
    body = {"model": MODEL, "prompt": PROMPT, "max_tokens": 200, "temperature": 0}
    started = threading.Event()

    def generate() -> None:
        started.set()
        httpx.post(f"{tiny.base_url}/completions", json=body, timeout=120)

    worker = threading.Thread(target=generate)
    worker.start()
    started.wait()
    time.sleep(0.3)
    slowest = 0.0
    with httpx.Client(base_url=tiny.base_url, timeout=30) as api:
        while worker.is_alive():
            t0 = time.perf_counter()
            assert api.get("/fine_tuning/jobs").status_code == 200
            slowest = max(slowest, time.perf_counter() - t0)
            time.sleep(0.05)
    worker.join()
    t0 = time.perf_counter()
    httpx.post(f"{tiny.base_url}/completions", json=body, timeout=120)
    per_200 = time.perf_counter() - t0  # what 200 tokens take here, model loaded
    # torch's import alone takes seconds: on the event loop it stalled every request
    assert slowest < 1.0, f"a list request took {slowest:.2f} s while generating"

    with httpx.stream(
        "POST", f"{tiny.base_url}/completions", json={**body, "stream": True, "max_tokens": 480, "n": 8},
        timeout=60,
    ) as resp:  # fmt: skip
        for line in resp.iter_lines():
            if line.startswith("data: {"):
                break  # one chunk, then the client goes away
    t0 = time.perf_counter()
    quick = sdk.completions.create(model=MODEL, prompt=PROMPT, max_tokens=1)
    assert quick.choices[0].finish_reason in ("length", "stop")
    waited = time.perf_counter() - t0
    # had the abandoned stream run on, its choice of 480 tokens would hold the engine
    # ~2.4x per_200 (the engine is free between choices)
    assert waited < per_200, f"waited {waited:.2f} s ({per_200:.2f} s per 200 tokens)"
    assert "stream's client went away; its generation stopped" in tiny.log()
